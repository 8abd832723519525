"""The lab inventory: devices/lab.toml (committed) overlaid by devices/local.toml (git-ignored).

Each file holds `[device.NAME]` tables, each validated by `Device`. A name in local.toml replaces
the same name in lab.toml, so a machine can point a shared device at its own key or port.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path

from .. import schema
from ..errors import ConfigError, unknown
from ..project import Project

LAB, LOCAL, KNOWN_HOSTS = "lab.toml", "local.toml", "known_hosts"
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")


@dataclass(frozen=True)
class Device:
    target: str  # a file stem in targets/
    host: str
    user: str
    key_file: str  # private key; relative paths are relative to the devices/ folder
    port: int = 22
    # How to start the device's Python; a list so a wrapper (qemu) or an interpreter path fits.
    python: list[str] = field(default_factory=lambda: ["python3"])
    work_dir: str = "edgebuild"  # relative to the login's home directory, or absolute
    tags: list[str] = field(default_factory=list)
    emulated: bool = False  # timings come from an emulator, never presented as hardware figures
    description: str = ""
    name: str = field(default="", metadata={"derived": True})
    source: Path = field(default=Path(), metadata={"derived": True}, compare=False)

    def __post_init__(self):
        if not _NAME.match(self.name):
            raise ValueError(f"device name {self.name!r}: use letters, digits, '.', '_' and '-'")
        if not 0 < self.port < 65536:
            raise ValueError(f"key 'port': must be 1..65535, got {self.port}")
        if not self.python:
            raise ValueError("key 'python': needs at least the interpreter, e.g. [\"python3\"]")
        if self.name in self.tags or "all" in self.tags:
            raise ValueError("key 'tags': a tag may not be 'all' or the device's own name")

    def key_path(self, devices_dir: Path) -> Path:
        path = Path(self.key_file).expanduser()
        return path if path.is_absolute() else devices_dir / path

    @property
    def address(self) -> str:
        return f"{self.user}@{self.host}:{self.port}"


@dataclass(frozen=True)
class Inventory:
    devices_dir: Path
    devices: dict[str, Device]

    @property
    def known_hosts(self) -> Path:
        return self.devices_dir / KNOWN_HOSTS

    def key_path(self, device: Device) -> Path:
        return device.key_path(self.devices_dir)

    def tags(self) -> list[str]:
        return sorted({t for d in self.devices.values() for t in d.tags})

    def select(self, selector: str) -> list[Device]:
        """`NAME`, `TAG` or `all` -> the matching devices, sorted by name."""
        if selector == "all":
            found = list(self.devices.values())
        elif selector in self.devices:
            found = [self.devices[selector]]
        else:
            found = [d for d in self.devices.values() if selector in d.tags]
        if not found:
            hint = (f"tags: {', '.join(self.tags()) or '(none)'}; 'all' selects every device. "
                    f"Add devices to {self.devices_dir / LAB} (or run `invoke lab.emulate` for rpi4-emu)")
            raise unknown("device", selector, list(self.devices), hint)
        return sorted(found, key=lambda d: d.name)

    def get(self, name: str) -> Device:
        if name not in self.devices:
            raise unknown("device", name, list(self.devices), f"Add [device.{name}] to {self.devices_dir / LAB}")
        return self.devices[name]


def devices_dir(project: Project) -> Path:
    return project.root / "devices"


def load(project: Project) -> Inventory:
    folder = devices_dir(project)
    devices: dict[str, Device] = {}
    for path in (folder / LAB, folder / LOCAL):
        if path.is_file():
            devices.update(load_file(path))
    return Inventory(folder, devices)


def load_file(path: Path) -> dict[str, Device]:
    data = schema.load_toml(path)
    where = schema.Where(path)
    extra = sorted(set(data) - {"device"})
    if extra:
        raise where.child(extra[0]).error("unknown table; devices go in [device.NAME] tables")
    tables = data.get("device", {})
    if not isinstance(tables, dict):
        raise where.child("device").error("expected [device.NAME] tables")
    return {name: schema.build(Device, table, where.child("device").child(name), name=name, source=path)
            for name, table in tables.items()}


def write_local(project: Project, device: Device) -> Path:
    """Add or replace one device in devices/local.toml (machine-local, git-ignored)."""
    path = devices_dir(project) / LOCAL
    path.parent.mkdir(parents=True, exist_ok=True)
    current = load_file(path) if path.is_file() else {}
    current[device.name] = device
    lines = ["# Machine-local devices (git-ignored). Written by `invoke lab.emulate`; edit freely.", ""]
    for name in sorted(current):
        lines.append(f"[device.{name}]")
        for key, value in schema.dump(current[name]).items():
            lines.append(f"{key} = {_toml_value(value)}")
        lines.append("")
    tmp = path.with_suffix(".toml.tmp")
    tmp.write_text("\n".join(lines), encoding="utf-8")
    tmp.replace(path)
    return path


def remove_local(project: Project, name: str) -> None:
    path = devices_dir(project) / LOCAL
    if path.is_file() and name in load_file(path):
        current = load_file(path)
        del current[name]
        if not current:
            path.unlink()
            return
        path.unlink()
        for device in current.values():
            write_local(project, device)


def _toml_value(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):  # a JSON string is a TOML basic string (newlines, quotes, controls escaped)
        return json.dumps(value).replace("\x7f", "\\u007f")
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    raise ConfigError(f"cannot write {value!r} to local.toml")
