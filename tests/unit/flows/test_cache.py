import pytest

from edgebuild import targets
from edgebuild.flows import cache
from edgebuild.models import TensorSpec


def key(project, **over):
    target = over.pop("target", targets.load(project, "rpi4"))
    args = dict(model_fingerprint="abc", specs=[TensorSpec("x", (1, 2), "float32")],
                recipe_file=project.recipes_dir / "none.toml", target_file=project.targets_dir / f"{target.name}.toml",
                target=target, tuning_dir=project.tuning_dir, versions={"apache-tvm": "0.27"})
    args.update(over)
    return cache.build_key(**args)


def test_same_inputs_same_key(tmp_project):
    assert key(tmp_project) == key(tmp_project)


def test_everything_that_changes_bytes_changes_the_key(tmp_project):
    base = key(tmp_project)
    assert key(tmp_project, model_fingerprint="abd") != base
    assert key(tmp_project, specs=[TensorSpec("x", (2, 2), "float32")]) != base
    assert key(tmp_project, versions={"apache-tvm": "0.28"}) != base
    recipe = tmp_project.recipes_dir / "none.toml"
    recipe.write_text(recipe.read_text() + "\n# edited\n")
    assert key(tmp_project) != base
    base = key(tmp_project)
    target_file = tmp_project.targets_dir / "rpi4.toml"
    target_file.write_text(target_file.read_text().replace("num-cores = 4", "num-cores = 3"))
    assert key(tmp_project) != base
    base = key(tmp_project)
    records = tmp_project.tuning_dir / "rpi4"
    records.mkdir(parents=True)
    (records / "database_tuning_record.json").write_text("[]")
    assert key(tmp_project) != base


def test_tuning_records_of_other_targets_do_not_matter(tmp_project):
    base = key(tmp_project)
    (tmp_project.tuning_dir / "rpi5").mkdir(parents=True)
    (tmp_project.tuning_dir / "rpi5" / "records.json").write_text("[]")
    assert key(tmp_project) == base


def test_a_cuda_build_is_keyed_by_its_nvcc(project, monkeypatch, tmp_path):
    # another nvcc compiles other kernels: the tools a target needs are part of the build's key
    from edgebuild.compile import toolchain
    from edgebuild.flows import build

    seen = []

    class Stop(Exception):
        pass

    def capture(**args):
        seen.append(args["versions"])
        raise Stop

    monkeypatch.setattr(toolchain, "require", lambda target: {"nvcc": "Build cuda_13.0", "cuda_toolkit": "13.0"})
    monkeypatch.setattr(cache, "build_key", capture)
    with pytest.raises(Stop):
        build.build(project, build.BuildRequest(target="host-cuda", out=tmp_path / "b"), say=lambda line: None)
    assert seen and seen[0]["cuda_toolkit"] == "13.0" and seen[0]["apache-tvm"].startswith("0.27")
