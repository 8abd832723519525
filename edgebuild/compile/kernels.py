"""What each compiled kernel is: who scheduled it, which ONNX nodes it came from, its share of run time,
and, when TVM cannot build a graph, which kernel failed and why.

The importer records, per Relax operator (short name: conv2d, add...), the ONNX nodes that produced
it (`NODES_ATTR` on the IRModule); a fused kernel's name lists its operators (fused_conv2d_add_relu),
so its nodes are those whose operators it names.
"""

from __future__ import annotations

import json
import time
from typing import Any

from .tvm_errors import is_tvm_error, message  # noqa: F401 (message: re-exported for tests)

NODES_ATTR = "edgebuild_onnx_nodes"
RECORD, NONE = "record", "none"  # scheduler names besides the schedule rules' own


def record_nodes(expr, node_label: str, stop: list, into: dict[str, list[str]], bb) -> None:
    """Add `node_label` under every Relax operator in `expr`, following bindings, but not into `stop`
    (the node's inputs: expressions of earlier nodes)."""
    from tvm import relax

    seen: list = []

    def walk(e):
        if e is None or any(e.same_as(s) for s in (*stop, *seen)):
            return
        seen.append(e)
        if isinstance(e, relax.Var):
            walk(bb.lookup_binding(e))
        elif isinstance(e, relax.Call):
            if hasattr(e.op, "name"):
                labels = into.setdefault(e.op.name.split(".")[-1], [])
                if node_label not in labels:
                    labels.append(node_label)
            for arg in e.args:
                walk(arg)
        elif isinstance(e, relax.Tuple):
            for field in e.fields:
                walk(field)
        elif isinstance(e, relax.TupleGetItem):
            walk(e.tuple_value)

    walk(expr)


def nodes_of(mod) -> dict[str, list[str]]:
    attrs = mod.attrs
    return json.loads(str(attrs[NODES_ATTR])) if attrs is not None and NODES_ATTR in attrs else {}


def nodes_for(kernel: str, nodes: dict[str, list[str]]) -> list[str]:
    """ONNX nodes whose Relax operators the kernel's name lists (longest operator names first)."""
    found, rest = [], f"_{kernel}_"
    for op in sorted(nodes, key=len, reverse=True):
        if f"_{op}_" in rest:
            rest = rest.replace(f"_{op}_", "_", 1)
            found += [n for n in nodes[op] if n not in found]
    return found


def unlowered_calls(mod) -> list[str]:
    """Relax operators still present after legalization (TVM had no lowering for them as used)."""
    import tvm
    from tvm import relax

    left = []

    def visit(e):
        if isinstance(e, relax.Call) and isinstance(e.op, tvm.ir.Op):
            if e.op.get_attr("FLegalize") is not None and e.op.name not in left:
                left.append(e.op.name)

    for func in mod.functions.values():
        if isinstance(func, relax.Function):
            relax.analysis.post_order_visit(func, visit)
    return left


def failing_kernel(mod, target) -> tuple[str, str] | None:
    """(kernel, TVM's message) of the first PrimFunc of `mod` that does not build alone, or None."""
    import tvm
    from tvm import tirx

    for gv, func in mod.functions.items():
        if not isinstance(func, tirx.PrimFunc):
            continue
        try:
            # kernels are private: alone, one needs a symbol to be built as a function of its own
            tvm.tirx.build(tvm.IRModule({gv: func.with_attr("global_symbol", gv.name_hint)}), target=target)
        except Exception as exc:
            if not is_tvm_error(exc):
                raise
            return gv.name_hint, message(exc)
    return None


def explain(mod, target, exc: BaseException, nodes: dict[str, list[str]]) -> str:
    """The failing kernel (or unlowered operator), its ONNX nodes when known, and TVM's own message."""
    left = unlowered_calls(mod)
    if left:
        short = [op.split(".")[-1] for op in left]
        from_nodes = sorted({n for op in short for n in nodes.get(op, [])})
        where = f" (from ONNX nodes {', '.join(from_nodes)})" if from_nodes else ""
        return (f"TVM has no lowering for {', '.join(left)} as this graph uses it{where}: {message(exc)}")
    failed = failing_kernel(mod, target)
    if failed is None:
        return f"TVM failed to compile for {target.kind.name}: {message(exc)}"
    kernel, why = failed
    from_nodes = nodes_for(kernel, nodes)
    where = f" (from ONNX nodes {', '.join(from_nodes)})" if from_nodes else ""
    return f"TVM failed to compile kernel {kernel}{where} for {target.kind.name}: {why}"


def profile(vm, args) -> dict[str, float]:
    """Each called function's share of one run's time, through TVM's VM instrument (one warm-up run first)."""
    vm["main"](*args)
    spent: dict[str, float] = {}

    def instrument(_func, symbol, before, _ret, *_args):
        spent[symbol] = spent.get(symbol, 0.0) + (-time.perf_counter() if before else time.perf_counter())
        return 0

    vm.set_instrument(instrument)
    try:
        vm["main"](*args)
    finally:
        vm.set_instrument(None)
    total = sum(spent.values()) or 1.0
    return {k: v / total for k, v in spent.items()}


def table(schedulers: dict[str, str], shares: dict[str, float] | None, fallback: str | None) -> dict[str, Any]:
    """The manifest's `kernels` entry: per kernel its scheduler and share, the counts, the fallback."""
    shares = shares or {}
    rows = [{"name": k, "scheduler": s, "share": round(shares[k], 4) if k in shares else None}
            for k, s in sorted(schedulers.items(), key=lambda kv: -shares.get(kv[0], 0.0))]
    counts: dict[str, int] = {}
    for s in schedulers.values():
        counts[s] = counts.get(s, 0) + 1
    unscheduled = sum(shares.get(k, 0.0) for k, s in schedulers.items() if s == NONE)
    return {"per_kernel": rows, "counts": dict(sorted(counts.items())), "fallback": fallback,
            "unscheduled_share": round(unscheduled, 4) if shares else None}
