"""Strict loading of TOML data files into typed, frozen dataclasses.

A target, recipe or device is a data file validated by one dataclass. Unknown keys, missing keys
and values of the wrong type are rejected with the file, the key and (where it can be found) the
line, so a typo never silently falls back to a default.
"""

from __future__ import annotations

import dataclasses
import re
import tomllib
import types
import typing
from pathlib import Path
from typing import Any, Literal, Union, get_args, get_origin

from .errors import ConfigError

# Versions of the shared contracts whose version lives here (bump on any change; history migrations go in
# edgebuild/history/migrations.py, one entry per version).
HISTORY_SCHEMA_VERSION = 2
# 3: `gpu` (CUDA versions, GPU memory, Jetson power mode and clocks); 4: the baseline's model memory and
# memory_ratio (a --baseline profile now measures the model memory of both engines); 5: parity_inputs and
# parity_inputs_within (a bundle that quantizes at run time is checked on several inputs, bundle schema 7)
PROFILE_RESULT_VERSION = 5

# The profile result (one JSON object per device and run: results/<device>/*.json, `profile --json`),
# its keys in order.
PROFILE_RESULT_FIELDS = {
    "schema": "PROFILE_RESULT_VERSION of this object",
    "device": "inventory name", "target": "target the bundle was built for", "model": "model name",
    "recipe": "recipe name", "bundle_sha256": "sha256 of the bundle's manifest.json",
    "emulated": "true when an emulator ran the code: timings are not hardware figures",
    "emulator": "what emulated it (null on hardware)",
    "ok": "false when the run failed (parity, shapes, NaN/inf outputs): its figures are withheld",
    "error": "why it failed, or null",
    "machine": "the device Python's platform.machine()", "cpu_model": "from /proc/cpuinfo",
    "python": "device Python version", "runtime": "runtime versions on the device (tvm, numpy)",
    "latency_ms": "{p50, mean, min, max, runs[, p90 from >= 64 runs][, p99 from >= 662 runs][, omitted: "
                  "{p90|p99: why}]}; null when the run failed",
    "valid": "true; false with invalid_reasons; null when the clocks cannot be read (never silently true)",
    "invalid_reasons": "why the figures are not valid (throttling, clock change, too short a run, failed run)",
    "clocks": "{state: steady|changed|unknown, reason (unknown), sources, before, after} from vcgencmd "
              "get_throttled, cpufreq and nvpmodel, read before the warm-up and after the last timed run",
    "failed_latency_ms": "a failed run's figures, for diagnosis only (never in statistics or reports); else null",
    "load_ms": "model.so load and VM setup", "import_ms": "runtime import",
    "peak_rss_bytes": "VmHWM of the agent process",
    "model_rss_bytes": "the model's own memory: peak resident set above the one after importing the runtime",
    "gpu": "CUDA bundles: {cuda: {toolkit (nvcc that built it), runtime (libcudart), driver}: CUDA versions; "
           "memory_bytes: the model's device allocations via cudaMemGetInfo (used after the timed runs minus used "
           "after creating the CUDA context); tegrastats_ram_delta_bytes: Jetson (unified memory) RAM in use after "
           "minus before, CPU side included; power_mode: nvpmodel; jetson_clocks: `jetson_clocks --show` units "
           "(lab/jetson.py)}; null for CPU bundles",
    "parity_max_abs_diff": "max |device - reference.npz| over all outputs, on the reference input (null when "
                           "not finite)",
    "parity_tolerance": "the bundle's tolerance",
    "parity_inputs": "inputs the parity was checked on (the bundle's parity_inputs)",
    "parity_inputs_within": "how many were within the tolerance: all of them must be, or more than half for a "
                            "bundle whose parity_rule is majority (it quantizes activations at run time)",
    "baseline": "with --baseline=onnxruntime: {engine, version, latency_ms, ratio (tvm p50 / onnxruntime p50), "
                "peak_rss_bytes, model_rss_bytes (as above, of the ONNX Runtime process), memory_ratio (tvm "
                "model_rss_bytes / onnxruntime's), blocks, threads}; null otherwise",
    "agent_seconds": "wall time of the agent job", "time": "UTC, ISO 8601",
}
# A bundle's manifest.json. 2: `kernels` (per-kernel scheduler and run-time share, counts, fallback) and
# metrics.onnxruntime_unavailable (max_abs_diff_vs_onnxruntime null when ONNX Runtime cannot run the graph).
# 3: main's constants in model.weights beside model.so (listed in `files`, sent by deploys); main takes
# them after the inputs. 4: toolchain.cuda_toolkit (the nvcc release, "13.0") for CUDA targets, which the
# device checks against its driver. 5: a quantized graph's max_abs_diff_vs_onnxruntime is against ONNX
# Runtime computing it exactly (compress/ort_reference.py), with metrics.onnxruntime_parity_tolerance.
# 6: metrics.onnxruntime_parity_inputs and _inputs_within, the inputs a quantized graph was checked on
# (more than the reference input where it quantizes at run time) and how many were within the tolerance.
# 7: parity_inputs and parity_rule: a graph that quantizes at run time carries its metric samples in
# reference.npz too (caseK/input/NAME, caseK/output/NAME), and the device passes it when most are within.
MANIFEST_SCHEMA_VERSION = 7
# The most inputs a manifest's parity_inputs may name (lab/device/parity.py has its own copy: it runs on
# the device without edgebuild; a test keeps the two equal).
MAX_PARITY_INPUTS = 64


