"""edgebuild's tasks. Each parses its flags and calls one library function. `invoke --list`."""

from json import dumps
from pathlib import Path

from invoke import task

from edgebuild import build as builder
from edgebuild.cli import build_summary, targets_table, user_errors
from edgebuild.project import Project

PROJECT = Project(Path(__file__).resolve().parent)


@task(
    iterable=["input_shape"],
    help={
        "model": "digits-cnn (default), minilm, or the path of an .onnx file",
        "recipe": "compression recipe from recipes/ (default: none)",
        "target": "hardware target from targets/ (default: host)",
        "input-shape": "NAME:D1,D2,... fixes an input's shape; repeat for each input",
        "out": "write the bundle exactly here (default: build/<model>/<recipe>/<target>/)",
        "calibration": "int8 calibration samples: FILE.npz (one array per input) or 'random' (default: the model's data)",
    },
)
@user_errors
def build(c, model="digits-cnn", recipe="none", target="host", input_shape=None, out=None, calibration=None):
    """Compress, export, compile and bundle a model for a target."""
    request = builder.BuildRequest(model=model, recipe=recipe, target=target, input_shapes=tuple(input_shape or ()),
                                   out=Path(out) if out else None, calibration=calibration)
    print(build_summary(builder.build(PROJECT, request)))


@task
@user_errors
def targets(c):
    """List the hardware targets in targets/."""
    print(targets_table(builder.list_targets(PROJECT)))


@task
@user_errors
def recipes(c):
    """List the compression recipes in recipes/."""
    for recipe in builder.list_recipes(PROJECT):
        print(f"{recipe.name:<20} {recipe.description}")


@task(iterable=["input_shape"], help={
    "model": "digits-cnn (default), minilm, or the path of an .onnx file",
    "runs": "timed runs per engine (median reported; default 50)",
    "threads": "threads for every engine (default: all cores)",
    "input-shape": "NAME:D1,D2,... as for build",
    "json": "print the result as JSON",
})
@user_errors
def bench(c, model="digits-cnn", runs=50, threads=0, input_shape=None, json=False):
    """Latency of the host build vs ONNX Runtime (and PyTorch), side by side; writes results/bench/."""
    from edgebuild.bench import bench as run_bench, format_report

    report = run_bench(PROJECT, model=model, runs=runs, threads=threads or None,
                       input_shapes=tuple(input_shape or ()))
    print(dumps(report) if json else format_report(report))


@task(help={
    "model": "digits-cnn (default), minilm, or the path of an .onnx file",
    "recipes": "comma-separated recipes (default: every recipe in recipes/)",
    "runs": "timed runs per artifact (median reported; default 20)",
    "json": "print the result as JSON",
})
@user_errors
def bench_compress(c, model="digits-cnn", recipes="", runs=20, json=False):
    """Every compression recipe on one model (host builds): metric, sizes, MACs, latency vs none."""
    from edgebuild.compress.bench import format_report, run

    names = [r for r in recipes.split(",") if r] or [r.name for r in builder.list_recipes(PROJECT)]
    report = run(PROJECT, model, names, int(runs))
    print(dumps(report) if json else format_report(report))
