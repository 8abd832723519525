# TVM and its baseline (ONNX Runtime) timed on the device in one job: each engine in its own process,
# alternating blocks of runs (the order swaps every round), the same thread count for both; while one
# runs, the other waits on its stdin. Standard library only; sent after sense.py, with WORKERS (the
# sources of the two engine processes) defined ahead of it by the host. Usage:
#   python - BUNDLE TVM_SITE ORT_SITE RUNS MIN_SECONDS WARMUP THREADS PYTHON_ARGV_JSON
# Prints "EDGEBUILD-RESULT {...}" like agent.py, with the baseline's timings under "baseline".
import json
import os
import subprocess
import sys
import time

bundle, tvm_site, ort_site = sys.argv[1], sys.argv[2], sys.argv[3]
runs, min_seconds, warmup, threads = int(sys.argv[4]), float(sys.argv[5]), int(sys.argv[6]), int(sys.argv[7])
python = json.loads(sys.argv[8])
ROUNDS = 8  # at least; each engine runs one block per round
MAX_RUNS = 100000


def start(name, args):
    env = dict(os.environ, TVM_NUM_THREADS=str(threads), OMP_NUM_THREADS=str(threads), TVM_USE_RUNTIME_LIB="1")
    return subprocess.Popen(python + ["-c", WORKERS[name]] + args, stdin=subprocess.PIPE,  # noqa: F821
                            stdout=subprocess.PIPE, text=True, env=env)


def answer(proc, marker):
    for line in proc.stdout:
        if line.startswith(marker):
            return json.loads(line[len(marker):])
    raise SystemExit("an engine process ended early (status %s)" % proc.wait())


engines = {"tvm": start("tvm", [bundle, tvm_site, "0", "0", str(warmup), "serve"]),
           "onnxruntime": start("onnxruntime", [bundle, ort_site, tvm_site, str(threads), str(warmup)])}
info = {name: answer(proc, "EDGEBUILD-READY ") for name, proc in engines.items()}
times = {name: [] for name in engines}
spent = {name: 0.0 for name in engines}
block = max(1, -(-runs // ROUNDS))
clocks_before = clocks()  # noqa: F821 (sense.py)
rounds = 0
while info["tvm"]["ok"] and info["onnxruntime"]["ok"] and (
        rounds < ROUNDS or min(spent.values()) < min_seconds or min(map(len, times.values())) < runs):
    order = ["tvm", "onnxruntime"] if rounds % 2 == 0 else ["onnxruntime", "tvm"]
    for name in order:
        proc = engines[name]
        proc.stdin.write("run %d\n" % block)
        proc.stdin.flush()
        got = answer(proc, "EDGEBUILD-BLOCK ")
        times[name] += got
        spent[name] += sum(got) / 1e3
    rounds += 1
    if min(map(len, times.values())) >= MAX_RUNS:
        break
clocks_after = clocks()  # noqa: F821 (sense.py)
done = {}
for name, proc in engines.items():
    proc.stdin.write("quit\n")
    proc.stdin.flush()
    done[name] = answer(proc, "EDGEBUILD-DONE ")
    proc.wait()
tvm, base = info["tvm"], info["onnxruntime"]
result = dict(tvm, times_ms=times["tvm"], timed_seconds=spent["tvm"], warmup_runs=warmup,
              clocks_before=clocks_before, clocks_after=clocks_after, **done["tvm"])
if not base["ok"]:
    result.update(ok=False, error="onnxruntime baseline: %s" % base["error"])
result["baseline"] = dict(base, engine="onnxruntime", times_ms=times["onnxruntime"], rounds=rounds, block_runs=block,
                          threads=threads, **done["onnxruntime"])
print("EDGEBUILD-RESULT " + json.dumps(result), flush=True)
