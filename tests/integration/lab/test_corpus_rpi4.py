"""The smallest corpus model (a wake-word LSTM, lowered by edgebuild) cross-built for rpi4 runs on
rpi4-emu and matches its host reference there."""

from edgebuild.flows import build as builder
from edgebuild.flows import jobs
from edgebuild.lab.agent_run import AgentOptions

from ..test_corpus import smallest


def test_smallest_corpus_model_runs_on_emulated_pi(lab):
    name = smallest(lab.project, 1)[0]
    built = builder.build(lab.project, builder.BuildRequest(model=name, target=lab.device.target), say=lambda s: None)
    assert built.manifest["metrics"]["corpus_parity"] is True
    (outcome,) = jobs.profile_on(lab.project, lab.device.name, jobs.Artifact(bundle=built.bundle),
                                 AgentOptions(runs=5, min_seconds=0.1, warmup=1, timeout=300), say=lambda s: None)
    assert outcome.ok, outcome.error
    r = outcome.result
    assert r["machine"] == "aarch64" and r["model"] == name.split(":", 1)[1]
    assert r["parity_max_abs_diff"] <= r["parity_tolerance"]
