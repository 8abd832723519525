"""Conformance cases through the engines, in a process the run can lose:
`python -m edgebuild.flows.conformance_worker BATCH.pkl ROOT FIRST ENGINE,ENGINE...`.

For each case from index FIRST of the pickled batch and each engine it prints, as JSON lines on
its stdout, `{"start": [i, engine]}` and then the result; a crash or a hang is thus charged to the
case and engine that were running, and the parent restarts a worker after it.
"""

from __future__ import annotations

import json
import os
import pickle
import shutil
import sys
import tempfile
import warnings
from pathlib import Path

from .conformance_cases import Case, compare


def edgebuild_engine(case: Case, project, scratch: Path) -> list:
    """edgebuild's host build of the (folded) case, never tuned, run on the case's inputs. The build's
    reference input is the case's when ONNX's outputs on it are finite (synthetic N(0,1) may leave an
    operator's domain, e.g. a negative variance); a bundle never carries NaN or inf, so cases that test
    them (casts of inf, log of 0) keep the synthetic reference."""
    import numpy as np

    from ..compile.runner import HostModel
    from .build import BuildRequest, build

    model = scratch / f"{case.name}.onnx"
    model.write_bytes(case.folded_model)
    reference = None
    if all(np.all(np.isfinite(o)) for o in case.outputs if o.dtype.kind in "fc"):
        reference = scratch / "reference-inputs.npz"
        np.savez(reference, **case.build_inputs)
    out = scratch / "bundle"
    result = build(project, BuildRequest(model=str(model), out=out, tuned=False,
                                         reference=str(reference) if reference else None), say=lambda _: None)
    names = [i["name"] for i in result.manifest["inputs"]]
    return HostModel(out / "model.so", names)(case.build_inputs)


def tvm_engine(case: Case, project, scratch: Path) -> list:
    """TVM's stock pipeline: its ONNX importer and the CPU backend's default Relax pipeline, for the host."""
    import onnx
    import tvm
    from tvm import relax

    from ..compile.relax import host_target
    from ..compile.runner import flatten

    model = onnx.ModelProto.FromString(case.folded_model)
    mod = relax.frontend.onnx.from_onnx(model)
    target = host_target()
    executable = tvm.compile(mod, target=target, relax_pipeline=relax.get_default_pipeline(target))
    vm = relax.VirtualMachine(executable, tvm.cpu())
    names = [v.name for v in model.graph.input if v.name not in {i.name for i in model.graph.initializer}]
    return flatten(vm["main"](*(tvm.runtime.tensor(case.build_inputs[n]) for n in names)))


def onnxruntime_engine(case: Case, project, scratch: Path) -> list:
    """ONNX Runtime (CPU) on the case's model as ONNX ships it."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.log_severity_level = 4
    session = ort.InferenceSession(case.model, options, providers=["CPUExecutionProvider"])
    return session.run(None, case.inputs)


ENGINES = {"edgebuild": edgebuild_engine, "tvm": tvm_engine, "onnxruntime": onnxruntime_engine}


def run_one(engine: str, case: Case, project, scratch: Path) -> dict:
    """{"status": pass | fail | error, "detail": why not pass}."""
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            got = ENGINES[engine](case, project, scratch)
    except Exception as exc:  # any failure of an engine on a case is that engine's result for it
        return {"status": "error", "detail": f"{type(exc).__name__}: {_message(exc)}"}
    why = compare(got, case.outputs)
    result = {"status": "fail" if why else "pass", "detail": why}
    notes = sorted({str(w.message)[:200] for w in caught if issubclass(w.category, UserWarning)})
    if notes:
        result["warnings"] = notes
    return result


def _message(exc: Exception) -> str:
    lines = [ln.strip() for ln in str(exc).strip().splitlines() if ln.strip()]
    text = lines[-1] if lines and "Traceback" in str(exc) else " ".join(lines[:3])
    return text[:400]


def main(argv: list[str]) -> None:
    batch_file, root, first, engines = argv
    from ..project import Project

    # The protocol owns the real stdout; anything TVM, zig or ORT print goes to stderr.
    protocol = os.fdopen(os.dup(1), "w")
    os.dup2(2, 1)
    cases: list[Case] = pickle.loads(Path(batch_file).read_bytes())
    project = Project(Path(root))
    for i in range(int(first), len(cases)):
        for engine in engines.split(","):
            print(json.dumps({"start": [i, engine]}), file=protocol, flush=True)
            scratch = Path(tempfile.mkdtemp(prefix="edgebuild-conformance-"))
            try:
                result = run_one(engine, cases[i], project, scratch)
            finally:
                shutil.rmtree(scratch, ignore_errors=True)
            print(json.dumps({"case": i, "engine": engine, **result}), file=protocol, flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
