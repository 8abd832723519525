# What the device says about its clocks and the process's memory: standard library only, sent
# ahead of the agent scripts (agent.py, ort_agent.py, pair.py) that use it.
import shutil
import subprocess
import threading


def read(path):
    try:
        with open(path) as f:
            return f.read().strip()
    except OSError:
        return None


def command(argv):
    if not shutil.which(argv[0]):
        return None
    try:
        return subprocess.run(argv, capture_output=True, text=True, timeout=5).stdout.strip() or None
    except (OSError, subprocess.SubprocessError):
        return None


def clocks():
    cpu = "/sys/devices/system/cpu/cpu0/cpufreq/"
    state = {"governor": read(cpu + "scaling_governor"), "freq_khz": read(cpu + "scaling_cur_freq"),
             "max_freq_khz": read(cpu + "scaling_max_freq"),
             "throttled": command(["vcgencmd", "get_throttled"]),  # Raspberry Pi firmware flags
             "jetson_power_mode": command(["nvpmodel", "-q"]),
             # GPU, memory and CPU clocks (Jetson); needs root on most images, else nothing is read
             "jetson_clocks": command(["jetson_clocks", "--show"])}
    return {k: v for k, v in state.items() if v is not None}


def status_bytes(field):  # VmRSS: resident now; VmHWM: peak resident
    for line in (read("/proc/self/status") or "").splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) * 1024
    return None


def vm_hwm():
    return status_bytes("VmHWM")


def reset_peak():
    # Writing 5 to clear_refs resets VmHWM (Linux >= 4.0): the model's memory excludes the imports.
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


def model_rss(imported_rss, peak_was_reset):
    """The model's own memory: peak resident set above the one after importing the runtime, or None."""
    return vm_hwm() - imported_rss if peak_was_reset and imported_rss else None


def tegrastats():
    """One line of Jetson's tegrastats (it prints one per interval until stopped), or None."""
    if not shutil.which("tegrastats"):
        return None
    try:
        proc = subprocess.Popen(["tegrastats", "--interval", "100"], stdout=subprocess.PIPE,
                                stderr=subprocess.DEVNULL, text=True)
    except OSError:
        return None
    timer = threading.Timer(5, proc.kill)  # a tegrastats that prints nothing must not hang the agent
    timer.start()
    try:
        return proc.stdout.readline().strip() or None
    finally:
        timer.cancel()
        proc.kill()
        proc.wait()
