"""ONNX's operator test cases, the committed sample (tests/data/conformance-sample.toml): edgebuild
never loses a case TVM's stock pipeline passes, and keeps up with ONNX Runtime where it already does."""

import onnx
import pytest

from edgebuild.flows import conformance
from edgebuild.flows.conformance_cases import collect

pytestmark = pytest.mark.integration

# Families where edgebuild passes at least as many sample cases as ONNX Runtime (measured with the
# sample on onnx 1.23.2; see the README's conformance table). A family joins when it gets there.
AT_LEAST_ORT = ("activations", "conv/pool", "depth/space", "matmul", "normalization", "pad", "quantized", "recurrent", "resize",
                "shape/index", "softmax")


@pytest.fixture(scope="module")
def sample(project):
    sample = conformance.load_sample(project.root / conformance.SAMPLE)
    if sample.onnx != onnx.__version__:
        pytest.skip(f"the sample was taken from onnx {sample.onnx}; onnx {onnx.__version__} is installed")
    return sample


def test_committed_sample_follows_its_rule_and_covers_every_family(sample):
    chosen = conformance.sample_by_rule(collect(set(sample.modules)))
    assert [c.name for c in chosen] == sample.cases and len(chosen) >= 150
    assert all({c.op for c in chosen} & set(ops) for ops in conformance.FAMILIES.values())


def test_sample_loses_no_case_to_stock_tvm(project, sample):
    report = conformance.run(project, sample=project.root / conformance.SAMPLE, jobs=2, say=lambda _: None)
    assert len(report["cases"]) == len(sample.cases)
    assert report["losses"] == [], conformance.format_report(report, "families")
    for family in AT_LEAST_ORT:
        row = report["families"][family]
        assert row["edgebuild"] >= row["onnxruntime"], (family, row)
