"""`invoke profile --baseline=onnxruntime` on rpi4-emu: ONNX Runtime's own aarch64 wheel beside TVM (issue 11 part 3)."""

import json
import subprocess
import sys

from edgebuild.lab import runtime

from .conftest import ROOT


def test_profile_with_the_onnxruntime_baseline_prints_both_and_the_ratio_marked_emulated(lab):
    argv = [sys.executable, "-m", "invoke", "profile", "--device=rpi4-emu", f"--bundle={lab.bundle.folder}",
            "--baseline=onnxruntime", "--runs=64", "--min-seconds=0.2", "--warmup=2", "--timeout=600"]
    done = subprocess.run(argv, cwd=ROOT, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr[-2000:]
    out = done.stdout
    assert "onnxruntime 1." in out and "tvm / onnxruntime p50 ratio" in out and "emulated: ratios of emulation" in out
    stored = json.loads(out.split("stored ")[-1].strip().splitlines()[0] and
                        open(out.split("stored ")[-1].strip().splitlines()[0]).read())
    base = stored["baseline"]
    assert base["engine"] == "onnxruntime" and base["ok"] and base["emulated"] is True
    assert base["latency_ms"]["runs"] >= 64 and base["rounds"] >= 8 and base["threads"] >= 1
    assert abs(base["ratio"] - stored["latency_ms"]["p50"] / base["latency_ms"]["p50"]) < 1e-9
    assert base["parity_max_abs_diff"] <= base["parity_tolerance"]
    # both engines' model memory, each above its own process's resident set after its imports
    assert stored["model_rss_bytes"] > 0 and base["model_rss_bytes"] > 0, (stored["model_rss_bytes"], base)
    assert abs(base["memory_ratio"] - stored["model_rss_bytes"] / base["model_rss_bytes"]) < 1e-9
    assert "model memory ratio" in out
    # the device runs ONNX Runtime's own wheel, the host's version, shipped as its own runtime
    assert base["version"] == runtime.baseline_requirements()[0].split("==")[1]
    site = f"{lab.device.work_dir}/{runtime.FOLDERS['onnxruntime']}"
    assert json.loads(open(f"{site}/current.json").read())["id"]
