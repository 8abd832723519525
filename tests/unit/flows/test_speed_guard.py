"""The speed guard's verdicts, cache and sources: a fake timer stands for bench.time_bundles, fake bundles
are manifest files, profiles are rows in a temporary results history (no TVM, no build)."""

import json
from datetime import datetime, timezone

import pytest

from edgebuild import bundle, history
from edgebuild.errors import ModelError, SpeedGuardRefused
from edgebuild.flows import build as build_flow, history as results_history, speed_guard
from edgebuild.flows.build import BuildRequest, BuildResult


class Timer:
    """bench.time_bundles' signature: the int8 bundle's and the fp32 bundle's milliseconds per sample."""

    def __init__(self, int8_ms: float, fp32_ms: float):
        self.ms, self.calls = (int8_ms, fp32_ms), []

    def __call__(self, project, folders, runs, repeat=1, progress=None):
        self.calls.append(([f.name for f in folders], runs, repeat))
        return [[ms * (1 + 0.01 * (i % 3)) for i in range(runs)] for ms in self.ms]


def never(*args, **kwargs):
    raise AssertionError("timed although nothing should be timed")


@pytest.fixture
def tmp_project(tmp_project):
    """The project copy with a build cache of its own (the shared one would keep figures between tests)."""
    tmp_project.cache_dir.unlink()
    tmp_project.cache_dir.mkdir()
    return tmp_project


def fake_bundle(folder, target="host", **fields):
    folder.mkdir(parents=True, exist_ok=True)
    manifest = {"model": {"name": "digits-cnn"}, "target": {"name": target}, **fields}
    (folder / "manifest.json").write_text(json.dumps(manifest))
    return BuildResult(folder, manifest, cached=False)


def figures(int8, fp32, **kw):
    return speed_guard.Figures(int8, fp32, "measured here", "2026-11-29T08:00:00.000000Z", "EPYC (x86_64, host h)",
                               "40 samples", **kw)


def test_int8_must_win_a_tie_or_worse_warns_or_refuses_with_the_figures():
    slower = speed_guard.judge("warn", figures(2.5, 1.25), "host")
    assert slower["status"] == "slower" and slower["ratio"] == 2.0
    assert slower["line"].startswith("speed guard: WARNING: int8 is not faster than fp32 here")
    assert all(s in slower["line"] for s in ("int8 p50 2.5 ms", "fp32 p50 1.25 ms", "ratio 2.00x", "EPYC", "measured now"))
    assert "REFUSED" in speed_guard.judge("refuse", figures(2.5, 1.25), "host")["line"]
    assert speed_guard.judge("warn", figures(1.0, 1.0), "host")["status"] == "slower"  # a tie does not win
    faster = speed_guard.judge("refuse", figures(0.5, 1.0), "host")
    assert faster["status"] == "faster" and "int8 beats fp32 here" in faster["line"]
    reused = speed_guard.judge("warn", figures(0.5, 1.0, reused=True), "host")["line"]
    assert "re-used the measurement of 2026-11-29 08:00 UTC" in reused
    none = speed_guard.judge("refuse", speed_guard.Figures(None, None, "none", None, "", "no profile"), "rpi4")
    assert none["status"] == "unmeasured" and none["ratio"] is None and "no verdict" in none["line"]


def test_host_figures_are_measured_once_per_bundle_pair_and_machine(tmp_project, tmp_path, monkeypatch):
    int8 = fake_bundle(tmp_path / "int8", recipe={"name": "int8-static"}).bundle
    fp32 = fake_bundle(tmp_path / "fp32", recipe={"name": "none"}).bundle
    sha = bundle.manifest_sha256(int8)
    timer = Timer(2.0, 1.0)
    first = speed_guard.measure_here(tmp_project, int8, fp32, say=lambda s: None, timer=timer)
    assert timer.calls == [(["int8", "fp32"], speed_guard.RUNS, None)]  # both in one run; repeat chosen there
    assert (first.int8_p50_ms, first.fp32_p50_ms, first.reused) == (2.02, 1.01, False)
    assert first.source == "measured here" and "load" in first.detail
    again = speed_guard.measure_here(tmp_project, int8, fp32, say=lambda s: None, timer=never)
    assert again.reused and (again.int8_p50_ms, again.measured) == (first.int8_p50_ms, first.measured)
    # kept under the build cache, never in the bundles: their manifests hash as before
    assert len(list((tmp_project.cache_dir / "speed-guard").glob("*.json"))) >= 1
    assert [p.name for p in int8.iterdir()] == ["manifest.json"] and bundle.manifest_sha256(int8) == sha
    # another fp32 bundle, or another machine: measured again
    fake_bundle(fp32, recipe={"name": "none"}, rebuilt=True)
    speed_guard.measure_here(tmp_project, int8, fp32, say=lambda s: None, timer=timer)
    monkeypatch.setattr(speed_guard, "machine", lambda: {"host": "h", "machine": "x86_64", "cpu_model": "other CPU"})
    elsewhere = speed_guard.measure_here(tmp_project, int8, fp32, say=lambda s: None, timer=timer)
    assert len(timer.calls) == 3 and not elsewhere.reused and "other CPU" in elsewhere.machine


def _recipe(project, name, guard):
    (project.recipes_dir / f"{name}.toml").write_text(
        f'description = "x"\nspeed-guard = "{guard}"\n[[steps]]\ntechnique = "int8-static"\n')


