"""One hand-written TIR kernel runs a whole LSTM/GRU/RNN recurrence: every time step, in one call.

recurrent.py hoists the input projection of every step out of the recurrence (one MatMul) and hands
this kernel what stays sequential: per step, h @ R^T (register-blocked, vectorised) and the gates,
element-wise and vectorised, with the states kept in the output buffers. Directions run in parallel.
Unrolling the steps into Relax instead cost a VM call and a thread-pool barrier per kernel, several
kernels per step: with 2 threads on a loaded machine that dominated (a 2-layer bidirectional GRU
over 24 steps: 4x ONNX Runtime), and its build took minutes.

Inputs: X [dirs, seq*batch, G*H] (projection plus biases, in time order), RT [dirs, H, G*H], H0
[dirs, batch, H]; LSTM: C0 [dirs, batch, H], P [dirs, 3H]; GRU with linear_before_reset: RB [dirs, H];
last, with `lengths`: sequence_lens [batch] (int32; a sequence's steps past its length are zero in Y,
its states stop there, and the reverse direction starts from its last step).
Outputs: Y [seq, dirs, batch, H] (time order), Y_h [dirs, batch, H]; LSTM: Y_c [dirs, batch, H].
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass

SCHEDULER = "recurrent"  # the kernels table's name for who scheduled this kernel
SCHEDULER_ATTR = "edgebuild.scheduler"
CONFIG_ATTR = "edgebuild.recurrence"  # the kernel's Recurrence and input order, as JSON
VEC, BLOCK = 16, 4  # CPU: lanes per vector, vectors per register block of the recurrent matmul


@dataclass(frozen=True)
class Recurrence:
    op: str  # LSTM, GRU or RNN
    seq: int
    batch: int
    hidden: int
    reverse: tuple[bool, ...]  # per direction
    activations: tuple  # per direction: ((name, alpha, beta), ...) in ONNX order
    clip: float | None = None
    input_forget: bool = False
    linear_before_reset: bool = False
    peepholes: bool = False
    lengths: bool = False  # sequence_lens is an input (not every sequence is `seq` long)

    @property
    def gates(self) -> int:
        return {"LSTM": 4, "GRU": 3, "RNN": 1}[self.op]

    @property
    def dirs(self) -> int:
        return len(self.reverse)

    def outputs(self):
        state = (self.dirs, self.batch, self.hidden)
        return [(self.seq, self.dirs, self.batch, self.hidden), state] + ([state] if self.op == "LSTM" else [])


def emit(bb, cfg: Recurrence, inputs):
    """Emit the kernel's call in Relax (a tuple of cfg.outputs()). The kernel is the CPU one; its
    PrimFunc keeps cfg (CONFIG_ATTR) so that a GPU build swaps in the GPU one (for_gpu)."""
    unique, where = [], []  # te.extern takes each tensor once (an LSTM may start h and c from one tensor)
    for expr in inputs:
        found = next((i for i, u in enumerate(unique) if u.same_as(expr)), None)
        where.append(len(unique) if found is None else found)
        if found is None:
            unique.append(expr)
    call = bb.emit_te(lambda *tensors: _extern(cfg, where, tensors, gpu=False), *unique,
                      primfunc_name_hint=f"{cfg.op.lower()}_steps")
    gv = bb.lookup_binding(call).args[0]
    config = json.dumps({"cfg": dataclasses.asdict(cfg), "where": where})
    bb.update_func(gv, bb.get()[gv].with_attr(SCHEDULER_ATTR, SCHEDULER).with_attr(CONFIG_ATTR, config)
                   .with_attr("tirx.is_scheduled", True))
    return call


def for_gpu(func):
    """The GPU version of an emitted kernel (same parameters): one thread per direction, as on the CPU.
    Without it a GPU build compiles the kernel for the host, reading device memory."""
    from tvm import te

    saved = json.loads(str(func.attrs[CONFIG_ATTR]))
    cfg = config_from_json(saved["cfg"])
    params = func.params[:len(func.params) - len(cfg.outputs())]  # inputs, then outputs
    tensors = [te.placeholder(p.shape, p.dtype, p.name) for p in params]
    outs = _extern(cfg, saved["where"], tensors, gpu=True)
    gpu = te.create_prim_func([*tensors, *outs]).without_attr("global_symbol")  # the module names it
    for key, value in func.attrs.items():
        gpu = gpu.with_attr(key, value)
    return gpu


def config_from_json(data: dict) -> Recurrence:
    data = dict(data, reverse=tuple(data["reverse"]),
                activations=tuple(tuple(tuple(a) for a in per) for per in data["activations"]))
    return Recurrence(**data)


def _extern(cfg: Recurrence, where, tensors, gpu: bool):
    from tvm import te

    return te.extern(cfg.outputs(), list(tensors), lambda ins, outs: _ir(cfg, [ins[i] for i in where], outs, gpu),
                     dtype=["float32"] * len(cfg.outputs()), name=f"{cfg.op.lower()}_steps")


# --- element-wise math (TVM's fast_exp / fast_tanh, as the fast-math pass uses for the rest) -------

def _f(v):
    from tvm import tirx

    return tirx.const(v, "float32")


def fast_exp(x):
    """Cephes-style exp: 2^n * p(r), ~1e-7 relative; vectorises (no libm call)."""
    from tvm import tirx

    x = tirx.max(tirx.min(x, _f(88.3762626647950)), _f(-88.3762626647949))
    n = tirx.floor(x * _f(1.44269504088896341) + _f(0.5))
    r = x - n * _f(0.6931471805599453)
    p = _f(1.9875691500e-4)
    for c in (1.3981999507e-3, 8.3334519073e-3, 4.1665795894e-2, 1.6666665459e-1, 5.0000001201e-1):
        p = p * r + _f(c)
    scale = tirx.reinterpret("float32", tirx.shift_left(tirx.Cast("int32", n) + 127, 23))
    return (p * r * r + r + _f(1.0)) * scale


def fast_tanh(x):
    """Rational approximation on [-9, 9] (saturated beyond), ~1e-7 absolute."""
    from tvm import tirx

    x = tirx.max(tirx.min(x, _f(9.0)), _f(-9.0))
    x2 = x * x
    p = _f(-2.76076847742355e-16)
    for c in (2.00018790482477e-13, -8.60467152213735e-11, 5.12229709037114e-08, 1.48572235717979e-05,
              6.37261928875436e-04, 4.89352455891786e-03):
        p = p * x2 + _f(c)
    q = _f(1.19825839466702e-06)
    for c in (1.18534705686654e-04, 2.26843463243900e-03, 4.89352518554385e-03):
        q = q * x2 + _f(c)
    return x * p / q


def activation(name: str, alpha, beta, x):
    """ONNX's recurrent activation `name` of the float32 expression x."""
    from tvm import tirx

    zero, one = _f(0.0), _f(1.0)
    if name == "Sigmoid":
        return one / (one + fast_exp(-x))
    if name == "Tanh":
        return fast_tanh(x)
    if name == "Relu":
        return tirx.max(x, zero)
    if name == "Softsign":
        return x / (one + tirx.abs(x))
    if name == "Softplus":
        return tirx.log(one + tirx.exp(x))
    if name == "LeakyRelu":
        return tirx.Select(x >= zero, x, x * _f(alpha))
    if name == "ThresholdedRelu":
        return tirx.Select(x > _f(alpha), x, zero)
    if name == "Elu":
        return tirx.Select(x >= zero, x, _f(alpha) * (fast_exp(x) - one))
    if name == "HardSigmoid":
        return tirx.max(zero, tirx.min(one, _f(alpha) * x + _f(beta)))
    if name == "Affine":
        return _f(alpha) * x + _f(beta)
    if name == "ScaledTanh":
        return _f(alpha) * fast_tanh(_f(beta) * x)
    raise ValueError(f"unknown recurrent activation {name!r}")


