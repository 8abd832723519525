import os
import time

from edgebuild.flows.bench_load import BusyCore


def cpu_ticks(pid):
    fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])  # utime + stime


def test_busy_core_is_pinned_and_burns_cpu_only_while_running():
    load = BusyCore()
    try:
        pid = load.proc.pid
        assert os.sched_getaffinity(pid) == {max(os.sched_getaffinity(0))}
        assert load._state() == "T"  # created paused
        with load.running():
            before = cpu_ticks(pid)
            time.sleep(0.5)
            assert load._state() in "RS" and cpu_ticks(pid) > before
        assert load._state() == "T"
        paused = cpu_ticks(pid)
        time.sleep(0.3)
        assert cpu_ticks(pid) == paused
    finally:
        load.close()
    assert load.proc.poll() is not None
