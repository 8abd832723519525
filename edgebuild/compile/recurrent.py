"""ONNX LSTM, GRU and RNN rewritten into plain operators, unrolled over the static sequence length.

TVM 0.27's Relax importer has no converter for them. The rewrite happens on the ONNX graph, before
import: the input projection of every time step and both directions is one batched MatMul (hoisted
out of the recurrence); each step then costs one MatMul with the recurrent weights (two for a GRU
with linear_before_reset=0) plus elementwise gates, over all directions at once (directions are a
leading batch axis, the reverse one reads its inputs reversed). Weights may be initializers or
tensors: everything is ONNX operators, and constant folding removes what is constant.

Supported: forward, reverse, bidirectional; initial states; peepholes; clip; input_forget;
layout 0 and 1; every activation ONNX defines. sequence_lens must be constant and equal to the
sequence length (static shapes); shorter sequences are refused with the node named.
"""

from __future__ import annotations

import numpy as np

from ..errors import CompileError
from . import onnx_graph

OPS = ("LSTM", "GRU", "RNN")
GATES = {"LSTM": 4, "GRU": 3, "RNN": 1}
DEFAULT_ACTIVATIONS = {"LSTM": ["Sigmoid", "Tanh", "Tanh"], "GRU": ["Sigmoid", "Tanh"], "RNN": ["Tanh"]}
# ONNX activation name -> (op, attribute names that take activation_alpha / activation_beta)
NATIVE = {"Relu": (), "Tanh": (), "Sigmoid": (), "Softsign": (), "Softplus": (),
          "LeakyRelu": ("alpha",), "ThresholdedRelu": ("alpha",), "Elu": ("alpha",), "HardSigmoid": ("alpha", "beta")}
DEFAULT_ALPHA_BETA = {"LeakyRelu": (0.01, None), "ThresholdedRelu": (1.0, None), "Elu": (1.0, None),
                      "HardSigmoid": (0.2, 0.5), "Affine": (1.0, 0.0), "ScaledTanh": (1.0, 1.0)}


def lower(model):
    """`model` with every LSTM/GRU/RNN node replaced by plain operators (a new ModelProto)."""
    import onnx

    if not any(n.op_type in OPS and n.domain in ("", "ai.onnx") for n in model.graph.node):
        return model
    model = onnx.ModelProto.FromString(model.SerializeToString())
    shapes, constants = onnx_graph.shapes(model), onnx_graph.constants(model)
    nodes = []
    for i, node in enumerate(model.graph.node):
        if node.op_type in OPS and node.domain in ("", "ai.onnx"):
            cell = _Cell(node, i, shapes, constants)
            nodes.extend(cell.nodes())
            model.graph.initializer.extend(cell.initializers)
        else:
            nodes.append(node)
    del model.graph.node[:]
    model.graph.node.extend(nodes)
    return model


