"""build -> provision -> deploy -> profile on rpi4-emu: cross-compiled aarch64 code runs and matches."""

import json
import time

from edgebuild.flows import jobs
from edgebuild.lab import provision
from edgebuild.lab.agent_run import AgentOptions

FIELDS = {"device", "target", "model", "recipe", "bundle_sha256", "emulated", "machine", "cpu_model", "python",
          "runtime", "latency_ms", "load_ms", "peak_rss_bytes", "parity_max_abs_diff", "clocks", "time"}


def test_second_provision_sends_nothing(lab):
    done = provision.provision(lab.project, "rpi4-emu", say=lambda s: None)
    assert done.sent_bytes == 0 and done.machine == "aarch64"


def test_profile_on_emulated_pi(lab):
    began = time.monotonic()
    (outcome,) = jobs.profile_on(lab.project, "rpi4-emu", jobs.Artifact(bundle=lab.bundle.folder),
                                 AgentOptions(runs=20, min_seconds=0.2, warmup=2, timeout=120), say=lambda s: None)
    took = time.monotonic() - began
    assert outcome.ok, outcome.error
    r = outcome.result
    assert FIELDS <= set(r)
    assert r["emulated"] is True and r["machine"] == "aarch64" and r["target"] == "rpi4"
    assert r["bundle_sha256"] == lab.bundle.sha256
    assert r["parity_max_abs_diff"] <= r["parity_tolerance"]
    assert r["latency_ms"]["runs"] >= 20 and 0 < r["latency_ms"]["p50"] <= r["latency_ms"]["max"]
    assert "p99" not in r["latency_ms"] and "662" in r["latency_ms"]["omitted"]["p99"]  # 20 runs: no p90/p99
    assert r["valid"] in (True, None) and r["clocks"]["state"] in ("steady", "unknown")
    assert r["peak_rss_bytes"] > 10 * 2**20 and r["runtime"]["tvm"].startswith("0.27")
    assert json.loads(outcome.stored.read_text()) == r
    print(f"\nprofile on rpi4-emu: {took:.1f} s (agent {r['agent_seconds']:.1f} s, TVM+numpy import "
          f"{r['import_ms'] / 1000:.1f} s under qemu); fixture: {lab.timings}")


def test_deploy_is_idempotent(lab):
    (first,) = jobs.deploy_to(lab.project, "rpi4-emu", jobs.Artifact(bundle=lab.bundle.folder), say=lambda s: None)
    (again,) = jobs.deploy_to(lab.project, "emulated", jobs.Artifact(bundle=lab.bundle.folder), say=lambda s: None)
    assert first.ok and again.ok and again.deployed.sent_bytes == 0
