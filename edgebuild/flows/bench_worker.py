"""One benchmark engine in its own process: `python -m edgebuild.flows.bench_worker ENGINE ARG BUNDLE THREADS ROOT`.

Prints "ready" after warm-up, then for each line "N" (or "N K") on stdin times N runs (each the mean of
K back-to-back runs; after one untimed run) and prints their milliseconds as a JSON list. When stdin closes it prints the process's memory as
JSON: resident set after importing the engine's runtime (before the model), and the peak since.
"""

import importlib
import json
import os
import sys
import time
from pathlib import Path

from .bench import RUNTIME_MODULES, WARMUP, make_engine
from ..project import Project


def main(argv: list[str]) -> None:
    name, arg, folder, threads, root = argv
    if RUNTIME_MODULES[name] == "tvm":
        # As on a device: TVM's runtime library only, and no torch, which tvm_ffi imports when it can
        # (~200 MiB that a device never has).
        os.environ["TVM_USE_RUNTIME_LIB"] = "1"
        sys.modules["torch"] = None
    importlib.import_module(RUNTIME_MODULES[name])
    baseline = _rss_bytes("VmRSS")
    _reset_peak()
    engine = make_engine(name, arg, Path(folder), int(threads), Project(Path(root)))
    for _ in range(WARMUP):
        engine.run()
    print("ready", flush=True)
    for line in sys.stdin:
        count, _, repeat = line.partition(" ")
        repeat = int(repeat or 1)  # runs per timing: a ~10 us model is timed over a batch of runs
        engine.run()  # untimed lead-in: wakes this engine's thread pool
        times = []
        for _ in range(int(count)):
            start = time.perf_counter()
            for _ in range(repeat):
                engine.run()
            times.append((time.perf_counter() - start) * 1e3 / repeat)
        print(json.dumps(times), flush=True)
    print(json.dumps({"baseline_rss_bytes": baseline, "peak_rss_bytes": _rss_bytes("VmHWM")}), flush=True)
    os._exit(0)  # all is reported: skip the runtimes' thread-pool teardown, which can take long under load


def _rss_bytes(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) * 1024
    raise RuntimeError(f"/proc/self/status has no {field}")


def _reset_peak() -> None:
    # Writing 5 to clear_refs resets VmHWM (Linux >= 4.0), so the peak excludes the imports.
    Path("/proc/self/clear_refs").write_text("5")


if __name__ == "__main__":
    main(sys.argv[1:])
