"""edgebuild's tasks. Each parses its flags and calls one library function. `invoke --list`."""

import json as jsonlib
import sys
from pathlib import Path

from invoke import Collection, task
from invoke.exceptions import Exit

from edgebuild.flows import build as builder
from edgebuild import cli
from edgebuild.cli import build_summary, number, stdout_to_stderr, targets_table, user_errors
from edgebuild.lab import emulate as emulator
from edgebuild.flows import jobs
from edgebuild.lab import inventory, provision as provisioner, results
from edgebuild.lab import status as device_status, trust as device_trust
from edgebuild.lab.agent_run import AgentOptions
from edgebuild.progress import for_stderr, uploads
from edgebuild.project import Project

PROJECT = Project(Path(__file__).resolve().parent)


@task(
    iterable=["input_shape"],
    help={
        "model": "digits-cnn (default), minilm, the path of an .onnx file, or corpus:NAME (corpus/models.toml)",
        "recipe": "compression recipe from recipes/ (default: none)",
        "target": "hardware target from targets/ (default: host)",
        "input-shape": "NAME:D1,D2,... fixes an input's shape; repeat for each input",
        "out": "write the bundle exactly here (default: build/<model>/<recipe>/<target>/)",
        "calibration": "int8 calibration samples: FILE.npz (one array per input) or 'random' (default: the model's data)",
        "reference": "FILE.npz of one batch of inputs (one array per input) that reference.npz, parity and the "
                     "ONNX Runtime comparison use (default: the model's data; N(0,1) for .onnx files)",
        "json": "print the result as one JSON object (progress and logs go to stderr)",
    },
)
@user_errors
def build(c, model="digits-cnn", recipe="none", target="host", input_shape=None, out=None, calibration=None,
          reference=None, json=False):
    """Compress, export, compile and bundle a model for a target."""
    request = builder.BuildRequest(model=model, recipe=recipe, target=target, input_shapes=tuple(input_shape or ()),
                                   out=Path(out) if out else None, calibration=calibration, reference=reference)
    with stdout_to_stderr(json), for_stderr() as progress:
        result = builder.build(PROJECT, request, say=_say(json), progress=progress, guard=True)
    print(jsonlib.dumps(cli.build_json(result)) if json else build_summary(result))


@task(help={"json": "print the targets as one JSON object"})
@user_errors
def targets(c, json=False):
    """List the hardware targets in targets/."""
    found = builder.list_targets(PROJECT)
    print(jsonlib.dumps(cli.targets_json(found)) if json else targets_table(found))


@task(help={"json": "print the recipes as one JSON object"})
@user_errors
def recipes(c, json=False):
    """List the compression recipes in recipes/."""
    found = builder.list_recipes(PROJECT)
    if json:
        print(jsonlib.dumps(cli.recipes_json(found)))
        return
    for recipe in found:
        print(f"{recipe.name:<20} {recipe.description}")


@task(iterable=["input_shape"], help={
    "model": "digits-cnn (default), minilm, mobilenetv2, resnet18, an .onnx path, corpus:NAME, a comma list, 'all', or 'corpus' (every model of corpus/models.toml)",
    "runs": "timed runs per engine (default 50)",
    "threads": "threads for every engine (default: all cores)",
    "input-shape": "NAME:D1,D2,... as for build",
    "untuned": "also time TVM's stock pipeline (default on; --no-untuned skips it: MiniLM takes ~1.5 s a run)",
    "contention": "also time every block beside a CPU-bound process on one core; reports each engine's slowdown",
    "json": "print the result as one JSON object (progress and logs go to stderr)",
    "recipe": "compression recipe of the timed build (default none); ONNX Runtime runs that same graph",
    "calibration": "FILE.npz or random, for int8 recipes on models without data of their own",
})
@user_errors
def bench(c, model="digits-cnn", runs=50, threads=0, input_shape=None, untuned=True, contention=False, json=False,
          recipe="none", calibration=None):
    """Latency of host builds vs ONNX Runtime (and PyTorch), side by side; writes results/bench/ (JSON, SVG)."""
    from edgebuild.flows.bench import BENCH_MODELS, bench as run_bench, format_report

    models = BENCH_MODELS if model == "all" else tuple(m for m in model.split(",") if m)
    with stdout_to_stderr(json), for_stderr() as progress:
        report = run_bench(PROJECT, models=models, runs=runs, threads=threads or None,
                           input_shapes=tuple(input_shape or ()), untuned=untuned, contention=contention,
                           say=_say(json), progress=progress, recipe=recipe, calibration=calibration)
    print(jsonlib.dumps(report) if json else format_report(report))


