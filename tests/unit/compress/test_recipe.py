import pytest

from edgebuild import compress, schema
from edgebuild.errors import ConfigError, LookupFailed


def test_none_recipe_loads_and_round_trips(project):
    recipe = compress.load(project, "none")
    assert recipe.steps == [] and recipe.name == "none"
    path = compress.folder(project).path("none")
    assert schema.dump(recipe) == schema.load_toml(path)


def test_apply_of_an_empty_recipe_is_identity(project):
    model = object()
    assert compress.apply(compress.load(project, "none"), model) is model


def test_unknown_recipe_lists_the_valid_ones(project):
    with pytest.raises(LookupFailed, match="unknown recipe 'int4'; valid recipes: .*none"):
        compress.load(project, "int4")


def test_unknown_technique_is_rejected_with_file(tmp_project):
    path = tmp_project.recipes_dir / "odd.toml"
    path.write_text('description = "x"\n[[steps]]\ntechnique = "magic"\n')
    with pytest.raises(ConfigError, match=rf"{path}: steps\[0\]: unknown technique 'magic'"):
        compress.load(tmp_project, "odd")
