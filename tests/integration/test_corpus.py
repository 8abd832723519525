"""The three smallest corpus models build for the host and match ONNX Runtime on their real inputs.

The whole corpus (host and rpi4-emu) is a task, not a test: `invoke bench --model=corpus`."""

import pytest

from edgebuild.flows import build as builder
from edgebuild.models import corpus

pytestmark = pytest.mark.integration


def smallest(project, n: int) -> list[str]:
    """The n corpus models with the fewest bytes to fetch (model plus external data)."""
    entries = corpus.load_all(project.root).values()
    return [corpus.PREFIX + e.name for e in sorted(entries, key=lambda e: sum(size for *_, size in e.files))[:n]]


@pytest.mark.parametrize("index", range(3))
def test_smallest_corpus_models_build_and_match_onnxruntime(project, index):
    name = smallest(project, 3)[index]
    result = builder.build(project, builder.BuildRequest(model=name, target="host"), say=lambda s: None)
    metrics = result.manifest["metrics"]
    assert metrics["corpus_relative_diff"] <= metrics["corpus_tolerance"], metrics
    assert metrics["corpus_parity"] is True, metrics["corpus_task_check"]
    assert result.manifest["model"]["corpus"]["package"].count("==") == 1