@task(iterable=["input_shape"], help={
    "model": "model to tune (its kernels' records help every model that shares them)",
    "target": "target whose records to extend (default: host, or the device's target)",
    "device": "measure on this lab device over SSH (needed for every target but host); an emulated "
              "device's records go to build/tuning-emulated/<target>/, which builds do not apply",
    "trials": "stop after N measured candidates",
    "minutes": "stop after N minutes (checked between search rounds)",
    "input-shape": "NAME:D1,D2,... as for build",
    "json": "print the result as one JSON object (progress and logs go to stderr)",
})
@user_errors
def tune(c, model="digits-cnn", target="", device="", trials=0, minutes=0.0, input_shape=None, json=False):
    """MetaSchedule tuning, measured here (host) or on a lab device; records go to compile/tuning/<target>/."""
    from edgebuild.flows.tune import tune as run_tune

    with stdout_to_stderr(json), for_stderr() as progress:
        result = run_tune(PROJECT, model=model, target=target, device=device, trials=trials, minutes=minutes,
                          input_shapes=tuple(input_shape or ()), say=_say(json), progress=progress)
    if json:
        print(jsonlib.dumps(cli.tune_json(result)))
    else:
        print(f"{result.trials} trials over {result.tasks} kernels in {result.seconds / 60:.1f} min -> {result.records}")


@task(help={
    "model": "digits-cnn (default), minilm, or the path of an .onnx file",
    "recipes": "comma-separated recipes (default: every recipe in recipes/)",
    "runs": "timed runs per artifact (median reported; default 20)",
    "json": "print the result as one JSON object (progress and logs go to stderr)",
    "calibration": "FILE.npz or random: samples for models without data of their own (resnet18, mobilenetv2)",
})
@user_errors
def bench_compress(c, model="digits-cnn", recipes="", runs=20, json=False, calibration=None):
    """Every compression recipe on one model (host builds): metric, sizes, MACs, latency vs none."""
    from edgebuild.flows.bench_compress import format_report, run

    names = [r for r in recipes.split(",") if r] or [r.name for r in builder.list_recipes(PROJECT)]
    with stdout_to_stderr(json), for_stderr() as progress:
        report = run(PROJECT, model, names, int(runs), say=_say(json), calibration=calibration, progress=progress)
    print(jsonlib.dumps(report) if json else format_report(report))


@task(help={
    "ops": "comma-separated ONNX operators (default: every operator ONNX ships test cases for)",
    "sample": "run the committed CI sample (tests/data/conformance-sample.toml) instead",
    "jobs": "worker processes in parallel (default 2)",
    "by": "table rows: operators (default) or families",
    "json": "print the result as JSON",
    "write-sample": "(re)write the CI sample from the installed onnx by its rule, and stop",
})
@user_errors
def conformance(c, ops="", sample=False, jobs=2, by="operators", json=False, write_sample=False):
    """ONNX's operator test cases through edgebuild, TVM's stock pipeline and ONNX Runtime, side by side."""
    from edgebuild.flows.conformance import SAMPLE, format_report, run, write_sample as write

    if write_sample:
        taken = write(PROJECT.root / SAMPLE)
        print(f"{SAMPLE}: {len(taken.cases)} cases from onnx {taken.onnx}")
        return

    if by not in ("operators", "families"):
        raise Exit(f"error: --by={by}: use operators or families", code=1)
    chosen = {o for o in ops.split(",") if o} or None
    report = run(PROJECT, ops=chosen, sample=PROJECT.root / SAMPLE if sample else None, jobs=int(jobs),
                 say=_say(json))
    print(jsonlib.dumps(report) if json else format_report(report, by))


@task(help={
    "model": "only this model", "device": "only this device (bench rows: the host's name)",
    "since": "only runs since an ISO date/time (UTC) or an age: 7d, 12h, 30m",
    "kind": "only build, bench, bench-compress, profile or tune runs",
    "format": "table (default), csv or json", "json": "same as --format=json",
    "import-json": "first import results/history.jsonl and results/*/*.json again (idempotent)",
})
@user_errors
def history(c, model="", device="", since="", kind="", format="table", json=False, import_json=False):
    """List the runs in the results history (results/history.sqlite, or results/config.toml's server)."""
    from edgebuild.flows import history as results_history

    err = lambda s: print(s, file=sys.stderr)  # noqa: E731
    if import_json:
        err(results_history.import_json(PROJECT, say=err).summary())
    runs = results_history.list_runs(PROJECT, model=model, device=device, since=since, kind=kind, say=err)
    print(results_history.export(runs, "json" if json else format))


