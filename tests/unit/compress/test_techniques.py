"""Each technique on the real digits-cnn (seconds): the artifact-relevant effect, not just a label."""

import numpy as np
import onnx
import pytest
import torch

from edgebuild import export
from edgebuild.compress import cluster, codebook, distill, lowrank, prune, prune_channels
from edgebuild.compress.base import Context
from edgebuild.compress.gate import check, format_table
from edgebuild.compress.recipe import Gate, Recipe
from edgebuild.errors import GateFailed
from edgebuild.models.digits import DigitsCNN, dataset
from tests.conftest import library_bytes


@pytest.fixture
def digits(project):
    model = DigitsCNN(project.cache_dir)
    return model, model.load(), Context(model, model.inputs(), say=lambda s: None)


def outputs(net, n=64):
    _, _, x, _ = dataset()
    with torch.no_grad():
        return net(torch.from_numpy(x[:n])).numpy()


def test_prune_reaches_the_sparsity_of_conv_and_linear_weights(digits):
    _, net, ctx = digits
    prune.apply(net, prune.Prune(sparsity=0.5), ctx)
    weights = torch.cat([m.weight.flatten() for _, m in prune.prunable(net)])
    assert abs(float((weights == 0).float().mean()) - 0.5) < 0.01


def test_prune_channels_removes_channels_physically_and_keeps_the_output_shape(digits):
    _, net, ctx = digits
    before = outputs(net)
    prune_channels.apply(net, prune_channels.PruneChannels(ratio=0.3, fine_tune_steps=0), ctx)
    convs = [m for m in net if isinstance(m, torch.nn.Conv2d)]
    assert [c.out_channels for c in convs][:2] != [16, 32] and sum(c.out_channels for c in convs) <= 0.75 * 112
    assert outputs(net).shape == before.shape


def test_lowrank_at_90_percent_energy_has_fewer_parameters(digits):
    _, net, ctx = digits
    params = sum(p.numel() for p in net.parameters())
    lowrank.apply(net, lowrank.LowRank(energy=0.9), ctx)
    assert sum(p.numel() for p in net.parameters()) < 0.7 * params


def test_cluster_leaves_at_most_2_to_the_bits_values_per_layer_and_keeps_zeros(digits):
    _, net, ctx = digits
    prune.apply(net, prune.Prune(sparsity=0.5), ctx)
    cluster.apply(net, cluster.Cluster(bits=4), ctx)
    for _, layer in cluster.clusterable(net, cluster.Cluster()):
        values = layer.weight.detach().unique()
        assert len(values) <= 16 and 0 in values


def test_cluster_layers_glob_sets_bits_per_layer(digits):
    _, net, ctx = digits
    cluster.apply(net, cluster.Cluster(bits=2, layers={"7": cluster.Layer(bits=5)}), ctx)
    assert len(net[7].weight.detach().unique()) > 4 and len(net[3].weight.detach().unique()) <= 4
    assert ctx.notes["layers_per_bits"] == {"2": 1, "5": 1}


def test_cluster_fine_tune_retrains_the_shared_values_and_keeps_each_weights_assignment(digits):
    import copy

    _, net, ctx = digits
    prune.apply(net, prune.Prune(sparsity=0.5), ctx)
    plain = copy.deepcopy(net)
    cluster.apply(plain, cluster.Cluster(bits=4), ctx)
    cluster.apply(net, cluster.Cluster(bits=4, fine_tune_steps=20), ctx)
    assert ctx.notes["fine_tune_steps"] == 20
    layers = zip(cluster.clusterable(plain, cluster.Cluster()), cluster.clusterable(net, cluster.Cluster()))
    for (_, before), (_, after) in layers:
        a, b = before.weight.detach().flatten(), after.weight.detach().flatten()
        pairs = torch.stack([a, b], 1).unique(dim=0)
        # one tuned value per shared value and back: the same partition (indices), other values
        assert len(pairs) == len(a.unique()) == len(b.unique()) <= 16
        assert torch.equal(a == 0, b == 0) and not torch.equal(a, b)


def _entropy(idx) -> float:
    p = torch.bincount(idx).double() / idx.numel()
    p = p[p > 0]
    return float(-(p * p.log2()).sum())


def test_entropy_constrained_clustering_trades_error_for_a_smaller_code_and_keeps_zeros():
    torch.manual_seed(0)
    w = torch.distributions.Laplace(0.0, 1.0).sample((20000,))
    w[:5000] = 0  # pruned
    plain_c, plain_i = cluster.kmeans_1d(w, 64, 10)
    ec_c, ec_i = cluster.kmeans_1d(w, 64, 10, rate_weight=2.0)
    assert _entropy(ec_i) < _entropy(plain_i) - 0.3  # bits per weight
    assert float(((ec_c[ec_i] - w) ** 2).mean()) > float(((plain_c[plain_i] - w) ** 2).mean())
    assert bool((ec_c[ec_i][:5000] == 0).all())


@pytest.mark.parametrize("k", [1, 2, 7, 256])
def test_entropy_constrained_assignment_is_the_brute_force_argmin(k):
    """The lower-envelope assignment picks, for every weight, the value brute force does (duplicated
    values and values no weight picks included)."""
    torch.manual_seed(k)
    w = torch.randn(50000) * 0.05
    c = torch.randn(k).sort().values * 0.05
    if k > 2:
        c[1] = c[2]  # a value twice, at different costs
    cost = torch.rand(k).double() * 2e-3
    brute = ((w[:, None].double() - c[None].double()) ** 2 + cost[None]).argmin(1)
    assert torch.equal(cluster._nearest_with_cost(w, c, cost), brute)


