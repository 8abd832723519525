"""int8 matmul kernels: exact results here, and the target's dot-product instruction in the innermost
loop of each int8 kernel's object code (named CPUs, so nothing depends on the CI machine)."""

from __future__ import annotations

import re

import numpy as np
import pytest

from edgebuild.compile import int8_matmul, pipeline, relax as erelax

X86 = {"kind": "llvm", "mtriple": "x86_64-linux-gnu"}
ARM = {"kind": "llvm", "mtriple": "aarch64-linux-gnu"}


def int8_module(m=32, k=64, n=48, x_dtype="int8", seed=0, w=None):
    """x (int8/uint8) @ W (int8 constant; default random, -128 included) -> int32, requantized to int8:
    what qlinear lowers QGemm to."""
    from tvm import relax

    rng = np.random.default_rng(seed)
    w = rng.integers(-128, 128, (k, n)).astype("int8") if w is None else w
    k, n = w.shape
    bb = relax.BlockBuilder()
    x = relax.Var("x", relax.TensorType((m, k), x_dtype))
    with bb.function("main", [x]):
        with bb.dataflow():
            acc = bb.emit(relax.op.matmul(x, relax.const(w), out_dtype="int32"))
            scaled = bb.emit(relax.op.multiply(relax.op.astype(acc, "float32"), relax.const(np.float32(1 / 4096))))
            q = bb.emit(relax.op.astype(relax.op.clip(relax.op.round(scaled), -128, 127), "int8"))
            out = bb.emit_output(q)
        bb.emit_func_output(out)
    return bb.get(), w


def batched_module(shape=(2, 3, 16, 32, 48), x_dtype="int8"):
    """x (int8/uint8) @ b (int8 activation, same batch dims) -> int32: an int8 attention matmul."""
    from tvm import relax

    *batch, m, k, n = shape
    bb = relax.BlockBuilder()
    x = relax.Var("x", relax.TensorType((*batch, m, k), x_dtype))
    b = relax.Var("b", relax.TensorType((*batch, k, n), "int8"))
    with bb.function("main", [x, b]):
        with bb.dataflow():
            out = bb.emit_output(relax.op.matmul(x, b, out_dtype="int32"))
        bb.emit_func_output(out)
    return bb.get()


def asm(target_spec, mod) -> str:
    import tvm

    executable, _ = erelax.compile_executable(mod, tvm.target.Target(target_spec))
    pending, text = list(executable.mod.imports), []
    while pending:
        module = pending.pop()
        pending.extend(module.imports)
        if module.kind == "llvm":
            text.append(module.inspect_source("asm"))
    return "\n".join(text)


def functions(asm_text: str, symbol: str) -> tuple[list[str], list[str]]:
    """Code of the functions whose name contains `symbol`, and of the parallel lambdas (TVM's thread-pool
    bodies) those functions launch."""
    funcs = {}
    for chunk in re.split(r"^\.Lfunc_end\w*:", asm_text, flags=re.M):
        head = re.search(r"^(\w+|\.L__tvm_parallel_lambda[.\w]*):\n", chunk, re.M)
        if head:
            funcs[head.group(1)] = chunk[head.end():]
    named = [body for name, body in funcs.items() if symbol in name and not name.startswith(".L")]
    lambdas = {name for body in named for name in re.findall(r"(\.L__tvm_parallel_lambda[.\w]*)", body)}
    return named, [funcs[name] for name in sorted(lambdas) if name in funcs]


def innermost_loops(asm_text: str, symbol: str) -> list[str]:
    """Bodies of the innermost loops (label ... backward branch to it) of functions(asm_text, symbol)."""
    bodies = []
    for text in sum(functions(asm_text, symbol), []):
        lines = text.splitlines()
        labels = {ln.split(":")[0]: i for i, ln in enumerate(lines) if re.match(r"^\.LBB\w+:", ln)}
        loops = []
        for i, ln in enumerate(lines):
            target = re.search(r"\s(\.LBB\w+)\s*$", ln)
            if target and target.group(1) in labels and labels[target.group(1)] < i:
                loops.append((labels[target.group(1)], i))
        for start, end in loops:
            if not any(s > start and e <= end and (s, e) != (start, end) for s, e in loops):
                bodies.append("\n".join(lines[start:end + 1]))
    return bodies


