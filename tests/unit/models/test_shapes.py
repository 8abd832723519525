import pytest

from edgebuild.errors import ModelError
from edgebuild.models import TensorSpec, shapes

DYNAMIC = [TensorSpec("x", ("batch", 3, "h", "w"), "float32"), TensorSpec("k", (1, 4), "int64")]


def test_parse():
    assert shapes.parse(["x:1,3,640,640", "y:2"]) == {"x": (1, 3, 640, 640), "y": (2,)}
    assert shapes.parse(["ns:x:1,2"]) == {"ns:x": (1, 2)}  # names may contain colons
    for bad in ["x", "x:", "x:1,a", "x:0,3", ":1,2"]:
        with pytest.raises(ModelError, match="expected NAME:D1,D2"):
            shapes.parse([bad])
    with pytest.raises(ModelError, match="given twice"):
        shapes.parse(["x:1", "x:2"])


def test_resolve_fills_dynamic_dims():
    specs = shapes.resolve("m", DYNAMIC, {"x": (1, 3, 64, 64)})
    assert [s.shape for s in specs] == [(1, 3, 64, 64), (1, 4)]


def test_unset_dynamic_dims_are_listed():
    with pytest.raises(ModelError) as err:
        shapes.resolve("m", DYNAMIC, {})
    msg = str(err.value)
    assert "x[0]='batch'" in msg and "x[2]='h'" in msg and "x[3]='w'" in msg
    assert "--input-shape=x:N,3,N,N" in msg


def test_unknown_input_and_bad_rank_and_fixed_dim():
    with pytest.raises(ModelError, match="model 'm' has no input 'y'; its inputs are: x, k"):
        shapes.resolve("m", DYNAMIC, {"y": (1,)})
    with pytest.raises(ModelError, match="has rank 4"):
        shapes.resolve("m", DYNAMIC, {"x": (1, 3, 8)})
    with pytest.raises(ModelError, match="dim 1 of input 'x' is fixed at 3 in the model, got 4"):
        shapes.resolve("m", DYNAMIC, {"x": (1, 4, 8, 8)})


def test_a_huge_input_shape_is_refused_before_any_work():
    with pytest.raises(ModelError, match="x.*GiB"):
        shapes.resolve("m", DYNAMIC, {"x": (64, 3, 100000, 100000)})
