"""ONNX -> TVM Relax -> model.so for a target (cross-linked with zig for foreign triples)."""

from __future__ import annotations

import contextlib
import os
import platform
import warnings
from pathlib import Path
from typing import Any

from ..errors import CompileError
from ..targets import NATIVE, Target
from . import cuda, lift, pipeline, toolchain, weights


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
        raise CompileError(f"targets/{target.name}.toml: [tvm] is not a valid TVM target: {_first_line(exc)}") from None


def host_target():
    """The build machine's CPU, used to run the compiled graph here (metrics, reference outputs)."""
    import tvm

    return tvm.target.Target({"kind": "llvm", "mtriple": f"{platform.machine()}-linux-gnu",
                              "mcpu": tvm.target.codegen.llvm_get_system_cpu()})


def import_onnx(path: Path):
    """The Relax IRModule of a static-shape ONNX graph; unsupported operators are named with their node."""
    import onnx
    from tvm.relax.frontend.onnx.onnx_frontend import _get_convert_map

    from . import qlinear

    model = onnx.load(str(path))
    supported = _get_convert_map()
    ours = set(qlinear.OPS)  # lowered to integer Relax by qlinear, whatever their domain

    def importable(n) -> bool:
        if n.op_type in ours:
            return n.domain in ("", "ai.onnx", "com.microsoft")
        return n.domain in ("", "ai.onnx") and n.op_type in supported

    missing = [(f"{n.domain}::{n.op_type}" if n.domain not in ("", "ai.onnx") else n.op_type, n.name or f"#{i}")
               for i, n in enumerate(model.graph.node) if not importable(n)]
    if missing:
        ops = "; ".join(f"{op} (node {name!r})" for op, name in missing[:5])
        more = f" and {len(missing) - 5} more" if len(missing) > 5 else ""
        raise CompileError(
            f"TVM's ONNX importer does not support: {ops}{more}. Replace these operators in the model "
            "(or re-export it without them) before building"
        )
    try:
        return _from_onnx(model, qlinear.importer_class())
    except Exception as exc:
        raise CompileError(f"TVM could not import {path.name}: {type(exc).__name__}: {_first_line(exc)}") from None


def _from_onnx(model, importer_class):
    """tvm.relax.frontend.onnx.from_onnx with our importer subclass (quantized operators lowered to int8)."""
    opset = next((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")), 1)
    return importer_class(None, "float32", keep_params_in_input=False, sanitize=True).from_onnx(model.graph, opset)


def build(mod, target, out: Path, fcompile=None, env: dict[str, str] | None = None,
          records: Path | None = None) -> None:
    """Compile `mod` for `target` (applying tuning records from `records`) and write the library `out`
    and its weights file beside it (weights.beside(out); main takes the weights after its inputs)."""
    # GPU kernels read device memory: a GPU library keeps its constants (its weights file is empty).
    lifted: list | None = [] if target.kind.name == "llvm" else None
    with _environ(env or {}):
        executable = compile_executable(mod, target, records, lifted)
        kwargs = {"fcompile": fcompile} if fcompile is not None else {}
        executable.export_library(str(out), **kwargs)
    weights.write(weights.beside(out), lifted or [])


def compile_executable(mod, target, records: Path | None = None, lifted: list | None = None):
    """The TVM executable of `mod` for `target`, before linking (its modules can be inspected).

    With a list as `lifted`, main's constants become parameters after its inputs and are appended
    to it (numpy arrays, in parameter order); otherwise they stay embedded."""
    import tvm

    def lower(rules: bool):
        scheduled = pipeline.lower(mod, target, records, rules=rules)
        if lifted is None:
            return scheduled
        scheduled, arrays = lift.lift_constants(scheduled)
        lifted[:] = arrays
        return scheduled

    with target:  # the CUDA compile callback reads the arch from the current target
        try:
            try:
                executable = tvm.compile(lower(True), target=target, relax_pipeline=_finish_pipeline(target))
            except Exception as exc:
                # A schedule rule TVM cannot lower must cost speed, never the build.
                warnings.warn(f"schedule rules failed to lower ({_first_line(exc)}); compiling unscheduled")
                executable = tvm.compile(lower(False), target=target, relax_pipeline=_finish_pipeline(target))
        except Exception as exc:
            raise CompileError(f"TVM failed to compile for {target.kind.name}: {type(exc).__name__}: {_first_line(exc)}") from None
    if target.kind.name == "cuda":
        cuda.check_binary(executable)
    return executable


def _finish_pipeline(target):
    """What TVM runs after pipeline.lower: the CPU backend's own pipeline for CPUs (tvm.compile's
    "default" one lacks its passes); GPU targets keep TVM's default, which schedules with dlight."""
    from tvm import relax

    return relax.get_default_pipeline(target) if target.kind.name == "llvm" else "default"


def compile_for(target: Target, mod, out: Path, tools: dict[str, str], cache_dir: Path, records: Path) -> None:
    """Build model.so for a bundle's target (tools: from toolchain.require) and link it with zig."""
    env = {}
    if "nvcc_path" in tools:
        cuda.enable_codegen(cache_dir)
        # TVM's CUDA callback defaults to NVRTC (needs cuda-python) and runs a bare `nvcc` from PATH.
        nvcc_dir = str(Path(tools["nvcc_path"]).parent)
        env = {"TVM_CUDA_COMPILE_MODE": "nvcc", "PATH": nvcc_dir + os.pathsep + os.environ.get("PATH", "")}
    build(mod, tvm_target(target), out, toolchain.zig_linker(target.link.zig_target, target.link.flags), env, records)


def compile_host(mod, out: Path, records: Path | None = None) -> None:
    """Build the graph for this machine's CPU, to run it here."""
    build(mod, host_target(), out, toolchain.zig_linker(toolchain.host_zig_target()), records=records)


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


def _first_line(exc: Exception) -> str:
    lines = [ln for ln in str(exc).strip().splitlines() if ln.strip()]
    # TVM errors end with the message after a C++ backtrace; the last line is the useful one.
    return lines[-1] if lines else type(exc).__name__