class _Cell:
    """One recurrent node and the nodes that replace it."""

    def __init__(self, node, index: int, shapes, constants):
        import onnx

        self.node, self.op = node, node.op_type
        self.where = f"{self.op} node {node.name or f'#{index}'!r}"
        self.prefix = f"{node.name or self.op.lower() + str(index)}__unrolled"
        attrs = {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}
        self.hidden = int(attrs.get("hidden_size", 0))
        direction = attrs.get("direction", b"forward")
        self.direction = direction.decode() if isinstance(direction, bytes) else direction
        self.dirs = 2 if self.direction == "bidirectional" else 1
        self.layout = int(attrs.get("layout", 0))
        self.clip = attrs.get("clip")
        self.input_forget = int(attrs.get("input_forget", 0))
        self.linear_before_reset = int(attrs.get("linear_before_reset", 0))
        names = [a.decode() if isinstance(a, bytes) else a for a in attrs.get("activations", [])]
        per_dir = len(DEFAULT_ACTIVATIONS[self.op])
        names = names or DEFAULT_ACTIVATIONS[self.op] * self.dirs
        if len(names) != per_dir * self.dirs:
            raise CompileError(f"{self.where}: {len(names)} activations given, expected {per_dir * self.dirs}")
        self.activations = self._activations(names, list(attrs.get("activation_alpha", [])),
                                             list(attrs.get("activation_beta", [])), per_dir)
        inputs = list(node.input) + [""] * (8 - len(node.input))
        self.x, self.w, self.r, self.b, self.seq_lens, self.h0, self.c0, self.p = inputs[:8]
        x_shape = shapes.get(self.x)
        if x_shape is None or len(x_shape) != 3 or min(x_shape) <= 0:
            raise CompileError(f"{self.where}: input X needs a static 3-d shape (fix the model's input shapes)")
        self.seq, self.batch = (x_shape[1], x_shape[0]) if self.layout else x_shape[:2]
        if self.hidden <= 0:
            self.hidden = max(shapes.get(self.r, (0, 0, 0))[-1], 0)
        if self.hidden <= 0:
            raise CompileError(f"{self.where}: hidden_size is not set and R has no static shape")
        if self.seq_lens:
            lens = constants.get(self.seq_lens)
            if lens is None or not np.all(lens == self.seq):
                raise CompileError(
                    f"{self.where}: sequence_lens must be a constant equal to the sequence length {self.seq} "
                    "(shorter sequences are not supported); fix the input shape instead")
        self.out = list(node.output) + [""] * (3 - len(node.output))
        self.initializers, self._nodes, self._count = [], [], 0

    def _activations(self, names, alphas, betas, per_dir):
        """[(name, alpha, beta)] per position in a direction, each a list over directions."""
        acts = []
        for name in names:
            if name not in NATIVE and name not in ("Affine", "ScaledTanh"):
                raise CompileError(f"{self.where}: activation {name!r} is not an ONNX recurrent activation")
            alpha, beta = DEFAULT_ALPHA_BETA.get(name, (None, None))
            if alpha is not None and alphas:
                alpha = alphas.pop(0)
            if beta is not None and betas:
                beta = betas.pop(0)
            acts.append((name, alpha, beta))
        return [[acts[d * per_dir + k] for d in range(self.dirs)] for k in range(per_dir)]

    # --- graph building -------------------------------------------------------------------------

    def _name(self, hint: str) -> str:
        self._count += 1
        return f"{self.prefix}/{hint}{self._count}"

    def _add(self, op: str, inputs, hint: str | None = None, **attrs) -> str:
        import onnx

        out = self._name(hint or op.lower())
        self._nodes.append(onnx.helper.make_node(op, list(inputs), [out], name=out, **attrs))
        return out

    def _const(self, value, hint: str = "const") -> str:
        import onnx

        name = self._name(hint)
        self.initializers.append(onnx.numpy_helper.from_array(np.asarray(value), name))
        return name

    def _slice(self, x: str, start: int, end: int, axis: int) -> str:
        return self._add("Slice", [x, self._const(np.array([start], np.int64)), self._const(np.array([end], np.int64)),
                                   self._const(np.array([axis], np.int64))])

    def _activate(self, x: str, per_dir) -> str:
        """Activation (one per direction) of x [dirs, ...]."""
        if all(a == per_dir[0] for a in per_dir):
            return self._one_activation(x, *per_dir[0])
        parts = [self._one_activation(self._slice(x, d, d + 1, 0), *per_dir[d]) for d in range(self.dirs)]
        return self._add("Concat", parts, axis=0)

    def _one_activation(self, x: str, name: str, alpha, beta) -> str:
        if name == "Affine":
            return self._add("Add", [self._add("Mul", [x, self._const(np.float32(alpha))]), self._const(np.float32(beta))])
        if name == "ScaledTanh":
            inner = self._add("Tanh", [self._add("Mul", [x, self._const(np.float32(beta))])])
            return self._add("Mul", [inner, self._const(np.float32(alpha))])
        attrs = dict(zip(NATIVE[name], [v for v in (alpha, beta) if v is not None]))
        return self._add(name, [x], **{k: float(v) for k, v in attrs.items()})

    def _clip(self, x: str) -> str:
        if self.clip is None:
            return x
        return self._add("Clip", [x, self._const(np.float32(-self.clip)), self._const(np.float32(self.clip))])

    # --- the rewrite ----------------------------------------------------------------------------

    def nodes(self):
        gates, hidden, seq, dirs = GATES[self.op], self.hidden, self.seq, self.dirs
        width = gates * hidden
        x = self._add("Transpose", [self.x], perm=[1, 0, 2]) if self.layout else self.x  # [seq, batch, in]
        # Hoisted input projection, all steps and directions: [1, seq*batch, in] @ [dirs, in, G*H].
        flat = self._add("Reshape", [x, self._const(np.array([1, seq * self.batch, -1], np.int64))])
        w_t = self._add("Transpose", [self.w], perm=[0, 2, 1])
        proj = self._add("MatMul", [flat, w_t], "input_projection")
        proj = self._add("Reshape", [proj, self._const(np.array([dirs, seq, self.batch, width], np.int64))])
        bias, recurrent_bias = self._biases(width)
        if bias is not None:
            proj = self._add("Add", [proj, bias])
        steps = self._reverse_where_needed(proj, axis=1)  # step k of direction d at [d, k]
        r_t = self._add("Transpose", [self.r], perm=[0, 2, 1])  # [dirs, H, G*H]
        h = self._state(self.h0, "h0")
        c = self._state(self.c0, "c0") if self.op == "LSTM" else None
        peep = self._peepholes() if self.op == "LSTM" and self.p else None
        outs = []
        for k in range(seq):
            # Slice + Squeeze, not Gather: the importer turns a scalar Gather index into shape
            # arithmetic that FoldConstant compiles a kernel for, per step (minutes per LSTM).
            x_k = self._add("Squeeze", [self._slice(steps, k, k + 1, 1), self._const(np.array([1], np.int64))])
            h, c = self._step(x_k, h, c, r_t, recurrent_bias, peep)
            outs.append(h)
        ys = self._add("Concat", [self._add("Unsqueeze", [o, self._const(np.array([0], np.int64))]) for o in outs],
                       axis=0) if seq > 1 else self._add("Unsqueeze", [outs[0], self._const(np.array([0], np.int64))])
        y = self._reverse_where_needed(ys, axis=0, dir_axis=1)  # [seq, dirs, batch, H] in time order
        self._finish(y, h, c)
        return self._nodes

    def _biases(self, width: int):
        """(bias added to the input projection [dirs,1,1,G*H], bias kept inside the recurrence or None)."""
        if not self.b:
            return None, None
        wb = self._slice(self.b, 0, width, 1)
        rb = self._slice(self.b, width, 2 * width, 1)
        if self.op == "GRU" and self.linear_before_reset:
            h = self.hidden  # Rb of the h gate multiplies with r: it stays in the step
            zr = self._add("Concat", [self._slice(rb, 0, 2 * h, 1),
                                      self._const(np.zeros((self.dirs, h), np.float32))], axis=1)
            total = self._add("Add", [wb, zr])
            inside = self._add("Unsqueeze", [self._slice(rb, 2 * h, 3 * h, 1), self._const(np.array([1], np.int64))])
        else:
            total, inside = self._add("Add", [wb, rb]), None
        return self._add("Reshape", [total, self._const(np.array([self.dirs, 1, 1, width], np.int64))]), inside

    def _reverse_where_needed(self, x: str, axis: int, dir_axis: int = 0) -> str:
        """x with the time axis reversed for the reverse direction (x has directions on dir_axis)."""
        order = self._const(np.arange(self.seq - 1, -1, -1, dtype=np.int64))
        if self.direction == "forward":
            return x
        if self.direction == "reverse":
            return self._add("Gather", [x, order], axis=axis)
        fwd = self._slice(x, 0, 1, dir_axis)
        rev = self._add("Gather", [self._slice(x, 1, 2, dir_axis), order], axis=axis)
        return self._add("Concat", [fwd, rev], axis=dir_axis)

    def _state(self, name: str, hint: str) -> str:
        """Initial state [dirs, batch, H]: given, or zeros."""
        if not name:
            return self._const(np.zeros((self.dirs, self.batch, self.hidden), np.float32), hint)
        return self._add("Transpose", [name], perm=[1, 0, 2]) if self.layout else name

    def _peepholes(self):
        p = self._add("Unsqueeze", [self.p, self._const(np.array([1], np.int64))])  # [dirs, 1, 3H]
        h = self.hidden
        return [self._slice(p, i * h, (i + 1) * h, 2) for i in range(3)]  # i, o, f

    def _step(self, x_k, h, c, r_t, recurrent_bias, peep):
        hid = self.hidden
        if self.op == "GRU" and not self.linear_before_reset:
            zr = self._add("Add", [self._slice(x_k, 0, 2 * hid, 2),
                                   self._add("MatMul", [h, self._slice(r_t, 0, 2 * hid, 2)])])
            z = self._activate(self._clip(self._slice(zr, 0, hid, 2)), self.activations[0])
            r = self._activate(self._clip(self._slice(zr, hid, 2 * hid, 2)), self.activations[0])
            rh = self._add("MatMul", [self._add("Mul", [r, h]), self._slice(r_t, 2 * hid, 3 * hid, 2)])
            n = self._activate(self._clip(self._add("Add", [self._slice(x_k, 2 * hid, 3 * hid, 2), rh])),
                               self.activations[1])
            return self._gru_mix(z, n, h), None
        gates = self._add("MatMul", [h, r_t])
        if self.op == "RNN":
            return self._activate(self._clip(self._add("Add", [x_k, gates])), self.activations[0]), None
        if self.op == "GRU":
            zr = self._add("Add", [self._slice(x_k, 0, 2 * hid, 2), self._slice(gates, 0, 2 * hid, 2)])
            z = self._activate(self._clip(self._slice(zr, 0, hid, 2)), self.activations[0])
            r = self._activate(self._clip(self._slice(zr, hid, 2 * hid, 2)), self.activations[0])
            rh = self._slice(gates, 2 * hid, 3 * hid, 2)
            if recurrent_bias is not None:
                rh = self._add("Add", [rh, recurrent_bias])
            n = self._activate(self._clip(self._add("Add", [self._slice(x_k, 2 * hid, 3 * hid, 2),
                                                            self._add("Mul", [r, rh])])), self.activations[1])
            return self._gru_mix(z, n, h), None
        return self._lstm(self._add("Add", [x_k, gates]), c, peep)

    def _gru_mix(self, z, n, h):
        """(1 - z) * n + z * h  ==  n + z * (h - n)"""
        return self._add("Add", [n, self._add("Mul", [z, self._add("Sub", [h, n])])])

    def _lstm(self, g, c, peep):
        hid = self.hidden
        i_pre, o_pre, f_pre, c_pre = (self._slice(g, k * hid, (k + 1) * hid, 2) for k in range(4))
        if peep is not None:
            i_pre = self._add("Add", [i_pre, self._add("Mul", [peep[0], c])])
            f_pre = self._add("Add", [f_pre, self._add("Mul", [peep[2], c])])
        f_act, g_act, h_act = self.activations
        i = self._activate(self._clip(i_pre), f_act)
        if self.input_forget:
            f = self._add("Sub", [self._const(np.float32(1.0)), i])
        else:
            f = self._activate(self._clip(f_pre), f_act)
        cand = self._activate(self._clip(c_pre), g_act)
        c_new = self._add("Add", [self._add("Mul", [f, c]), self._add("Mul", [i, cand])])
        if peep is not None:
            o_pre = self._add("Add", [o_pre, self._add("Mul", [peep[1], c_new])])
        o = self._activate(self._clip(o_pre), f_act)
        return self._add("Mul", [o, self._activate(c_new, h_act)]), c_new

    def _finish(self, y, h, c):
        """Bind the node's outputs: Y [seq, dirs, batch, H] (layout 1: [batch, seq, dirs, H]), Y_h, Y_c."""
        import onnx

        results = [(self.out[0], y, [2, 0, 1, 3]), (self.out[1], h, [1, 0, 2]), (self.out[2], c, [1, 0, 2])]
        for name, value, perm in results:
            if not name:
                continue
            if self.layout:
                self._nodes.append(onnx.helper.make_node("Transpose", [value], [name], perm=perm, name=name + "/out"))
            else:
                self._nodes.append(onnx.helper.make_node("Identity", [value], [name], name=name + "/out"))