def calls(code: list[str]) -> list[str]:
    """The call instructions in `code` (x86 and ARM)."""
    return [ln for text in code for ln in text.splitlines() if re.match(r"\s+(callq?|bl|blr)\b", ln)]

def no_minus_128(shape, seed=0) -> np.ndarray:
    """Random int8 weights in [-127, 127] (what symmetric quantization produces; AVX2's vpsignb kernel needs it)."""
    return np.random.default_rng(seed).integers(-127, 128, shape).astype("int8")


def dot_in_inner_loop(target_spec, instruction: str, x_dtype="int8", w=None) -> int:
    """Occurrences of `instruction` in the busiest innermost loop of the int8 kernel."""
    mod, _ = int8_module(x_dtype=x_dtype, w=w)
    bodies = innermost_loops(asm(target_spec, mod), "int8_dot")
    assert bodies, "no int8 kernel with a loop in the object code"
    return max(len(re.findall(rf"\b{instruction}\b", b)) for b in bodies)


@pytest.mark.parametrize("x_dtype", ["int8", "uint8"])
def test_packed_int8_matmul_is_exact_here(x_dtype):
    import tvm
    from tvm.runtime.vm import VirtualMachine

    mod, w = int8_module(x_dtype=x_dtype)
    target = erelax.host_target()
    executable, _ = erelax.compile_executable(mod, target)
    vm = VirtualMachine(executable, tvm.cpu())
    info = np.iinfo(x_dtype)
    x = np.random.default_rng(1).integers(info.min, info.max + 1, (32, 64)).astype(x_dtype)
    got = vm["main"](tvm.runtime.tensor(x)).numpy()
    acc = x.astype(np.int64) @ w.astype(np.int64)
    want = np.clip(np.round(acc.astype(np.float32) * np.float32(1 / 4096)), -128, 127).astype(np.int8)
    assert np.array_equal(got, want)


@pytest.mark.parametrize("x_dtype", ["int8", "uint8"])
def test_int8_matmul_of_two_activations_is_packed_at_run_time_and_exact_here(x_dtype):
    import tvm
    from tvm.runtime.vm import VirtualMachine

    from edgebuild.compile import schedule

    mod, target = batched_module(x_dtype=x_dtype), erelax.host_target()
    scheme = int8_matmul.scheme_for(target)
    if scheme is not None:
        _, kinds = schedule.schedule_module(pipeline.fuse(mod, target), target)
        # where the kernel reads x shifted by 128 (vpdpbusd is u8 x s8), the shift is corrected with b's
        # column sums, a reduction of its own (rowwise) since b is only known at run time
        extra = {"rowwise"} if int8_matmul.operand_shift(scheme, x_dtype) else set()
        assert "int8" in kinds.values() and set(kinds.values()) <= {"int8", "inject", *extra}
    executable, _ = erelax.compile_executable(mod, target)
    rng, info = np.random.default_rng(2), np.iinfo(x_dtype)
    x = rng.integers(info.min, info.max + 1, (2, 3, 16, 32)).astype(x_dtype)
    b = rng.integers(-128, 128, (2, 3, 32, 48)).astype("int8")
    got = VirtualMachine(executable, tvm.cpu())["main"](tvm.runtime.tensor(x), tvm.runtime.tensor(b)).numpy()
    assert np.array_equal(got, x.astype(np.int64) @ b.astype(np.int64))


def test_the_host_kernel_is_the_packed_int8_rule():
    mod, _ = int8_module()
    fused = pipeline.fuse(mod, erelax.host_target())
    from edgebuild.compile import schedule

    _, kinds = schedule.schedule_module(fused, erelax.host_target())
    if int8_matmul.scheme_for(erelax.host_target()) is not None:
        assert list(kinds.values()).count("int8") == 1


@pytest.mark.parametrize("mcpu,instruction", [
    ("cascadelake", "vpdpbusd"),  # AVX-512 VNNI
    ("skylake-avx512", "vpmaddwd"),  # AVX-512 without VNNI
    ("haswell", "vpmaddubsw"),  # AVX2: the sign trick
])
def test_x86_int8_kernels_use_the_cpus_dot_product_in_the_inner_loop(mcpu, instruction):
    w = no_minus_128((64, 48))
    assert dot_in_inner_loop({**X86, "mcpu": mcpu}, instruction, w=w) >= 4
    if mcpu != "cascadelake":
        assert dot_in_inner_loop({**X86, "mcpu": mcpu}, "vpdpbusd", w=w) == 0


