"""ONNX -> TVM Relax -> model.so for a target (cross-linked with zig for foreign triples)."""

from __future__ import annotations

import contextlib
import json
import os
import platform
import warnings
from pathlib import Path
from typing import Any

from ..errors import CompileError
from ..targets import NATIVE, Target
from . import cuda, kernels, lift, onnx_graph, pipeline, toolchain, weights
from .tvm_errors import is_tvm_error, message


def tvm_target(target: Target):
    """The tvm.target.Target of `target`, with mcpu = "native" resolved to this machine's CPU."""
    import tvm

    def resolve(spec: dict[str, Any]) -> dict[str, Any]:
        spec = dict(spec)
        if spec.get("mcpu") == NATIVE:
            spec["mcpu"] = tvm.target.codegen.llvm_get_system_cpu()
            spec.setdefault("num-cores", os.cpu_count() or 1)  # MetaSchedule needs it; this machine's
        return spec

    spec = resolve(target.tvm)
    if target.host is not None:
        spec["host"] = resolve(target.host)
    try:
        return tvm.target.Target(spec)
    except Exception as exc:  # TVM raises ValueError/TVMError with the offending option
        raise CompileError(f"targets/{target.name}.toml: [tvm] is not a valid TVM target: {message(exc)}") from None


def host_target():
    """The build machine's CPU, used to run the compiled graph here (metrics, reference outputs)."""
    import tvm

    return tvm.target.Target({"kind": "llvm", "mtriple": f"{platform.machine()}-linux-gnu",
                              "mcpu": tvm.target.codegen.llvm_get_system_cpu()})


# Operators TVM's importer handles itself rather than through its converter map (its own
# _check_for_unsupported_ops lists them the same way).
DIRECTLY_HANDLED = frozenset({"If"})


def lowerings() -> dict:
    """ONNX op type -> our lowering of the nodes of it that TVM's converter gets wrong (onnx_graph.rewrite)."""
    from . import depth_space, normalization, pad_split, pool_indices, reductions, resize

    return {"Resize": resize.lower, "LayerNormalization": normalization.layer_normalization,
            "BatchNormalization": normalization.batch_normalization, "MaxPool": pool_indices.lower,
            "SpaceToDepth": depth_space.space_to_depth, "Pad": pad_split.pad, "Split": pad_split.split,
            **{op: reductions.lower for op in reductions.OPS}}


def import_onnx(path: Path):
    """The Relax IRModule of a static-shape ONNX graph; unsupported operators are all named with their nodes."""
    import onnx
    from tvm.relax.frontend.onnx.onnx_frontend import _get_convert_map

    from . import conv1d, conv_transpose, qdq, qlinear, recurrent, scalar_gather

    model, _ = qdq.to_qoperator(onnx.load(str(path)))
    model = onnx_graph.rewrite(model, lowerings())  # what TVM's converters compute otherwise than ONNX
    model = conv1d.rewrite(scalar_gather.rewrite(recurrent.lower(model)))  # LSTM/GRU/RNN: the importer has none
    model = conv_transpose.rewrite(model)
    supported = _get_convert_map()
    ours = set(qlinear.OPS)  # lowered to integer Relax by qlinear, whatever their domain

    def importable(n) -> bool:
        if n.op_type in ours:
            return n.domain in ("", "ai.onnx", "com.microsoft")
        if n.op_type == recurrent.STEPS_OP:
            return n.domain == recurrent.DOMAIN
        return n.domain in ("", "ai.onnx") and (n.op_type in supported or n.op_type in DIRECTLY_HANDLED)

    missing: dict[str, list[str]] = {}
    for i, n in enumerate(model.graph.node):
        if not importable(n):
            op = f"{n.domain}::{n.op_type}" if n.domain not in ("", "ai.onnx") else n.op_type
            missing.setdefault(op, []).append(repr(n.name or f"#{i}"))
    if missing:
        ops = "; ".join(f"{op} (node{'s' if len(names) > 1 else ''} {', '.join(names)})"
                        for op, names in missing.items())
        raise CompileError(
            f"TVM's ONNX importer does not support: {ops}. Replace these operators in the model "
            "(or re-export it without them) before building"
        )
    try:
        return _from_onnx(model, qlinear.importer_class())
    except CompileError as exc:
        raise CompileError(f"{path.name}: {exc}") from None
    except Exception as exc:
        raise CompileError(f"TVM could not import {path.name}: {type(exc).__name__}: {message(exc)}") from None


def _from_onnx(model, importer_class):
    """tvm.relax.frontend.onnx.from_onnx with our importer subclass (quantized operators lowered to int8),
    the ONNX nodes behind each Relax operator kept on the module (kernels.NODES_ATTR)."""
    opset = onnx_graph.opset(model)
    importer = importer_class(None, "float32", keep_params_in_input=False, sanitize=True)
    importer.nodes_by_op = {}
    mod = importer.from_onnx(model.graph, opset)
    return mod.with_attr(kernels.NODES_ATTR, json.dumps(importer.nodes_by_op))