# --- the kernel --------------------------------------------------------------------------------

def _ir(cfg: Recurrence, ins, outs, gpu: bool):
    """Directions in parallel (CPU threads, or GPU blocks of one thread); each direction sequential."""
    import contextlib

    from tvm.script.ir_builder import IRBuilder
    from tvm.script.ir_builder import tirx as T

    vec = 1 if gpu else VEC  # CUDA has no 16-lane float type
    with IRBuilder() as ib:
        if gpu:
            loop = T.thread_binding(0, cfg.dirs, "blockIdx.x")
        else:
            loop = T.parallel(0, cfg.dirs) if cfg.dirs > 1 else T.serial(0, 1)  # a frame for the scratch buffers
        with loop as d, (T.thread_binding(0, 1, "threadIdx.x") if gpu else contextlib.nullcontext()):
            if cfg.dirs == 1:
                _direction(cfg, 0, ins, outs, vec)
            else:
                with T.If(d == 0):
                    with T.Then():
                        _direction(cfg, 0, ins, outs, vec)
                    with T.Else():
                        _direction(cfg, 1, ins, outs, vec)
        return ib.get()


def _each(n: int, body, vec: int):
    """body(j) for j in [0, n): vectorised in vec-wide chunks, then a scalar tail."""
    from tvm.script.ir_builder import tirx as T

    if n >= vec:
        with T.serial(0, n // vec) as jo:
            with T.vectorized(0, vec) as ji:
                body(jo * vec + ji)
    if n % vec:
        with T.serial(n - n % vec, n) as j:
            body(j)


def _matvec(out, h, rt, col0: int, cols: int, hidden: int, vec: int):
    """out[col0 + j] = sum_k h(k) * rt[k, col0 + j] for j < cols: columns in register blocks, k innermost."""
    from tvm.script.ir_builder import tirx as T

    width = vec * BLOCK
    blocks = cols // width
    if blocks:
        with T.serial(0, blocks) as jo:
            acc = T.buffer_proxy(T.decl_buffer([width], "float32", scope="local"))
            with T.vectorized(0, width) as ji:
                acc[ji] = _f(0.0)
            with T.serial(0, hidden) as k:
                with T.vectorized(0, width) as ji:
                    acc[ji] = acc[ji] + h(k) * rt[k, col0 + jo * width + ji]
            with T.vectorized(0, width) as ji:
                out[col0 + jo * width + ji] = acc[ji]
    start = col0 + blocks * width
    if start < col0 + cols:
        def zero(j):
            out[start + j] = _f(0.0)
        _each(col0 + cols - start, zero, vec)
        with T.serial(0, hidden) as k:
            def axpy(j):
                out[start + j] = out[start + j] + h(k) * rt[k, start + j]
            _each(col0 + cols - start, axpy, vec)


def _direction(cfg: Recurrence, d: int, ins, outs, vec: int):
    """The whole recurrence of direction d (a Python int: its activations and time order are constants)."""
    from tvm.script.ir_builder import tirx as T

    H, op = cfg.hidden, cfg.op
    x, rt_all, h0 = (T.buffer_proxy(b) for b in ins[:3])
    y, hn = T.buffer_proxy(outs[0]), T.buffer_proxy(outs[1])
    c0, p = (T.buffer_proxy(b) for b in ins[3:5]) if op == "LSTM" else (None, None)
    rb = T.buffer_proxy(ins[3]) if op == "GRU" and cfg.linear_before_reset else None
    cn = T.buffer_proxy(outs[2]) if op == "LSTM" else None
    acts = [a[d] for a in cfg.activations]

    def act(k, v, clip=True):
        if clip and cfg.clip is not None:
            from tvm import tirx
            v = tirx.max(tirx.min(v, _f(cfg.clip)), _f(-cfg.clip))
        return activation(*acts[k], v)

    class Rt:  # R^T of this direction, indexed [k, column]
        def __getitem__(self, kj):
            return rt_all[d, kj[0], kj[1]]

    rt = Rt()
    gates = T.buffer_proxy(T.decl_buffer([cfg.gates * H], "float32", scope="local"))
    rh = T.buffer_proxy(T.decl_buffer([H], "float32", scope="local")) if op == "GRU" else None
    with T.serial(0, cfg.batch) as b:
        def init(j):
            hn[d, b, j] = h0[d, b, j]
            if cn is not None:
                cn[d, b, j] = c0[d, b, j]
        _each(H, init, vec)
    lens = T.buffer_proxy(ins[-1]) if cfg.lengths else None
    if lens is not None:
        with T.serial(0, cfg.seq * cfg.batch) as tb:
            def clear(j):
                y[tb // cfg.batch, d, tb % cfg.batch, j] = _f(0.0)
            _each(H, clear, vec)
    with T.serial(0, cfg.seq) as step:
        with T.serial(0, cfg.batch) as b:
            state = (d, b, act, x, rt, rb, p, y, hn, cn, gates, rh, vec)
            if lens is None:
                _step(cfg, cfg.seq - 1 - step if cfg.reverse[d] else step, *state)
            else:
                with T.If(step < lens[b]):
                    with T.Then():
                        _step(cfg, lens[b] - 1 - step if cfg.reverse[d] else step, *state)


def _step(cfg: Recurrence, t, d: int, b, act, x, rt, rb, p, y, hn, cn, gates, rh, vec: int):
    """Time step t of sequence b in direction d: hn (and cn) updated in place, y[t] written."""
    H, op = cfg.hidden, cfg.op

    def xg(g, j):
        return x[d, t * cfg.batch + b, g * H + j]

    def h(k):
        return hn[d, b, k]

    if op == "GRU" and not cfg.linear_before_reset:
        _matvec(gates, h, rt, 0, 2 * H, H, vec)

        def zr(j):
            gates[j] = act(0, xg(0, j) + gates[j])
            rh[j] = act(0, xg(1, j) + gates[H + j]) * hn[d, b, j]
        _each(H, zr, vec)
        _matvec(gates, lambda k: rh[k], rt, 2 * H, H, H, vec)
    else:
        _matvec(gates, h, rt, 0, cfg.gates * H, H, vec)

    def update(j):
        if op == "RNN":
            hn[d, b, j] = act(0, xg(0, j) + gates[j])
        elif op == "GRU":
            if cfg.linear_before_reset:
                z = act(0, xg(0, j) + gates[j])
                r = act(0, xg(1, j) + gates[H + j])
                n = act(1, xg(2, j) + r * (gates[2 * H + j] + rb[d, j]))
            else:
                z, n = gates[j], act(1, xg(2, j) + gates[2 * H + j])
            hn[d, b, j] = n + z * (hn[d, b, j] - n)
        else:
            c = cn[d, b, j]
            i_pre, f_pre = xg(0, j) + gates[j], xg(2, j) + gates[2 * H + j]
            if cfg.peepholes:
                i_pre, f_pre = i_pre + p[d, j] * c, f_pre + p[d, 2 * H + j] * c
            gates[j] = act(0, i_pre)
            forget = _f(1.0) - gates[j] if cfg.input_forget else act(0, f_pre)
            cn[d, b, j] = forget * c + gates[j] * act(1, xg(3, j) + gates[3 * H + j])
            o_pre = xg(1, j) + gates[H + j]
            if cfg.peepholes:
                o_pre = o_pre + p[d, H + j] * cn[d, b, j]
            hn[d, b, j] = act(0, o_pre) * act(2, cn[d, b, j], clip=False)
        y[t, d, b, j] = hn[d, b, j]
    _each(H, update, vec)