def test_avx2_int8_kernels_take_both_signs_and_fall_back_to_widening_for_minus_128():
    haswell = {**X86, "mcpu": "haswell"}
    # 7-bit weights (ONNX Runtime's reduce_range): vpmaddubsw straight on u8 activations, no sign step
    seven = np.random.default_rng(0).integers(-64, 65, (64, 48)).astype(np.int8)
    for x_dtype in ("int8", "uint8"):
        assert dot_in_inner_loop(haswell, "vpmaddubsw", x_dtype, w=seven) >= 4
        assert dot_in_inner_loop(haswell, "vpsignb", x_dtype, w=seven) == 0
    # one pair of full-range weights could saturate that kernel's int16 sums: the sign-trick kernel
    seven[10:12, 5] = [65, -64]
    assert dot_in_inner_loop(haswell, "vpsignb", w=seven) >= 4
    # uint8 activations are shifted to int8 and read by the same vpsignb/vpmaddubsw kernel
    assert dot_in_inner_loop(haswell, "vpmaddubsw", "uint8", w=no_minus_128((64, 48))) >= 4
    assert dot_in_inner_loop(haswell, "vpsignb", "uint8", w=no_minus_128((64, 48))) >= 4
    # vpsignb cannot negate -128: such a weight gets the int16 widening kernel
    assert dot_in_inner_loop(haswell, "vpmaddwd") >= 4
    assert dot_in_inner_loop(haswell, "vpmaddubsw") == 0


def extreme_operands(x_dtype: str, w_min: int, m=16, k=64, n=32) -> tuple[np.ndarray, np.ndarray]:
    """x and w whose pair products reach the int16 limits of vpmaddubsw (|a| = 128 against |w| = 127,
    both signs), beside random values of the whole range."""
    rng, info = np.random.default_rng(3), np.iinfo(x_dtype)
    x = rng.integers(info.min, info.max + 1, (m, k)).astype(x_dtype)
    w = rng.integers(w_min, 128, (k, n)).astype("int8")
    x[:4] = [info.min], [info.max], [info.min], [info.max]
    w[:, :4] = [127, -127, w_min, 127]
    x[4, ::2], x[4, 1::2] = info.min, info.max
    return x, w


@pytest.mark.parametrize("x_dtype,w_min", [("int8", -127), ("uint8", -127), ("int8", -128), ("uint8", -128)])
def test_avx2_int8_kernels_are_exact_at_the_extremes(x_dtype, w_min):
    import tvm
    from tvm.runtime.vm import VirtualMachine
    from tvm.target import codegen

    if not codegen.target_has_features("avx2", erelax.host_target()):
        pytest.skip("this CPU cannot run AVX2 code")
    x, w = extreme_operands(x_dtype, w_min)
    bb_mod = exact_module(x.shape, x_dtype, w)
    executable, _ = erelax.compile_executable(bb_mod, tvm.target.Target({**X86, "mcpu": "haswell"}))
    got = VirtualMachine(executable, tvm.cpu())["main"](tvm.runtime.tensor(x)).numpy()
    assert np.array_equal(got, x.astype(np.int64) @ w.astype(np.int64))


@pytest.mark.parametrize("x_dtype", ["int8", "uint8"])
def test_avx2_kernel_for_7_bit_weights_is_exact_where_int16_pair_sums_peak(x_dtype):
    import tvm
    from tvm.runtime.vm import VirtualMachine
    from tvm.target import codegen

    if not codegen.target_has_features("avx2", erelax.host_target()):
        pytest.skip("this CPU cannot run AVX2 code")
    x, _ = extreme_operands(x_dtype, -64)
    w = np.random.default_rng(4).integers(-64, 65, (x.shape[1], 32)).astype(np.int8)
    w[:, :3] = [64, -64, 64]  # 255 * (64 + 64) = 32640: one short of int16's limit
    w[1::2, 2] = -64
    executable, _ = erelax.compile_executable(exact_module(x.shape, x_dtype, w), tvm.target.Target({**X86, "mcpu": "haswell"}))
    got = VirtualMachine(executable, tvm.cpu())["main"](tvm.runtime.tensor(x)).numpy()
    assert np.array_equal(got, x.astype(np.int64) @ w.astype(np.int64))


