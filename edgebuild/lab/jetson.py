"""What a Jetson's own tools say, parsed on the host from the raw text the device agent sends.

Pure functions of recorded outputs, tested on fixtures written from the tools' documented formats:
- tegrastats: NVIDIA Jetson Linux Developer Guide, "tegrastats Utility" / "Reported Statistics"
  ("RAM X/Y (lfb NxZ)": RAM in use and total, in MB; "GR3D_FREQ X%@[Y]": GPU load and MHz).
- jetson_clocks --show: the `--show` branch of the jetson_clocks script that Jetson Linux ships
  (/usr/bin/jetson_clocks): one line per unit, "NAME key=value ...", e.g.
  "GPU MinFreq=306000000 MaxFreq=624750000 CurrentFreq=306000000", and "NV Power Mode: 15W".
- nvpmodel -q: "NV Power Mode: NAME" then the mode's number.

"GPU memory" on a Jetson: the GPU has no memory of its own (unified memory, shared with the CPU), so
a result carries two figures (device/gpu.py, agent.py): `memory_bytes`, the model's device
allocations through the CUDA API (cudaMemGetInfo's used bytes after the timed runs minus those
after creating the CUDA context, before loading the model), and `tegrastats_ram_delta_bytes`
(tegrastats' RAM in use after the timed runs minus before loading: everything the model took from
the shared pool, CPU side included, and anything else that ran meanwhile).
"""

from __future__ import annotations

import re
from typing import Any

UNITS = {"KB": 1 << 10, "MB": 1 << 20, "GB": 1 << 30}


def tegrastats_ram(line: str | None) -> tuple[int, int] | None:
    """(bytes in use, total bytes) from one tegrastats line, or None."""
    found = re.search(r"\bRAM (\d+)/(\d+)([KMG]B)\b", line or "")
    if not found:
        return None
    unit = UNITS[found.group(3)]
    return int(found.group(1)) * unit, int(found.group(2)) * unit


def jetson_clocks(text: str | None) -> dict[str, Any]:
    """Units of `jetson_clocks --show` -> their key=value fields (ints where numeric), plus
    "power_mode" from its "NV Power Mode" line; {} when the text is not jetson_clocks' (for example
    its refusal to run without root)."""
    out: dict[str, Any] = {}
    for line in (text or "").splitlines():
        line = line.strip()
        mode = re.match(r"NV Power Mode:\s*(.+)", line)
        if mode:
            out["power_mode"] = mode.group(1).strip()
            continue
        unit = re.match(r"([A-Za-z][\w]*?):?\s+(\w+=\S+(?:\s+\w+=\S+)*)", line)
        if unit and "Freq=" in line:
            fields = dict(re.findall(r"(\w+)=(\S+)", line.split("IdleStates:")[0]))
            out[unit.group(1)] = {k: int(v) if v.isdigit() else v for k, v in fields.items()}
    return out


def nvpmodel_mode(text: str | None) -> str | None:
    found = re.search(r"NV Power Mode:\s*(.+)", text or "")
    return found.group(1).strip() if found else None


def clock_changes(before: str | None, after: str | None) -> list[str]:
    """Why a run is invalid from two `jetson_clocks --show` readings: a unit's current clock or the
    power mode changed."""
    a, b = jetson_clocks(before), jetson_clocks(after)
    reasons = []
    for unit in sorted(set(a) & set(b) - {"power_mode"}):
        was, now = a[unit].get("CurrentFreq"), b[unit].get("CurrentFreq")
        if was is not None and now is not None and was != now:
            reasons.append(f"jetson_clocks: {unit} clock changed {was} -> {now}")
    if a.get("power_mode") and b.get("power_mode") and a["power_mode"] != b["power_mode"]:
        reasons.append(f"jetson_clocks: power mode changed {a['power_mode']} -> {b['power_mode']}")
    return reasons


def gpu_summary(agent: dict) -> dict[str, Any] | None:
    """The profile result's `gpu` entry for a CUDA run (None for a CPU bundle)."""
    if agent.get("device_kind") != "cuda":
        return None
    ram = [tegrastats_ram(agent.get(key)) for key in ("tegrastats_before", "tegrastats_after")]
    before = agent.get("cuda_used_before")
    after = agent.get("cuda_used_after")
    clocks = agent.get("clocks_before") or {}
    shown = jetson_clocks(clocks.get("jetson_clocks"))
    return {
        "cuda": agent.get("cuda"),
        "memory_bytes": after - before if before is not None and after is not None else None,
        "tegrastats_ram_delta_bytes": ram[1][0] - ram[0][0] if ram[0] and ram[1] else None,
        "power_mode": nvpmodel_mode(clocks.get("jetson_power_mode")) or shown.get("power_mode"),
        "jetson_clocks": {unit: v for unit, v in shown.items() if unit != "power_mode"} or None,
    }