def load_toml(path: Path) -> dict[str, Any]:
    """Parse a TOML file; syntax errors name the file, line and column."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror}") from None
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        msg = str(exc)
        where = re.search(r"\(at line (\d+), column (\d+)\)", msg)
        reason = re.sub(r"\s*\(at line.*\)", "", msg)
        loc = f":{where.group(1)}:{where.group(2)}" if where else ""
        key = _key_on_line(text, int(where.group(1))) if where else None
        near = f" (near key {key!r})" if key else ""
        raise ConfigError(f"{path}{loc}: malformed TOML: {reason}{near}") from None


def _key_on_line(text: str, line: int) -> str | None:
    lines = text.splitlines()
    if 1 <= line <= len(lines):
        found = re.match(r"\s*([A-Za-z0-9_.\-\"]+)\s*=", lines[line - 1])
        if found:
            return found.group(1).strip('"')
    return None


def key_line(path: Path, key: str) -> int | None:
    """Best-effort line number of `key` (last dotted part) in a TOML file, for messages."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError:
        return None
    leaf = re.sub(r"\[\d+\]$", "", key).split(".")[-1]
    pattern = re.compile(rf"^\s*(\[+\s*)?\"?{re.escape(leaf)}\"?\s*(=|\]|\.)")
    for number, line in enumerate(lines, 1):
        if pattern.match(line):
            return number
    return None


class Where:
    """The file being validated and the key path inside it, for error messages."""

    def __init__(self, path: Path, key: str = ""):
        self.path, self.key = path, key

    def child(self, key: str | int) -> "Where":
        if isinstance(key, int):
            return Where(self.path, f"{self.key}[{key}]")
        return Where(self.path, f"{self.key}.{key}" if self.key else key)

    def error(self, message: str) -> ConfigError:
        line = key_line(self.path, self.key) if self.key else None
        loc = f"{self.path}:{line}" if line else str(self.path)
        field = f" key {self.key!r}:" if self.key else ""
        return ConfigError(f"{loc}:{field} {message}")


def build(cls: type, data: Any, where: Where, **derived: Any) -> Any:
    """Validate `data` against dataclass `cls` and construct it (recursively).

    `derived` fills fields marked `metadata={"derived": True}`, which never come from the file
    (a target's name is its file's stem)."""
    if not isinstance(data, dict):
        raise where.error(f"expected a table, got {type(data).__name__}")
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls) if f.init and not f.metadata.get("derived")}
    toml_names = {_toml_name(name): name for name in fields}
    unknown = sorted(k for k in data if k not in toml_names)
    if unknown:
        valid = ", ".join(sorted(toml_names))
        raise where.child(unknown[0]).error(f"unknown key; valid keys here: {valid}")
    values = {}
    for toml_key, name in toml_names.items():
        field = fields[name]
        if toml_key in data:
            values[name] = _convert(hints[name], data[toml_key], where.child(toml_key))
        elif field.default is dataclasses.MISSING and field.default_factory is dataclasses.MISSING:
            raise where.child(toml_key).error("missing required key")
    try:
        return cls(**values, **derived)
    except ValueError as exc:  # __post_init__ checks that span several fields
        raise where.error(str(exc)) from None


def dump(obj: Any) -> Any:
    """The TOML-shaped data of a dataclass built by `build` (round-trips)."""
    if dataclasses.is_dataclass(obj):
        out = {}
        for field in dataclasses.fields(obj):
            if not field.init or field.metadata.get("derived"):
                continue
            value = getattr(obj, field.name)
            if value is None:
                continue
            out[_toml_name(field.name)] = dump(value)
        return out
    if isinstance(obj, (list, tuple)):
        return [dump(v) for v in obj]
    if isinstance(obj, dict):
        return {k: dump(v) for k, v in obj.items()}
    return obj


def _toml_name(name: str) -> str:
    return name.replace("_", "-")


def _convert(tp: Any, value: Any, where: Where) -> Any:
    origin = get_origin(tp)
    if origin in (Union, types.UnionType):
        options = get_args(tp)
        if value is None and type(None) in options:
            return None
        errors = []
        for option in (o for o in options if o is not type(None)):
            try:
                return _convert(option, value, where)
            except ConfigError as exc:
                errors.append(exc)
        raise errors[-1] if len(errors) == 1 else where.error(f"invalid value {value!r}")
    if origin is Literal:
        allowed = get_args(tp)
        if value not in allowed:
            raise where.error(f"invalid value {value!r}; expected one of {', '.join(map(repr, allowed))}")
        return value
    if origin in (list, tuple):
        if not isinstance(value, list):
            raise where.error(f"expected a list, got {_tname(value)}")
        (item_tp, *_) = get_args(tp) or (Any,)
        items = [_convert(item_tp, v, where.child(i)) for i, v in enumerate(value)]
        return tuple(items) if origin is tuple else items
    if origin is dict:
        if not isinstance(value, dict):
            raise where.error(f"expected a table, got {_tname(value)}")
        _, value_tp = get_args(tp) or (str, Any)
        return {k: _convert(value_tp, v, where.child(k)) for k, v in value.items()}
    if dataclasses.is_dataclass(tp):
        return build(tp, value, where)
    if tp is Any:
        return value
    if tp is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if tp in (str, int, float, bool):
        if type(value) is not tp:
            raise where.error(f"expected {tp.__name__}, got {_tname(value)} {value!r}")
        return value
    raise TypeError(f"schema type {tp!r} is not supported")  # a bug in a dataclass, not user input


def _tname(value: Any) -> str:
    return {dict: "table", list: "list"}.get(type(value), type(value).__name__)
