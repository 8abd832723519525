"""A folder of TOML data files, one typed object per file, looked up by file stem."""

from __future__ import annotations

from pathlib import Path
from typing import Generic, TypeVar

from . import schema
from .errors import unknown

T = TypeVar("T")


class DataFolder(Generic[T]):
    """`targets/`, `recipes/`: adding a choice is adding a file."""

    def __init__(self, folder: Path, cls: type[T], kind: str):
        self.folder, self.cls, self.kind = folder, cls, kind

    def names(self) -> list[str]:
        return sorted(p.stem for p in self.folder.glob("*.toml"))

    def path(self, name: str) -> Path:
        path = self.folder / f"{name}.toml"
        if "/" in name or not path.is_file():
            raise unknown(self.kind, name, self.names(), f"Add {self.folder}/{name}.toml to create it")
        return path

    def load(self, name: str) -> T:
        path = self.path(name)
        return schema.build(self.cls, schema.load_toml(path), schema.Where(path), name=name)

    def load_all(self) -> list[T]:
        return [self.load(name) for name in self.names()]
