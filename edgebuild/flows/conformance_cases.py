"""ONNX's own operator test cases, as the conformance run uses them.

`onnx.backend.test.case.node` generates each case (a small model, inputs, outputs computed by ONNX's
reference implementation) when its module is imported; modules are imported one by one so that a
sample can name the few modules it needs (collecting all ~1,900 cases takes ~12 s of CPU).
"""

from __future__ import annotations

import importlib
import pkgutil
import sys
from dataclasses import dataclass, field

import numpy as np

NODE_PACKAGE = "onnx.backend.test.case.node"
RTOL, ATOL = 1e-3, 1e-4
IN_SCOPE_DTYPES = {"float", "float16", "int8", "uint8", "int32", "int64", "bool"}  # TensorProto's names
# Inputs that set an output's shape (or the axes it is computed over). As graph inputs they make the
# shape data-dependent, which a static-shape build cannot take: they are folded to the case's values.
SHAPE_INPUTS = {
    "Reshape": (1,), "Expand": (1,), "Tile": (1,), "Pad": (1, 3), "Resize": (1, 2, 3), "Upsample": (1,),
    "Slice": (1, 2, 3, 4), "Squeeze": (1,), "Unsqueeze": (1,), "Split": (1,), "ConstantOfShape": (0,),
    "Range": (0, 1, 2), "TopK": (1,), "OneHot": (1,), "CenterCropPad": (1, 2), "Trilu": (1,), "CumSum": (1,),
    "Compress": (1,), "MaxUnpool": (2,), "NonMaxSuppression": (2, 3, 4), "Col2Im": (1, 2), "AffineGrid": (1,),
    "DFT": (1, 2), "BlackmanWindow": (0,), "HannWindow": (0,), "HammingWindow": (0,),
    **{op: (1,) for op in ("ReduceMean", "ReduceSum", "ReduceMax", "ReduceMin", "ReduceProd", "ReduceL1",
                           "ReduceL2", "ReduceLogSum", "ReduceLogSumExp", "ReduceSumSquare")},
}


_BY_MODULE: dict[str, list] = {}  # generator module -> its cases (onnx's TestCase)


@dataclass
class Case:
    name: str
    op: str
    module: str
    model: bytes  # serialized ModelProto, as ONNX ships it
    inputs: dict[str, np.ndarray]
    outputs: list[np.ndarray]
    out_of_scope: str | None = None
    folded: list[str] = field(default_factory=list)  # graph inputs folded to constants (SHAPE_INPUTS)
    folded_model: bytes | None = None  # what edgebuild and stock TVM build

    @property
    def build_inputs(self) -> dict[str, np.ndarray]:
        return {k: v for k, v in self.inputs.items() if k not in self.folded}


def collect(modules: set[str] | None = None) -> list[Case]:
    """Every node test case (or those of `modules`), sorted by name, prepared for the engines."""
    package = importlib.import_module(NODE_PACKAGE)
    found = []
    for info in sorted(pkgutil.iter_modules(package.__path__), key=lambda m: m.name):
        if modules is not None and info.name not in modules:
            continue
        if info.name not in _BY_MODULE:
            _BY_MODULE[info.name] = _generate(package, f"{NODE_PACKAGE}.{info.name}")
        found += [(info.name, c) for c in _BY_MODULE[info.name]]
    singles = {c.name: c.model.graph.node[0].op_type for _, c in found if len(c.model.graph.node) == 1}
    cases = []
    for module, tc in found:
        inputs, outputs = ([_array(a) for a in part] for part in (tc.data_sets[0] if tc.data_sets else ([], [])))
        graph = tc.model.graph
        case = Case(name=tc.name, op=_op_of(tc, singles), module=module, model=tc.model.SerializeToString(),
                    inputs={v.name: a for v, a in zip(graph.input, inputs)}, outputs=list(outputs))
        case.out_of_scope = out_of_scope(tc.model, inputs, outputs)
        if case.out_of_scope is None:
            case.folded, folded = fold_shape_inputs(tc.model, case.inputs, case.op)
            case.folded_model = folded.SerializeToString() if case.folded else case.model
        cases.append(case)
    return sorted(cases, key=lambda c: c.name)