@task(help={"model": "only this model", "since": "only runs since an ISO date/time (UTC) or an age: 7d, 12h",
            "out": "write the page here (default: results/report.html)",
            "baseline-runs": "N: earlier comparable runs pooled into a regression baseline (default 5)",
            "mads": "k: flag a p50 worse than the baseline median by more than k MADs (default 3)",
            "floor": "...and by more than this fraction of the median (default 0.05)",
            "json": "print the page's path and size as one JSON object"})
@user_errors
def report(c, model="", since="", out=None, baseline_runs=5, mads=3.0, floor=0.05, json=False):
    """One self-contained HTML page of the history: tables, plots, regressions (no network needed to view it)."""
    from edgebuild.flows.report import Settings, write

    page = write(PROJECT, Path(out) if out else None, model=model, since=since,
                 settings=Settings(int(baseline_runs), float(mads), float(floor)), say=_say(True))
    size = page.stat().st_size
    print(jsonlib.dumps({"out": str(page), "bytes": size}) if json else f"wrote {page} ({size:,} bytes)")


@task(iterable=["input_shape"], help={
    "model": "model to search recipes for (digits-cnn, minilm, ...) or an .onnx file (graph steps only)",
    "target": "hardware target (default: host)",
    "device": "measure latency on this lab device over SSH (needed for targets other than host)",
    "max-accuracy-drop": "quality budget for classifiers: points of accuracy below the uncompressed build",
    "min-cosine": "quality budget for embedders and ONNX files: lowest cosine to the fp32 outputs",
    "objective": "latency, size (transfer bytes) or both (a Pareto front)",
    "trials": "stop when the study has N finished trials (a resumed search counts earlier ones)",
    "minutes": "stop after N minutes",
    "name": "recipe (and study) name; default derived from model, target, objective and budget",
    "pick": "with --objective=both: write only front point K as recipes/NAME.toml",
    "force": "replace an existing recipe of that name",
    "runs": "timed samples per bundle and trial (default 40)",
    "input-shape": "NAME:D1,D2,... (repeatable) as for build; an .onnx file's dynamic dims",
    "against-shipped": "compare the best point with every recipe of recipes/ (held-out data, timed side by side)",
    "calibration": "int8 calibration samples for every trial's build: FILE.npz or 'random' (.onnx files need it for static int8)",
    "json": "print the result as JSON (progress goes to stderr)",
})
@user_errors
def search(c, model="digits-cnn", target="host", device="", max_accuracy_drop=None, min_cosine=None,
           objective="latency", trials=0, minutes=0.0, name="", pick=None, force=False, runs=40, input_shape=None,
           calibration=None, against_shipped=False, json=False):
    """Search compression recipes: the fastest or smallest build within an accuracy budget."""
    from edgebuild.flows.search import SearchRequest, search as run_search
    from edgebuild.flows.search_result import format_report

    request = SearchRequest(
        model=model, target=target, device=device, objective=objective, trials=number("trials", trials, int, 0),
        minutes=number("minutes", minutes, float, 0), max_accuracy_drop=number("max-accuracy-drop", max_accuracy_drop),
        min_cosine=number("min-cosine", min_cosine), name=name, pick=number("pick", pick, int, 0), force=force,
        runs=number("runs", runs, int, 5), input_shapes=tuple(input_shape or ()), calibration=calibration,
        against_shipped=against_shipped)
    with stdout_to_stderr(json), for_stderr() as progress:
        report = run_search(PROJECT, request, say=_say(json), progress=progress)
    print(jsonlib.dumps(report) if json else format_report(report))


DEVICE_HELP = "NAME, TAG or all (devices/lab.toml and devices/local.toml)"
ARTIFACT_HELP = {
    "model": "model to build for each device's target (default: digits-cnn)",
    "recipe": "compression recipe (default: none)",
    "bundle": "deploy this bundle folder instead of building",
    "target": "build for this target instead of each device's own (same CPU arch)",
    "json": "print one JSON object per device, one per line",
    "force": "send the bundle even when the device's copy is intact",
}


