# Runs on the device (stdin to its Python): what it is and what edgebuild has put there.
# Standard library only, and no syntax newer than Python 3.5, so old devices can be told clearly.
# Usage: python - WORK_DIR     Prints one JSON object.
import json
import os
import platform
import sys

work = os.path.expanduser(sys.argv[1])


def cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                key = line.split(":")[0].strip()
                if key in ("model name", "Model", "Hardware"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or ""


def runtime(folder="runtime", needs=("tvm", "lib", "libtvm_runtime.so")):
    try:
        with open(os.path.join(work, folder, "current.json")) as f:
            current = json.load(f)
    except (OSError, ValueError):
        return None
    site = os.path.join(work, folder, current.get("id", "?"), "site")
    current["present"] = os.path.isfile(os.path.join(site, *needs))
    current["versions"] = {}
    if current["present"]:
        for name in os.listdir(site):
            if name.endswith(".dist-info"):
                dist, version = name[: -len(".dist-info")].split("-", 1)
                current["versions"][dist] = version
    return current


def free_bytes():
    path = work
    while not os.path.isdir(path) and os.path.dirname(path) != path:
        path = os.path.dirname(path)
    st = os.statvfs(path)
    return st.f_bavail * st.f_frsize


def bundles():
    folder = os.path.join(work, "bundles")
    out = {}
    if os.path.isdir(folder):
        for name in sorted(os.listdir(folder)):
            path = os.path.join(folder, name)
            if not name.startswith(".") and os.path.islink(path):
                out[name] = os.readlink(path)
    return out


print(json.dumps({
    "machine": platform.machine(),
    "python": list(sys.version_info[:3]),
    "implementation": platform.python_implementation(),
    "libc": list(platform.libc_ver()),
    "cpu_model": cpu_model(),
    "cores": os.cpu_count(),
    "work_dir": work,
    "free_bytes": free_bytes(),
    "runtime": runtime(),
    "baselines": {"onnxruntime": runtime("runtime-onnxruntime", ("onnxruntime", "__init__.py"))},
    "bundles": bundles(),
}))
