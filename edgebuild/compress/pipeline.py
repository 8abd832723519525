"""Runs a recipe on one model and measures every step: the per-step compression table.

build.py calls `torch_steps` before export and `graph_steps` after it. Each row records params,
non-zero params, MACs, weight bytes and the model's metric before/after, with the metric's source
(`pytorch` or `onnxruntime`: fast per-step estimates); `finish` adds the compiled graph's metric,
which is the only one the gate uses.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any, Callable

from ..errors import ConfigError, GateFailed, ModelError
from ..progress import SILENT, Progress
from .base import Context
from .gate import check
from .measure import graph_numbers, metric_of, onnx_predict, torch_numbers, torch_predict
from .recipe import Recipe, technique_of

FP32Build = Callable[[Any], Callable]  # ModelProto -> predict (named inputs -> outputs)


class Pipeline:
    def __init__(self, recipe: Recipe, model, specs, say: Callable[[str], None] = print,
                 calibration: str | None = None, progress: Progress = SILENT):
        self.recipe, self.model, self.specs, self.say = recipe, model, specs, say
        self.calibration, self.progress = calibration, progress
        self._reference = None  # (samples, fp32 outputs) for models without a quality metric
        self.steps = [(technique_of(c), c) for c in recipe.configs]
        self.rows: list[dict[str, Any]] = []
        self.baseline: dict[str, Any] | None = None
        self._last: float | None = None
        torch_steps = [t.name for t, _ in self.steps if t.stage == "torch"]
        if torch_steps and model.kind != "torch":
            raise ConfigError(f"recipe {recipe.name!r}: {', '.join(torch_steps)} needs a PyTorch model, and "
                              f"{model.name} is an ONNX file; use a graph recipe (int8-static, int8-dynamic, "
                              "fp16) for ONNX files")

    @property
    def active(self) -> bool:
        return bool(self.steps)

    @property
    def sparse_kernel_above(self) -> float | None:
        """The sparsity from which a step asks the compiler for a sparse matmul kernel, if any."""
        found = [c.sparse_kernel_above for _, c in self.steps if getattr(c, "sparse_kernel_above", None) is not None]
        return min(found) if found else None

    def samples(self, count: int) -> list[dict[str, Any]]:
        """Up to `count` input samples from the calibration source (none when the model has none and
        no --calibration was given)."""
        try:
            return self._context().calibration(count)
        except ModelError:
            return []

    def _context(self) -> Context:
        return Context(self.model, self.specs, self.say, calibration_source=self.calibration, progress=self.progress)

    def _metric(self, predict) -> tuple[str | None, float | None]:
        name, value = metric_of(self.model.metrics(predict, self.specs))
        if name is None:  # an ONNX file has no quality metric: agreement with its fp32 graph instead
            return "cosine_to_fp32", self._agreement(predict)
        return name, value

    def _agreement(self, predict) -> float:
        """Mean cosine of all outputs to the fp32 graph's, on (up to 16) calibration samples."""
        import numpy as np

        if self._reference is None:  # the first call is the fp32 baseline itself
            samples = self._context().calibration(16)
            self._reference = (samples, [predict(s) for s in samples])
        samples, reference = self._reference
        cosines = []
        for sample, want in zip(samples, reference):
            got = np.concatenate([np.ravel(o).astype(np.float64) for o in predict(sample)])
            ref = np.concatenate([np.ravel(o).astype(np.float64) for o in want])
            cosines.append(float(got @ ref / (np.linalg.norm(got) * np.linalg.norm(ref) + 1e-30)))
        return round(float(np.mean(cosines)), 6)

    def _baseline(self, numbers: dict[str, int], predict, source: str, note: str | None = None) -> None:
        if self.baseline is None:
            name, value = self._metric(predict) if predict is not None else (None, None)
            self.baseline = {"metric": name, "value": value, "source": source, **numbers}
            if note:
                self.baseline["notes"] = [note]
            self._last = value

    def _graph_predict(self, proto, fp32_build: FP32Build | None = None):
        """(predict, source, note): ONNX Runtime on `proto`; where ORT cannot run it, `fp32_build`
        (edgebuild's own build of the same graph) if given, else None with the reason."""
        from .onnx_tools import ort_errors

        try:
            predict = onnx_predict(proto)
            predict(self.model.reference_inputs(self.specs))  # ORT refuses some graphs only when run
            return predict, "onnxruntime", None
        except ort_errors() as exc:
            note = f"onnxruntime cannot run this graph: {' '.join(str(exc).split())[:200]}"
        if fp32_build is None:
            return None, "onnxruntime", note
        self.say(f"    {note}; the fp32 reference is edgebuild's own build of it")
        return fp32_build(proto), "edgebuild", note

    def torch_steps(self, module, check: Callable[[list[dict[str, Any]]], None] | None = None):
        """The module after the recipe's PyTorch steps (pruning, low-rank, distillation, QAT...).
        `check` sees the rows after each step and may raise to stop before the next one."""
        todo = [(t, c) for t, c in self.steps if t.stage == "torch"]
        if not todo:
            return module
        self._baseline(torch_numbers(module, self.specs), torch_predict(module, self.specs), "pytorch")
        for technique, config in todo:
            start, ctx = time.perf_counter(), self._context()
            module = technique.apply(module, config, ctx)
            self._row(technique, config, ctx, torch_numbers(module, self.specs),
                      torch_predict(module, self.specs), "pytorch", start)
            if check is not None:
                check(self.rows)
        return module

    def graph_steps(self, path: Path, fp32_build: FP32Build | None = None) -> None:
        """Rewrite the exported graph at `path` with the recipe's graph steps (int8, fp16). Metrics come
        from ONNX Runtime; the fp32 graph's from `fp32_build` when ORT cannot run it."""
        import onnx

        todo = [(t, c) for t, c in self.steps if t.stage == "onnx"]
        if not todo:
            return
        proto = onnx.load(str(path))
        self._baseline(graph_numbers(proto), *self._graph_predict(proto, fp32_build))
        for technique, config in todo:
            start, ctx = time.perf_counter(), self._context()
            proto = technique.apply(proto, config, ctx)
            predict, source, note = self._graph_predict(proto)
            if note:
                ctx.notes["onnxruntime"] = note
            self._row(technique, config, ctx, graph_numbers(proto), predict, source, start)
        onnx.save(proto, str(path))

    def _row(self, technique, config, ctx, numbers, predict, source, start) -> None:
        name, value = self._metric(predict) if predict is not None else (None, None)
        row = {"step": len(self.rows) + 1, "technique": technique.name, "stage": technique.stage, **numbers,
               "metric": name, "before": self._last, "after": value, "metric_source": source,
               "time_s": round(time.perf_counter() - start, 3)}
        if ctx.notes:
            row["notes"] = ctx.notes
        self.rows.append(row)
        if value is not None:
            self._last = value
        self.say(f"    step {row['step']} {technique.name}: {name} {row['before']} -> {value} ({source})")

    def finish(self, metrics: dict[str, Any], compiled: Path, runner) -> list[dict[str, Any]]:
        """The table with the compiled graph's row; raises GateFailed (with the table) past the gate."""
        import onnx

        if not self.active:
            return []
        numbers = graph_numbers(onnx.load(str(compiled)))
        name, value = metric_of(metrics)
        if self.baseline["value"] is None and self.recipe.gate is not None:
            why = "; ".join(self.baseline.get("notes", [])) or "the fp32 graph has no metric"
            raise GateFailed(f"recipe {self.recipe.name!r}: its gate cannot be evaluated, there is no fp32 "
                             f"reference ({why}). No bundle was written.")
        if name is None:
            name, value = self._metric(runner)
            metrics[name] = value  # the compiled graph's agreement with the fp32 graph
        table = [{"step": 0, "technique": "fp32", "stage": self.baseline["source"],
                  **{k: v for k, v in self.baseline.items() if k not in ("metric", "value", "source")},
                  "metric": self.baseline["metric"], "after": self.baseline["value"],
                  "metric_source": self.baseline["source"]},
                 *self.rows,
                 {"step": len(self.rows) + 1, "technique": "compiled", "stage": "tvm", **numbers,
                  "metric": name, "before": self._last, "after": value, "metric_source": "compiled graph"}]
        check(self.recipe, self.baseline["value"], name, value, table)
        return table