def build(mod, target, out: Path, fcompile=None, env: dict[str, str] | None = None,
          records: Path | None = None) -> dict:
    """Compile `mod` for `target` (applying tuning records from `records`) and write the library `out`
    and its weights file beside it (weights.beside(out); main takes the weights after its inputs).
    Returns who scheduled each kernel (kernels.table without shares)."""
    # GPU kernels read device memory: a GPU library keeps its constants (its weights file is empty).
    lifted: list | None = [] if target.kind.name == "llvm" else None
    with _environ(env or {}):
        executable, scheduled = compile_executable(mod, target, records, lifted)
        kwargs = {"fcompile": fcompile} if fcompile is not None else {}
        executable.export_library(str(out), **kwargs)
    weights.write(weights.beside(out), lifted or [])
    return scheduled


def compile_executable(mod, target, records: Path | None = None, lifted: list | None = None):
    """(TVM executable of `mod` for `target` before linking, {"kernels": {name: scheduler}, "fallback": why}).

    With a list as `lifted`, main's constants become parameters after its inputs and are put in it
    (numpy arrays, in parameter order); otherwise they stay embedded.
    Only TVM's errors are caught: an error in edgebuild's own code is a bug and propagates."""
    import tvm

    nodes = kernels.nodes_of(mod)
    with target:  # the CUDA compile callback reads the arch from the current target
        lowered = None
        try:
            lowered, schedulers = pipeline.lower(mod, target, records)
            executable, fallback = _finish(lowered, target, lifted), None
        except Exception as exc:
            if not is_tvm_error(exc):
                raise
            # A schedule rule TVM cannot lower must cost speed, never the build: say which, and go on.
            failed = kernels.failing_kernel(lowered, target) if lowered is not None else None
            fallback = (f"kernel {failed[0]}: {failed[1]}" if failed else message(exc))
            warnings.warn(f"schedule rules failed to lower ({fallback}); compiling every kernel unscheduled")
            lowered = None
            try:
                lowered, schedulers = pipeline.lower(mod, target, records, rules=False)
                executable = _finish(lowered, target, lifted)
            except Exception as exc2:
                if not is_tvm_error(exc2):
                    raise
                if lowered is None:
                    raise CompileError(f"TVM failed to lower the graph for {target.kind.name}: {message(exc2)}") from None
                raise CompileError(kernels.explain(lowered, target, exc2, nodes)) from None
    if target.kind.name == "cuda":
        cuda.check_binary(executable)
    return executable, {"kernels": schedulers, "fallback": fallback}


def _finish(lowered, target, lifted: list | None):
    import tvm

    if lifted is not None:
        lowered, lifted[:] = lift.lift_constants(lowered)
    return tvm.compile(lowered, target=target, relax_pipeline=_finish_pipeline(target))


def _finish_pipeline(target):
    """What TVM runs after pipeline.lower: the CPU backend's own pipeline for CPUs (tvm.compile's
    "default" one lacks its passes); GPU targets keep TVM's default, which schedules with dlight."""
    from tvm import relax

    return relax.get_default_pipeline(target) if target.kind.name == "llvm" else "default"


def compile_for(target: Target, mod, out: Path, tools: dict[str, str], cache_dir: Path, records: Path | None) -> dict:
    """Build model.so for a bundle's target (tools: from toolchain.require) and link it with zig."""
    env = {}
    if "nvcc_path" in tools:
        cuda.enable_codegen(cache_dir)
        # TVM's CUDA callback defaults to NVRTC (needs cuda-python) and runs a bare `nvcc` from PATH.
        nvcc_dir = str(Path(tools["nvcc_path"]).parent)
        env = {"TVM_CUDA_COMPILE_MODE": "nvcc", "PATH": nvcc_dir + os.pathsep + os.environ.get("PATH", "")}
    scheduled = build(mod, tvm_target(target), out, toolchain.zig_linker(target.link.zig_target, target.link.flags),
                      env, records)
    if target.tvm.get("kind") == "cuda" and target.tvm.get("arch"):
        cuda.check_embedded(out, target.tvm["arch"])
    return scheduled


def compile_host(mod, out: Path, records: Path | None = None) -> dict:
    """Build the graph for this machine's CPU, to run it here."""
    return build(mod, host_target(), out, toolchain.zig_linker(toolchain.host_zig_target()), records=records)


@contextlib.contextmanager
def _environ(values: dict[str, str]):
    saved = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for key, old in saved.items():
            if old is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = old