def _artifact(model, recipe, bundle, target, force=False):
    return jobs.Artifact(model=model, recipe=recipe, bundle=Path(bundle).expanduser().resolve() if bundle else None,
                         target=target, force=force)


def _say(as_json):
    return (lambda s: print(s, file=sys.stderr)) if as_json else print


def _finish(outcomes, as_json, text, to_json):
    """Print each device's outcome (`to_json`: its JSON Lines object); exit 1 when any device failed."""
    for o in outcomes:
        if as_json:
            print(jsonlib.dumps(to_json(o), default=str))
        else:
            print(text(o) if o.result or (o.ok and o.deployed) else f"{o.device}: FAILED: {o.error}")
    failed = [o.device for o in outcomes if not o.ok]
    if failed:
        raise Exit(f"error: failed on {', '.join(failed)}", code=1)


@task(help={"device": DEVICE_HELP, **ARTIFACT_HELP})
@user_errors
def deploy(c, device, model="digits-cnn", recipe="none", bundle=None, target=None, json=False, force=False):
    """Upload a bundle to devices: staged, sha256-verified on the device, switched atomically."""
    with stdout_to_stderr(json), for_stderr() as progress:
        outcomes = jobs.deploy_to(PROJECT, device, _artifact(model, recipe, bundle, target, force), say=_say(json),
                                  progress=uploads(progress, "deploy"))
    _finish(outcomes, json, lambda o: o.deployed.summary(), cli.deploy_json)


@task(help={"device": DEVICE_HELP, **ARTIFACT_HELP,
            "model": "model to build for each device's target (default: digits-cnn); a comma list, or 'corpus' "
                     "for every model of corpus/models.toml, profiles each in turn",
            "runs": "minimum timed runs (default 64: enough for a p90)",
            "min-seconds": "minimum timing duration on the device (default 1.0)",
            "warmup": "untimed runs first (default 5)", "timeout": "job timeout in seconds (default 300)",
            "baseline": "onnxruntime: time ONNX Runtime's own device wheel on model.onnx in the same job, "
                        "alternating blocks with TVM, and report the ratio",
            "threads": "threads per engine (default 0: the device's cores)"})
@user_errors
def profile(c, device, model="digits-cnn", recipe="none", bundle=None, target=None, json=False, runs=64,
            min_seconds=1.0, warmup=5, timeout=300.0, force=False, baseline=None, threads=0):
    """Build and deploy when needed, then time the model on the devices; results go to results/."""
    options = AgentOptions.parse(runs=runs, min_seconds=min_seconds, warmup=warmup, timeout=timeout,
                                 baseline=baseline, threads=threads)
    with stdout_to_stderr(json), for_stderr() as progress:
        outcomes = jobs.profile_models(PROJECT, device, _artifact(model, recipe, bundle, target, force), options,
                                       say=_say(json), progress=progress)
    _finish(outcomes, json, lambda o: results.summary(o.result) + f"\n  stored {o.stored}", jobs.profile_json)


# The lab.* namespace: `invoke lab.status`, `lab.provision`, `lab.emulate`, `lab.trust`.
lab = Collection("lab")


def lab_task(*args, **kwargs):
    """Register a task as lab.NAME only (the module keeps the plain function, so not at the top level)."""
    def register(fn):
        lab.add_task(task(*args, **kwargs)(user_errors(fn)), fn.__name__.removeprefix("lab_"))
        return fn
    return register


@lab_task(help={"device": DEVICE_HELP + " (default: all)", "json": "one JSON object per device"})
def lab_status(c, device="all", json=False):
    """Reachability, arch, Python, TVM runtime version and free disk of each device."""
    with stdout_to_stderr(json):
        found = device_status.status(PROJECT, device)
    for st in found:
        print(jsonlib.dumps(st.to_json()) if json else st.line())


@lab_task(positional=["device"], help={"device": DEVICE_HELP, "json": "one JSON object per device, one per line"})
def lab_provision(c, device, json=False):
    """Ship the TVM runtime-only bundle to devices (idempotent: an unchanged runtime is not re-sent)."""
    for dev in inventory.load(PROJECT).select(device):
        with stdout_to_stderr(json), for_stderr() as progress:
            done = provisioner.provision(PROJECT, dev.name, say=_say(json), progress=uploads(progress, dev.name))
        print(jsonlib.dumps(vars(done)) if json else done.summary(), flush=True)


