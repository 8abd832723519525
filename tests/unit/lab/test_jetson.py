"""Jetson tools' outputs (tegrastats, jetson_clocks --show, nvpmodel -q) parsed on the host; see tests/data/jetson."""

from pathlib import Path

from edgebuild.lab import jetson, validity

DATA = Path(__file__).resolve().parents[2] / "data" / "jetson"
MB = 1 << 20


def text(name):
    return (DATA / name).read_text()


def test_tegrastats_ram_in_use_and_total():
    assert jetson.tegrastats_ram(text("tegrastats-before.txt")) == (1893 * MB, 7620 * MB)
    assert jetson.tegrastats_ram("RAM 1510/3964KB (lfb 5x2MB)") == (1510 << 10, 3964 << 10)
    assert jetson.tegrastats_ram("SWAP 0/3810MB") is None and jetson.tegrastats_ram(None) is None


def test_jetson_clocks_units_and_power_mode():
    shown = jetson.jetson_clocks(text("jetson_clocks-show.txt"))
    assert shown["GPU"] == {"MinFreq": 306000000, "MaxFreq": 624750000, "CurrentFreq": 624750000}
    assert shown["EMC"]["CurrentFreq"] == 2133000000 and shown["EMC"]["FreqOverride"] == 1
    assert shown["cpu5"]["Governor"] == "schedutil" and "WFI" not in shown["cpu5"]  # idle states are not clocks
    assert shown["power_mode"] == "15W" and "FAN" not in shown
    # without root jetson_clocks prints a refusal, not its units: nothing is read from it
    assert jetson.jetson_clocks("Error: you must be root to run jetson_clocks") == {}


def test_nvpmodel_mode_name():
    assert jetson.nvpmodel_mode(text("nvpmodel-q.txt")) == "15W" and jetson.nvpmodel_mode("") is None


def test_a_gpu_clock_drop_during_the_run_invalidates_it():
    before, after = text("jetson_clocks-show.txt"), text("jetson_clocks-show-gpu-dropped.txt")
    assert jetson.clock_changes(before, after) == ["jetson_clocks: GPU clock changed 624750000 -> 306000000"]
    run = {"ok": True, "times_ms": [1.0] * 64, "timed_seconds": 2.0,
           "clocks_before": {"jetson_clocks": before}, "clocks_after": {"jetson_clocks": after}}
    judged = validity.judge(run, 1.0)
    assert judged["valid"] is False and judged["clocks"]["sources"] == ["jetson_clocks"]
    assert "GPU clock changed 624750000 -> 306000000" in " ".join(judged["invalid_reasons"])
    steady = validity.judge({**run, "clocks_after": {"jetson_clocks": before}}, 1.0)
    assert steady["valid"] is True and steady["clocks"]["state"] == "steady"


def test_a_power_mode_change_shows_in_jetson_clocks_too():
    after = text("jetson_clocks-show.txt").replace("NV Power Mode: 15W", "NV Power Mode: 7W")
    assert jetson.clock_changes(text("jetson_clocks-show.txt"), after) == [
        "jetson_clocks: power mode changed 15W -> 7W"]


def test_the_gpu_entry_of_a_cuda_result():
    agent = {"device_kind": "cuda", "cuda": {"toolkit": "13.0", "runtime": "13.0", "driver": "13.0"},
             "cuda_used_before": 300 * MB, "cuda_used_after": 342 * MB,
             "tegrastats_before": text("tegrastats-before.txt"), "tegrastats_after": text("tegrastats-after.txt"),
             "clocks_before": {"jetson_power_mode": text("nvpmodel-q.txt"),
                               "jetson_clocks": text("jetson_clocks-show.txt")}}
    gpu = jetson.gpu_summary(agent)
    assert gpu["memory_bytes"] == 42 * MB and gpu["tegrastats_ram_delta_bytes"] == (2131 - 1893) * MB
    assert gpu["power_mode"] == "15W" and gpu["jetson_clocks"]["GPU"]["MaxFreq"] == 624750000
    assert gpu["cuda"]["driver"] == "13.0"
    # an x86 GPU box: no tegrastats, no jetson tools: the CUDA figures alone
    box = jetson.gpu_summary({"device_kind": "cuda", "cuda_used_before": 0, "cuda_used_after": 5, "clocks_before": {}})
    assert (box["memory_bytes"], box["tegrastats_ram_delta_bytes"], box["power_mode"], box["jetson_clocks"]) == (
        5, None, None, None)
    assert jetson.gpu_summary({"device_kind": "llvm"}) is None


def sense_namespace():
    from edgebuild.lab.device import source

    namespace = {}
    exec(compile(source("sense.py"), "sense.py", "exec"), namespace)
    return namespace


def fake_tool(folder, name, body):
    path = folder / name
    path.write_text("#!/bin/sh\n" + body)
    path.chmod(0o755)


def test_the_device_reads_one_tegrastats_line_and_the_jetson_clocks(tmp_path, monkeypatch):
    # stand-ins on PATH that print the recorded outputs; tegrastats keeps printing until it is stopped
    fake_tool(tmp_path, "tegrastats", f"while true; do cat '{DATA / 'tegrastats-before.txt'}'; sleep 0.1; done\n")
    fake_tool(tmp_path, "jetson_clocks", f"[ \"$1\" = --show ] && cat '{DATA / 'jetson_clocks-show.txt'}'\n")
    monkeypatch.setenv("PATH", f"{tmp_path}:/usr/bin:/bin")
    sense = sense_namespace()
    line = sense["tegrastats"]()
    assert jetson.tegrastats_ram(line) == (1893 * MB, 7620 * MB)
    assert jetson.jetson_clocks(sense["clocks"]()["jetson_clocks"])["GPU"]["CurrentFreq"] == 624750000
    monkeypatch.setenv("PATH", "/nonexistent")
    assert sense["tegrastats"]() is None and "jetson_clocks" not in sense["clocks"]()