@pytest.mark.parametrize("bits,distinct,width", [(8, 2, 1), (8, 16, 4), (8, 17, 8), (4, 17, None), (2, 3, 2)])
def test_codebook_packs_each_tensor_at_the_narrowest_width_allowed(bits, distinct, width):
    assert codebook.Codebook(bits=bits).width(distinct) == width


def test_distill_builds_a_half_width_student(digits):
    _, net, ctx = digits
    student = distill.apply(net, distill.Distill(width=0.5, steps=2), ctx)
    assert [m.out_channels for m in student if isinstance(m, torch.nn.Conv2d)] == [8, 16, 32]


def test_codebook_stores_packed_indices_that_survive_compilation(digits, tmp_path):
    from edgebuild.compile import relax
    from edgebuild.compile.runner import HostModel
    from edgebuild.compress.onnx_tools import session

    model, net, ctx = digits
    cluster.apply(net, cluster.Cluster(bits=4), ctx)
    path = tmp_path / "c.onnx"
    export.to_onnx(net, model.inputs(), model.output_names, path)
    plain = onnx.load(str(path))
    encoded = codebook.apply(onnx.load(str(path)), codebook.Codebook(bits=4), ctx)
    assert ctx.notes["encoded_tensors"] == 2 and ctx.notes["tensors_per_index_bits"] == {"4": 2}
    x = {"image": dataset()[2][:1]}
    assert np.allclose(session(plain).run(None, x)[0], session(encoded).run(None, x)[0], atol=1e-5)
    onnx.save(encoded, str(path))
    relax.compile_host(relax.import_onnx(path), tmp_path / "c.so")
    packed = next(onnx.numpy_helper.to_array(i) for i in encoded.graph.initializer if i.name.endswith("__idx"))
    assert packed.dtype == np.uint8 and packed.tobytes() in library_bytes(tmp_path / "c.so")
    assert np.allclose(HostModel(tmp_path / "c.so", ["image"])(x)[0], session(plain).run(None, x)[0], atol=1e-4)


def test_gate_failure_names_the_budget_and_carries_the_table():
    recipe = Recipe(description="x", gate=Gate(max_accuracy_drop=0.5), name="tight")
    table = [{"step": 1, "technique": "prune", "metric": "accuracy", "before": 98.8, "after": 90.0}]
    with pytest.raises(GateFailed, match=r"accuracy dropped 8.80 pt .* over max-accuracy-drop 0.5(.|\n)*prune"):
        check(recipe, 98.8, "accuracy", 90.0, table)
    check(recipe, 98.8, "accuracy", 98.4, table)  # within budget: no error
    assert "before" in format_table(table).splitlines()[0]


def test_gate_of_the_wrong_metric_kind_says_which_to_use():
    recipe = Recipe(description="x", gate=Gate(min_cosine_to_fp32=0.99), name="g")
    with pytest.raises(GateFailed, match="add max-accuracy-drop to the recipe"):
        check(recipe, 98.8, "accuracy", 98.8, [])


def test_accuracy_gate_on_a_model_without_accuracy_bounds_agreement_instead():
    recipe = Recipe(description="x", gate=Gate(max_accuracy_drop=0.5), name="g")
    check(recipe, 1.0, "cosine_to_fp32", 0.995, [])
    with pytest.raises(GateFailed, match="below min-cosine-to-fp32 0.99"):
        check(recipe, 1.0, "cosine_to_fp32", 0.9, [])


def test_qat_leaves_weights_on_their_per_channel_int8_grid(digits):
    from edgebuild.compress import qat

    _, net, ctx = digits
    qat.apply(net, qat.Qat(steps=3), ctx)
    conv = next(m for m in net if isinstance(m, torch.nn.Conv2d) and m.in_channels == 16)
    w = conv.weight.detach()
    scale = w.abs().amax(dim=(1, 2, 3), keepdim=True) / 127
    assert torch.allclose(w / scale, (w / scale).round(), atol=1e-3)


def test_torch_steps_on_an_onnx_file_are_refused(project):
    from edgebuild.compress import Pipeline, load
    from edgebuild.errors import ConfigError

    class OnnxModel:
        kind, name = "onnx", "det-1234"

    with pytest.raises(ConfigError, match="needs a PyTorch model"):
        Pipeline(load(project, "prune-50"), OnnxModel(), [])


@pytest.mark.parametrize("reduce_range, limit", [(False, 127), (True, 64)])
def test_int8_dynamic_reduce_range_stores_7_bit_weights(reduce_range, limit):
    from onnx import TensorProto, helper, numpy_helper

    from edgebuild.compress import int8_dynamic

    w = numpy_helper.from_array(np.random.default_rng(0).standard_normal((64, 32)).astype(np.float32), "w")
    graph = helper.make_graph([helper.make_node("MatMul", ["x", "w"], ["y"], name="mm")], "g",
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT, [4, 64])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [4, 32])], [w])
    proto = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    out = int8_dynamic.apply(proto, int8_dynamic.Int8Dynamic(reduce_range=reduce_range), None)
    (q,) = [numpy_helper.to_array(i) for i in out.graph.initializer if i.data_type == TensorProto.INT8 and len(i.dims) == 2]
    assert q.shape == (64, 32) and np.abs(q.astype(np.int16)).max() == limit  # per-channel symmetric: each column reaches its limit
