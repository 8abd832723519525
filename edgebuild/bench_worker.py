"""One benchmark engine in its own process: `python -m edgebuild.bench_worker ENGINE ARG BUNDLE THREADS ROOT`.

Prints "ready" after warm-up, then for each line "N" on stdin times N runs (after one untimed run)
and prints their milliseconds as a JSON list. Ends when stdin closes.
"""

import json
import sys
import time
from pathlib import Path

from .bench import WARMUP, make_engine
from .project import Project


def main(argv: list[str]) -> None:
    name, arg, folder, threads, root = argv
    engine = make_engine(name, arg, Path(folder), int(threads), Project(Path(root)))
    for _ in range(WARMUP):
        engine.run()
    print("ready", flush=True)
    for line in sys.stdin:
        engine.run()  # untimed lead-in: wakes this engine's thread pool
        times = []
        for _ in range(int(line)):
            start = time.perf_counter()
            engine.run()
            times.append((time.perf_counter() - start) * 1e3)
        print(json.dumps(times), flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
