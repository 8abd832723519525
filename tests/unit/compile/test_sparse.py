"""The CSR matmul kernel for pruned Linear layers: chosen by sparsity, and the same outputs as dense."""

import numpy as np
import pytest
import torch

from edgebuild import export
from edgebuild.compile import relax, sparse
from edgebuild.compile.runner import HostModel
from edgebuild.compress.recipe import configs
from edgebuild.models.base import TensorSpec


@pytest.fixture(scope="module")
def mlp(tmp_path_factory):
    """Linear 64->96 at 90% zeros, then a dense Linear 96->32, over 16 tokens."""
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Linear(64, 96), torch.nn.ReLU(), torch.nn.Linear(96, 32)).eval()
    with torch.no_grad():
        net[0].weight.mul_(torch.rand_like(net[0].weight) > 0.9)
    path = tmp_path_factory.mktemp("mlp") / "m.onnx"
    export.to_onnx(net, [TensorSpec("x", (1, 16, 64), "float32")], ["y"], path)
    return path


def test_only_matmuls_above_the_threshold_become_csr_kernels(mlp):
    mod = relax.import_onnx(mlp)
    kernels = lambda m: sorted(gv.name_hint for gv in m.functions if gv.name_hint.startswith("csr_matmul"))
    assert kernels(sparse.rewrite(mod, 0.8)) == ["csr_matmul"]
    assert kernels(sparse.rewrite(mod, 0.95)) == []  # the 90%-sparse layer stays dense


def test_csr_build_matches_the_dense_build(mlp, tmp_path):
    mod = relax.import_onnx(mlp)
    x = {"x": np.random.default_rng(0).standard_normal((1, 16, 64)).astype(np.float32)}
    outs = []
    for name, graph in (("dense", mod), ("csr", sparse.rewrite(mod, 0.8))):
        relax.compile_host(graph, tmp_path / f"{name}.so")
        outs.append(HostModel(tmp_path / f"{name}.so", ["x"])(x)[0])
    assert outs[0].shape == (1, 16, 32)
    # Same products summed in the same order (only zeros skipped): equal to within rounding of reordering.
    np.testing.assert_allclose(outs[1], outs[0], rtol=1e-6, atol=1e-6)


def test_to_csr_round_trips():
    w = np.array([[0, 2, 0], [3, 0, 0]], np.float32)  # K=2 x N=3: CSR rows are W's columns
    data, indices, indptr = sparse.to_csr(w)
    assert data.tolist() == [3, 2] and indices.tolist() == [1, 0] and indptr.tolist() == [0, 1, 2, 2]


def test_sparse_kernel_threshold_is_validated():
    with pytest.raises(ValueError, match="sparse-kernel-above: must be in"):
        configs([{"technique": "prune", "sparse-kernel-above": 0}], "steps")