@lab_task(help={"stop": "stop the emulated device instead"})
def lab_emulate(c, stop=False):
    """Start device rpi4-emu: arm64 Python under qemu-aarch64 -cpu cortex-a72 behind a local sshd."""
    if stop:
        emulator.stop(PROJECT)
    else:
        emulator.start(PROJECT)


@lab_task(positional=["device"], help={"device": "device name", "replace": "replace a different pinned key",
                                        "expect": "SHA256:... fingerprint read on the device; refuse any other"})
def lab_trust(c, device, replace=False, expect=None):
    """Show a device's host key fingerprint and pin it in devices/known_hosts."""
    inv = inventory.load(PROJECT)

    def ask(fingerprint):
        answer = input(f"{device} presents host key {fingerprint}. Does it match the fingerprint shown on the "
                       f"device's console? [y/N] ")
        return answer.strip().lower() in ("y", "yes")
    done = device_trust.trust(inv, inv.get(device), replace=replace, expect=expect,
                              confirm=ask if sys.stdin.isatty() else None)
    state = "pinned in" if done.changed else "already pinned in"
    print(f"{done.device}: {done.key_type} {done.fingerprint} {state} {done.file}")


# The release namespace: `invoke release --plan=NAME --version=X` and `invoke release.verify dist/X`.
release_ns = Collection("release")


def release_task(name, **kwargs):
    """Register a task in the release namespace only (like lab_task)."""
    def register(fn):
        release_ns.add_task(task(**kwargs)(user_errors(fn)), name, default=name == "release")
        return fn
    return register


@release_task("release", iterable=["allow", "no_profile"], help={
    "plan": "release plan from releases/ (file stem)",
    "version": "the release's name: dist/VERSION/ (never overwritten)",
    "previous": "release to gate against (default: the newest in dist/)",
    "allow": "MODEL:RECIPE:TARGET:REASON accepts that cell's regression; repeatable",
    "scheduler": "tls://HOST:PORT of a running Dask scheduler (default: a LocalCluster here)",
    "workers": "LocalCluster build workers (default: one per core)",
    "no-profile": "TARGET: release it without profiles when no device of it is reachable; repeatable",
})
def release(c, plan, version, previous=None, allow=None, scheduler=None, workers=0, no_profile=None):
    """Build, profile and gate a release plan's matrix into dist/VERSION/ with provenance."""
    from edgebuild.flows.release.release import ReleaseRequest, release as run_release

    run_release(PROJECT, ReleaseRequest(plan=plan, version=version, previous=Path(previous).resolve() if previous else None,
                                        allow=tuple(allow or ()), scheduler=scheduler, workers=int(workers),
                                        no_profile=tuple(no_profile or ())), say=_say(False))


@release_task("verify", positional=["folder"], help={
    "folder": "a release folder, e.g. dist/1.0.0",
    "rebuild": "also rebuild every bundle from its provenance and compare bytes",
    "public-key": "also check release.sig with this public key (offline)"})
def release_verify(c, folder, rebuild=False, public_key=None):
    """Re-hash a release; fail on any added, removed or changed file or provenance mismatch."""
    from edgebuild.flows.release.verify import verify

    print(verify(Path(folder), PROJECT, rebuild=rebuild, public_key=Path(public_key) if public_key else None).summary())


@release_task("scale", help={
    "plan": "also build this plan's matrix from scratch with 1 and 2 build workers (slow)",
    "boards": "boards of the simulated lab (default 100)", "build-hosts": "simulated build hosts (default 4)",
})
def release_scale(c, plan="", boards=100, build_hosts=4):
    """Measure Dask's overhead per task, a simulated lab (sleep jobs), and optionally the real matrix."""
    from edgebuild.flows.release import scale

    out = {"uptime": Path("/proc/loadavg").read_text().split()[:3],
           "simulation": scale.simulate(boards=int(boards), build_hosts=int(build_hosts))}
    if plan:
        out["matrix"] = [scale.matrix_wall(PROJECT, plan, n, say=_say(True)) for n in (1, 2)]
    print(jsonlib.dumps(out, indent=2))


@release_task("sign", positional=["folder"], help={"folder": "a release folder, e.g. dist/1.0.0",
                                                   "key": "elliptic-curve private key (PEM)"})
def release_sign(c, folder, key):
    """Sign a release folder with model-signing and a local key: writes FOLDER/release.sig."""
    from edgebuild.flows.release.signing import sign

    print(f"signed: {sign(Path(folder), Path(key))}")


ns = Collection.from_module(sys.modules[__name__])
ns.add_collection(lab)
ns.add_collection(release_ns)
