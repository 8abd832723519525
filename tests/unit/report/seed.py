"""Known history rows for the report tests (fixtures, not measurements: every figure is chosen here)."""

from edgebuild import history

COMMIT = "0123456789ab"
ORIGIN = history.Origin(COMMIT, "build-host-1")
# digits-cnn builds for rpi4: recipe -> (bundle sha, model.so bytes, transfer bytes, accuracy)
BUILDS = {"none": ("a" * 64, 135_000, 105_694, 99.4), "int8-static": ("b" * 64, 72_240, 60_000, 99.2),
          "prune": ("c" * 64, 90_000, 80_000, 98.0), "cluster": ("d" * 64, 100_000, 90_000, 97.0)}
# latest p50 (ms) per recipe on the hardware board pi-1 and the emulated rpi4-emu
PI1 = {"none": 2.4, "int8-static": 1.25, "prune": 1.5, "cluster": 1.8}
EMU = {"none": 40.0, "int8-static": 30.0}
NONE_HISTORY = [2.00, 2.02, 1.98, 2.01, 1.99]  # earlier pi-1 runs of none; then 2.4: a regression


def _time(minute: int) -> str:
    return f"2026-11-28T{10 + minute // 60:02d}:{minute % 60:02d}:00Z"


def _build(recipe, minute, model="digits-cnn", metric="accuracy", sha=None, value=None):
    default_sha, so, transfer, default_value = BUILDS[recipe]
    sha, value = sha or default_sha, default_value if value is None else value
    manifest = {"model": {"name": model}, "recipe": {"name": recipe}, "target": {"name": "rpi4"},
                "files": {"model.so": {"bytes": so}}, "metrics": {metric: value, "transfer_bytes": transfer},
                "toolchain": {"apache-tvm": "0.27.0"}}
    return history.from_build(manifest, sha, _time(minute), ORIGIN)


def _profile(recipe, device, p50, minute, emulated=False, valid=True, model="digits-cnn", **extra):
    return history.from_profile({
        "device": device, "target": "rpi4", "model": model, "recipe": recipe, "bundle_sha256": BUILDS[recipe][0],
        "emulated": emulated, "ok": True, "valid": valid, "time": _time(minute), "runtime": "0.27.0",
        "latency_ms": {"p50": p50, "p90": round(p50 * 1.1, 4), "p99": round(p50 * 1.3, 4)},
        "model_rss_bytes": 3 * 2**20, **extra}, ORIGIN)


def runs() -> list[history.Run]:
    out = [_build(recipe, i) for i, recipe in enumerate(BUILDS)]
    out += [_profile("none", "pi-1", p50, 10 + i) for i, p50 in enumerate(NONE_HISTORY)]
    out += [_profile(recipe, "pi-1", p50, 20 + i) for i, (recipe, p50) in enumerate(PI1.items())]
    out += [_profile(recipe, "rpi4-emu", p50, 30 + i, emulated=True, valid=None) for i, (recipe, p50) in enumerate(EMU.items())]
    out.append(_profile("prune", "pi-2", 9.0, 40, valid=False, invalid_reasons=["throttled during the run"]))
    out += history.from_bench({"time": _time(50), "threads": 2, "models": [{
        "model": "digits-cnn", "bundle_sha256": "e" * 64, "toolchain": "apache-tvm 0.27.0", "engines": {
            "onnxruntime": {"median_ms": 0.5, "ratio_median": 1.0, "model_rss_mib": 2.0},
            "tvm": {"median_ms": 0.6, "ratio_median": 1.2, "model_rss_mib": 1.5},
            "tvm-untuned": {"median_ms": 2.35, "ratio_median": 4.7, "model_rss_mib": 1.5}}}]}, ORIGIN)
    out.append(_build("none", 60, model="minilm", metric="cosine_to_fp32", sha="f" * 64, value=0.9987))
    return out


def many(count: int) -> list[history.Run]:
    """`count` profile runs over 4 devices x 5 recipes, for the page-size bound."""
    recipes = list(BUILDS) + ["lowrank"]
    return [history.from_profile({
        "device": f"pi-{i % 4}", "target": "rpi4", "model": "digits-cnn", "recipe": recipes[i % 5],
        "bundle_sha256": f"{i % 5:064x}", "emulated": i % 4 == 3, "ok": True, "valid": True,
        "time": f"2026-11-{1 + i // 240:02d}T{(i // 10) % 24:02d}:{i % 60:02d}:00Z",
        "latency_ms": {"p50": 1.0 + (i % 7) * 0.01, "p90": 1.2, "p99": 1.5}}, ORIGIN) for i in range(count)]