def exact_module(x_shape, x_dtype, w):
    """x @ w -> int32 and nothing else."""
    from tvm import relax

    bb = relax.BlockBuilder()
    x = relax.Var("x", relax.TensorType(x_shape, x_dtype))
    with bb.function("main", [x]):
        with bb.dataflow():
            out = bb.emit_output(relax.op.matmul(x, relax.const(w), out_dtype="int32"))
        bb.emit_func_output(out)
    return bb.get()


@pytest.mark.parametrize("spec,instruction", [
    ({**X86, "mcpu": "cascadelake"}, "vpdpbusd"), ({**X86, "mcpu": "haswell"}, "vpmaddwd"),
    ({**ARM, "mcpu": "cortex-a76", "mattr": ["+neon", "+dotprod"]}, "sdot"),
])
def test_int8_matmuls_of_two_activations_use_the_dot_product_in_the_inner_loop(spec, instruction):
    bodies = innermost_loops(asm(spec, batched_module(x_dtype="uint8")), "int8_dot")
    assert bodies and max(len(re.findall(rf"\b{instruction}\b", b)) for b in bodies) >= 2


def test_rpi5_int8_kernels_use_sdot_in_the_inner_loop():
    spec = {**ARM, "mcpu": "cortex-a76", "mattr": ["+neon", "+dotprod"]}
    assert dot_in_inner_loop(spec, "sdot") >= 4
    assert dot_in_inner_loop(spec, "sdot", x_dtype="uint8") >= 4  # u8 activations shifted to s8


def test_rpi4_int8_kernels_use_widening_neon_and_no_sdot():
    spec = {**ARM, "mcpu": "cortex-a72", "mattr": ["+neon"]}
    assert dot_in_inner_loop(spec, "smull") >= 4
    mod, _ = int8_module()
    assert "sdot" not in asm(spec, mod)


def shipped_target(project, name: str) -> dict:
    """The TVM target dict of a shipped target file (targets/NAME.toml)."""
    from edgebuild import targets

    return dict(targets.load(project, name).tvm)


def test_armv7_int8_kernels_use_vmull_and_vpadal_in_the_inner_loop(project):
    spec = shipped_target(project, "rpi3-armv7")  # 32-bit ARM: no sdot, no AArch64 smull/saddlp
    assert dot_in_inner_loop(spec, "vmull.s8") >= 4 and dot_in_inner_loop(spec, "vpadal.s16") >= 4
    assert dot_in_inner_loop(spec, "vmull.s8", x_dtype="uint8") >= 4  # u8 activations shifted to s8


@pytest.mark.parametrize("spec,w_min", [
    ({**X86, "mcpu": "cascadelake"}, -128), ({**X86, "mcpu": "skylake-avx512"}, -128),
    ({**X86, "mcpu": "haswell"}, -64), ({**X86, "mcpu": "haswell"}, -127), ({**X86, "mcpu": "haswell"}, -128),
    ({**ARM, "mcpu": "cortex-a76", "mattr": ["+neon", "+dotprod"]}, -128),
    ({**ARM, "mcpu": "cortex-a72", "mattr": ["+neon"]}, -128),
], ids=["vnni", "avx512wd", "avx2ub", "avx2sign", "avx2wd", "sdot", "neon"])
def test_int8_kernel_tiles_call_nothing(spec, w_min):
    # Register tiles used to allocate and free heap workspace through the runtime (a vector bound to a
    # name inside a micro-kernel; a tile over TVM's 1 KiB stack limit, zeroed by memset): 20% of a
    # 128x384x384 kernel's time on this host.
    w = np.random.default_rng(0).integers(w_min, min(-w_min, 127) + 1, (384, 384)).astype("int8")
    _, lambdas = functions(asm(spec, int8_module(128, 384, 384, x_dtype="uint8", w=w)[0]), "int8_dot")
    assert lambdas and not calls(lambdas)

