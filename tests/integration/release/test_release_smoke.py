import json


def test_first_release_layout(released):
    manifest = json.loads((released.folder / "release.json").read_text())
    assert manifest["previous"] is None and "first release" in manifest["gates"]
    assert len(manifest["cells"]) == 8
