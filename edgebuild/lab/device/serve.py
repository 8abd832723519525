# Timed blocks on request, for a baseline run beside another engine (pair.py drives it). Standard
# library only; sent ahead of agent.py and ort_agent.py. Between blocks the process waits on its
# stdin: the idle engine is blocked, not spinning, while the other one runs.
#   stdout: "EDGEBUILD-READY {info}", then per "run N" line on stdin "EDGEBUILD-BLOCK [ms, ...]",
#           and at "quit" "EDGEBUILD-DONE {peak_rss_bytes, model_rss_bytes}".
import json
import sys
import time


def serve(run, info, imported_rss, peak_was_reset):
    print("EDGEBUILD-READY " + json.dumps(info), flush=True)
    for line in sys.stdin:
        words = line.split()
        if words[:1] == ["run"]:
            times = []
            for _ in range(int(words[1])):
                t = time.perf_counter()
                run()
                times.append(round((time.perf_counter() - t) * 1e3, 6))
            print("EDGEBUILD-BLOCK " + json.dumps(times), flush=True)
        elif words == ["quit"]:
            break
    print("EDGEBUILD-DONE " + json.dumps({"peak_rss_bytes": vm_hwm(),  # noqa: F821 (sense.py)
                                          "model_rss_bytes": model_rss(imported_rss, peak_was_reset)}),  # noqa: F821
          flush=True)
    sys.exit(0)