@pytest.fixture
def host_pair(tmp_project, tmp_path, monkeypatch):
    """(int8 build result, requests the guard built): its fp32 build is a fake bundle of recipe none."""
    built = []

    def fake_build(project, request, say=print, progress=None):
        built.append(request)
        return fake_bundle(tmp_path / "fp32", recipe={"name": request.recipe})

    monkeypatch.setattr(build_flow, "build", fake_build)
    return fake_bundle(tmp_path / "int8", recipe={"name": "int8-static"}), built


def test_a_host_build_warns_refuses_or_stays_off_as_its_recipe_says(tmp_project, host_pair):
    result, built = host_pair
    _recipe(tmp_project, "int8-refuse", "refuse")
    _recipe(tmp_project, "int8-off", "off")
    request = BuildRequest(recipe="int8-refuse", input_shapes=("image:4,1,8,8",), calibration="random", out=result.bundle)
    with pytest.raises(SpeedGuardRefused) as refused:
        speed_guard.check(tmp_project, request, result, say=lambda s: None, timer=Timer(3.0, 1.5))
    text = str(refused.value)
    assert "REFUSED: int8 is not faster than fp32 here" in text and "3.03" in text and "1.515" in text
    assert f"the bundle at {result.bundle} is complete and was kept" in text and 'speed-guard = "warn"' in text
    assert (result.bundle / "manifest.json").exists()
    (fp32,) = built  # the same model, target and shapes through the normal build, recipe none, default folder
    assert (fp32.recipe, fp32.out, fp32.calibration, fp32.input_shapes) == ("none", None, None, ("image:4,1,8,8",))

    warned = speed_guard.check(tmp_project, BuildRequest(recipe="int8-static"), result, say=lambda s: None,
                               timer=Timer(3.0, 1.5))
    assert (warned["mode"], warned["status"], warned["reused"]) == ("warn", "slower", True)  # same pair, same machine
    off = speed_guard.check(tmp_project, BuildRequest(recipe="int8-off"), result, timer=never)
    assert off["status"] == "off" and 'speed-guard = "off"' in off["line"]
    assert speed_guard.check(tmp_project, BuildRequest(recipe="none"), result, timer=never) is None


def test_a_guard_that_cannot_time_says_so_and_never_refuses(tmp_project, host_pair, monkeypatch):
    result, _ = host_pair
    _recipe(tmp_project, "int8-refuse", "refuse")

    def failing(project, request, say=print, progress=None):
        raise ModelError("the fp32 export failed")

    monkeypatch.setattr(build_flow, "build", failing)
    verdict = speed_guard.check(tmp_project, BuildRequest(recipe="int8-refuse"), result, say=lambda s: None,
                                timer=never)
    assert verdict["status"] == "unmeasured" and "the fp32 export failed" in verdict["line"]


def _profile(recipe, time, p50, device="pi-07", emulated=False, valid=True, sha="x"):
    return history.from_profile({"device": device, "target": "rpi4", "model": "digits-cnn", "recipe": recipe,
                                 "time": time, "ok": True, "valid": valid, "emulated": emulated, "bundle_sha256": sha,
                                 "cpu_model": "Cortex-A72", "latency_ms": {"p50": p50}})


def test_device_targets_use_the_latest_valid_hardware_profiles_and_say_how_old(tmp_project, tmp_path):
    result = fake_bundle(tmp_path / "rpi4", target="rpi4", recipe={"name": "int8-static"})
    sha = bundle.manifest_sha256(result.bundle)
    results_history.record(tmp_project, [_profile("int8-static", "2026-11-20T10:00:00Z", 9.0),
                                         _profile("none", "2026-11-28T10:00:00Z", 1.0, device="rpi4-emu", emulated=True)],
                           say=lambda s: None)
    none = speed_guard.check(tmp_project, BuildRequest(recipe="int8-static", target="rpi4"), result, timer=never)
    assert none["status"] == "unmeasured" and none["int8_p50_ms"] is None
    assert "no valid hardware profile of digits-cnn x none x rpi4" in none["line"] and "emulated" in none["line"]

    results_history.record(tmp_project, [_profile("none", "2026-11-26T10:00:00Z", 4.0),
                                         _profile("none", "2026-11-27T10:00:00Z", 0.5, valid=False),
                                         _profile("int8-static", "2026-11-27T12:00:00Z", 3.0, sha=sha)],
                           say=lambda s: None)
    now = datetime(2026, 11, 29, 12, 0, tzinfo=timezone.utc)
    got = speed_guard.from_profiles(tmp_project, "digits-cnn", "int8-static", "rpi4", sha, say=lambda s: None, now=now)
    assert (got.int8_p50_ms, got.fp32_p50_ms, got.source) == (3.0, 4.0, "hardware profiles")
    assert got.detail == ("int8 profiled on pi-07 2026-11-27 12:00 UTC, 2 d ago of this bundle; "
                          "fp32 profiled on pi-07 2026-11-26 10:00 UTC, 3 d ago")
    assert got.machine == "pi-07 (Cortex-A72)" and got.measured == "2026-11-26T10:00:00.000000Z"
    verdict = speed_guard.check(tmp_project, BuildRequest(recipe="int8-static", target="rpi4"), result, timer=never)
    assert verdict["status"] == "faster" and "int8 beats fp32 on rpi4" in verdict["line"]
    assert "from the hardware profiles" in verdict["line"]
