"""ONNX LSTM, GRU and RNN rewritten into a hoisted input projection plus one recurrence kernel.

TVM 0.27's Relax importer has no converter for them. The rewrite happens on the ONNX graph, before
import: the input projection of every time step and both directions is one batched MatMul (hoisted
out of the recurrence, plus the biases), and what stays sequential (per step h @ R^T and the gates)
becomes one node of our own, STEPS_OP, which the importer turns into one TIR kernel over every step
(recurrent_kernel.py). Weights may be initializers or tensors: constant folding removes what is constant.

Supported: forward, reverse, bidirectional; initial states; peepholes; clip; input_forget;
layout 0 and 1; every activation ONNX defines; sequence_lens, constant or an input (the sequence
length itself comes from X's static shape).
"""

from __future__ import annotations

import dataclasses
import json

import numpy as np

from ..errors import CompileError
from . import onnx_graph, recurrent_kernel

OPS = ("LSTM", "GRU", "RNN")
STEPS_OP, DOMAIN = "RecurrentSteps", "ai.edgebuild"  # our node: the recurrence of one lowered OPS node
GATES = {"LSTM": 4, "GRU": 3, "RNN": 1}
DEFAULT_ACTIVATIONS = {"LSTM": ["Sigmoid", "Tanh", "Tanh"], "GRU": ["Sigmoid", "Tanh"], "RNN": ["Tanh"]}
ACTIVATIONS = ("Relu", "Tanh", "Sigmoid", "Softsign", "Softplus", "LeakyRelu", "ThresholdedRelu", "Elu",
               "HardSigmoid", "Affine", "ScaledTanh")
DEFAULT_ALPHA_BETA = {"LeakyRelu": (0.01, None), "ThresholdedRelu": (1.0, None), "Elu": (1.0, None),
                      "HardSigmoid": (0.2, 0.5), "Affine": (1.0, 0.0), "ScaledTanh": (1.0, 1.0)}


def lower(model):
    """`model` with every LSTM/GRU/RNN node replaced by a projection and a STEPS_OP node (a new ModelProto)."""
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
    model.opset_import.append(onnx.helper.make_opsetid(DOMAIN, 1))
    return model


def convert(bb, inputs, attrs):
    """The importer's converter of STEPS_OP: one call of the recurrence kernel."""
    return recurrent_kernel.emit(bb, recurrent_kernel.config_from_json(json.loads(attrs["config"])), inputs)


class _Cell:
    """One recurrent node and the nodes that replace it."""

    def __init__(self, node, index: int, shapes, constants):
        import onnx

        self.node, self.op = node, node.op_type
        self.where = f"{self.op} node {node.name or f'#{index}'!r}"
        self.prefix = f"{node.name or self.op.lower() + str(index)}__lowered"
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
        lens = constants.get(self.seq_lens) if self.seq_lens else None
        if lens is not None and np.all(lens == self.seq):
            self.seq_lens = ""  # every sequence is full: the kernel needs no lengths
        self.out = list(node.output) + [""] * (3 - len(node.output))
        self.initializers, self._nodes, self._count = [], [], 0

    def _activations(self, names, alphas, betas, per_dir):
        """[(name, alpha, beta)] per position in a direction, each a list over directions."""
        acts = []
        for name in names:
            if name not in ACTIVATIONS:
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

    def nodes(self):
        import onnx

        gates, hidden, seq, dirs = GATES[self.op], self.hidden, self.seq, self.dirs
        width = gates * hidden
        x = self._add("Transpose", [self.x], perm=[1, 0, 2]) if self.layout else self.x  # [seq, batch, in]
        # Hoisted input projection, all steps and directions: [1, seq*batch, in] @ [dirs, in, G*H].
        flat = self._add("Reshape", [x, self._const(np.array([1, seq * self.batch, -1], np.int64))])
        w_t = self._add("Transpose", [self.w], perm=[0, 2, 1])
        proj = self._add("MatMul", [flat, w_t], "input_projection")  # [dirs, seq*batch, G*H]: the kernel's X
        bias, recurrent_bias = self._biases(width)
        if bias is not None:
            proj = self._add("Add", [proj, bias])
        inputs = [proj, self._add("Transpose", [self.r], perm=[0, 2, 1]), self._state(self.h0, "h0")]  # R^T [dirs, H, G*H]
        if self.op == "LSTM":
            peep = self.p or self._const(np.zeros((dirs, 3 * hidden), np.float32), "no_peepholes")
            inputs += [self._state(self.c0, "c0"), peep]
        if self.op == "GRU" and self.linear_before_reset:
            inputs.append(recurrent_bias or self._const(np.zeros((dirs, hidden), np.float32), "no_bias"))
        if self.seq_lens:
            inputs.append(self._add("Cast", [self.seq_lens], to=onnx.TensorProto.INT32))
        outputs = [self._name(o) for o in ("y", "y_h", "y_c")[:3 if self.op == "LSTM" else 2]]
        self._nodes.append(onnx.helper.make_node(STEPS_OP, inputs, outputs, name=self._name("steps"), domain=DOMAIN,
                                                 config=json.dumps(dataclasses.asdict(self.config()))))
        self._finish(*outputs, *([None] if self.op != "LSTM" else []))
        return self._nodes

    def config(self) -> recurrent_kernel.Recurrence:
        reverse = {"forward": (False,), "reverse": (True,), "bidirectional": (False, True)}[self.direction]
        return recurrent_kernel.Recurrence(
            self.op, self.seq, self.batch, self.hidden, reverse, tuple(tuple(a) for a in self.activations),
            None if self.clip is None else float(self.clip), bool(self.input_forget),
            bool(self.linear_before_reset), bool(self.p), bool(self.seq_lens))

    def _biases(self, width: int):
        """(bias added to the input projection [dirs,1,G*H], GRU's Rb of the h gate [dirs, H] when it
        stays in the step (linear_before_reset: it multiplies with r), else None)."""
        if not self.b:
            return None, None
        wb = self._slice(self.b, 0, width, 1)
        rb = self._slice(self.b, width, 2 * width, 1)
        if self.op == "GRU" and self.linear_before_reset:
            h = self.hidden
            zr = self._add("Concat", [self._slice(rb, 0, 2 * h, 1),
                                      self._const(np.zeros((self.dirs, h), np.float32))], axis=1)
            total = self._add("Add", [wb, zr])
            inside = self._slice(rb, 2 * h, 3 * h, 1)
        else:
            total, inside = self._add("Add", [wb, rb]), None
        return self._add("Unsqueeze", [total, self._const(np.array([1], np.int64))]), inside

    def _state(self, name: str, hint: str) -> str:
        """Initial state [dirs, batch, H]: given, or zeros."""
        if not name:
            return self._const(np.zeros((self.dirs, self.batch, self.hidden), np.float32), hint)
        return self._add("Transpose", [name], perm=[1, 0, 2]) if self.layout else name

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
