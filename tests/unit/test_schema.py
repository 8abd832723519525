from dataclasses import dataclass, field
from typing import Literal

import pytest

from edgebuild import schema
from edgebuild.errors import ConfigError


@dataclass(frozen=True)
class Inner:
    zig_target: str
    flags: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Outer:
    cores: int
    arch: Literal["x86_64", "aarch64"]
    link: Inner
    ratio: float = 1.0
    name: str = field(default="", metadata={"derived": True})


def write(tmp_path, text):
    path = tmp_path / "t.toml"
    path.write_text(text)
    return path


def load(path, **derived):
    return schema.build(Outer, schema.load_toml(path), schema.Where(path), **derived)


def test_valid_file_round_trips(tmp_path):
    path = write(tmp_path, 'cores = 4\narch = "aarch64"\nratio = 2\n[link]\nzig-target = "x"\nflags = ["-a"]\n')
    obj = load(path, name="t")
    assert obj == Outer(4, "aarch64", Inner("x", ["-a"]), 2.0, "t")
    assert schema.dump(obj) == {"cores": 4, "arch": "aarch64", "link": {"zig-target": "x", "flags": ["-a"]}, "ratio": 2.0}


def test_malformed_toml_names_file_line_and_key(tmp_path):
    path = write(tmp_path, 'cores = 4\narch = "aarch64\n')
    with pytest.raises(ConfigError, match=rf"{path}:2:.*malformed TOML.*near key 'arch'"):
        schema.load_toml(path)


def test_unknown_key_is_rejected_with_its_line_and_the_valid_keys(tmp_path):
    path = write(tmp_path, 'cores = 4\narch = "aarch64"\ncorse = 2\n[link]\nzig-target = "x"\n')
    with pytest.raises(ConfigError, match=rf"{path}:3: key 'corse': unknown key; valid keys here: arch, cores, link, ratio"):
        load(path)


@pytest.mark.parametrize("text,match", [
    ('cores = "4"\narch = "aarch64"\n[link]\nzig-target = "x"\n', r"key 'cores': expected int, got str '4'"),
    ('cores = 4\narch = "mips"\n[link]\nzig-target = "x"\n',
     r"key 'arch': invalid value 'mips'; expected one of 'x86_64', 'aarch64'"),
    ('cores = 4\narch = "aarch64"\n[link]\nflags = [1]\nzig-target = "x"\n', r"key 'link.flags\[0\]': expected str, got int"),
    ('cores = 4\narch = "aarch64"\n', r"key 'link': missing required key"),
], ids=["wrong-type", "bad-literal", "wrong-item-type", "missing-key"])
def test_invalid_values_name_the_key(tmp_path, text, match):
    with pytest.raises(ConfigError, match=match):
        load(write(tmp_path, text))


def test_derived_fields_cannot_be_set_from_the_file(tmp_path):
    path = write(tmp_path, 'name = "x"\ncores = 4\narch = "aarch64"\n[link]\nzig-target = "x"\n')
    with pytest.raises(ConfigError, match="key 'name': unknown key"):
        load(path)


def test_unreadable_file(tmp_path):
    with pytest.raises(ConfigError, match="cannot read"):
        schema.load_toml(tmp_path / "absent.toml")