def _generate(package, name: str) -> list:
    """A module's cases. Importing it generates them; a module someone imported before (onnx's own
    collect_testcases() imports them all) has its exporters run again, as onnx's metaclass runs them."""
    from onnx.backend.test.case.base import Base

    registry = package._NodeTestCases
    start, target, names = len(registry), package._TargetOpType, package._existing_names
    package._TargetOpType = None  # collect_testcases(op_type) leaves a filter behind
    try:
        if name not in sys.modules:
            importlib.import_module(name)
            return registry[start:]
        for cls in vars(sys.modules[name]).values():
            if isinstance(cls, type) and issubclass(cls, Base) and cls.__module__ == name:
                package._existing_names = {}  # its names are taken by the first run
                for key in [k for k in vars(cls) if k.startswith("export")]:
                    np.random.seed(seed=0)
                    getattr(cls, key)()
        cases = registry[start:]
        del registry[start:]  # onnx's list keeps the cases once
        return cases
    finally:
        package._TargetOpType, package._existing_names = target, names


def _array(value) -> np.ndarray:
    """A case's input or output as an array: ONNX gives numpy arrays, numpy scalars (a 0-d input, which
    ONNX Runtime refuses as a feed) or TensorProtos (cases of float16 casts and the like)."""
    from onnx import TensorProto, numpy_helper

    if isinstance(value, TensorProto):
        return numpy_helper.to_array(value)
    return np.asarray(value) if isinstance(value, np.generic) else value


def _op_of(tc, singles: dict[str, str]) -> str:
    """The operator a case tests: its node's, or for a function-body expansion the expanded case's."""
    nodes = tc.model.graph.node
    if len(nodes) == 1:
        return nodes[0].op_type
    base = tc.name.split("_expanded")[0]
    return singles.get(base) or nodes[-1].op_type


def out_of_scope(model, inputs, outputs) -> str | None:
    """Why a case is outside the conformance scope (None: in scope)."""
    import onnx

    for value in [*model.graph.input, *model.graph.output]:
        if not value.type.HasField("tensor_type"):
            return f"non-tensor value ({value.type.WhichOneof('value')})"
        elem = value.type.tensor_type.elem_type
        name = onnx.TensorProto.DataType.Name(elem).lower()
        if name not in IN_SCOPE_DTYPES:
            return f"dtype {name}"
    for node in model.graph.node:
        if node.op_type in ("QuantizeLinear", "DequantizeLinear") and any(
                a.name == "block_size" and a.i > 0 for a in node.attribute):
            return "blocked quantization"
        if node.domain.startswith("ai.onnx.preview"):
            return f"preview domain {node.domain}"
    return None


def fold_shape_inputs(model, values: dict[str, np.ndarray], op: str | None = None):
    """(names folded, model) with every graph input that SHAPE_INPUTS names made an initializer. In a
    function-body expansion of `op` (no node of it left) they are the graph inputs at the same places."""
    import onnx
    from onnx import numpy_helper

    graph_inputs = {v.name for v in model.graph.input}
    names = []
    expanded = op in SHAPE_INPUTS and not any(n.op_type == op for n in model.graph.node)
    uses = [(op, [v.name for v in model.graph.input])] if expanded else [(n.op_type, n.input) for n in model.graph.node]
    for op_type, inputs in uses:
        for index in SHAPE_INPUTS.get(op_type, ()):
            if index < len(inputs) and inputs[index] in graph_inputs and inputs[index] not in names:
                names.append(inputs[index])
    if not names:
        return [], model
    folded = onnx.ModelProto.FromString(model.SerializeToString())
    kept = [v for v in folded.graph.input if v.name not in names]
    del folded.graph.input[:]
    folded.graph.input.extend(kept)
    folded.graph.initializer.extend(numpy_helper.from_array(np.asarray(values[n]), n) for n in names)
    return names, folded


def compare(got: list[np.ndarray], want: list[np.ndarray]) -> str | None:
    """None when `got` matches `want` (same count, shapes, dtypes; values within RTOL/ATOL), else why not."""
    if len(got) != len(want):
        return f"{len(got)} outputs, expected {len(want)}"
    for i, (g, w) in enumerate(zip(got, want)):
        g, w = np.asarray(g), np.asarray(w)
        if g.shape != w.shape:
            return f"output {i}: shape {g.shape}, expected {w.shape}"
        if g.dtype != w.dtype:
            return f"output {i}: dtype {g.dtype}, expected {w.dtype}"
        if w.dtype.kind in "fc":
            ok = np.allclose(g, w, rtol=RTOL, atol=ATOL, equal_nan=True)
        else:
            ok = np.array_equal(g, w)
        if not ok:
            diff = np.abs(g.astype(np.float64) - w.astype(np.float64))
            return f"output {i}: max |diff| {np.nanmax(diff) if diff.size else 0:.3g}"
    return None
