"""The emulated Raspberry Pi 4 (rpi4-emu) for the lab's integration tests.

Needs qemu-aarch64 and sshd (`scripts/install-lab-test-deps`, i.e. apt-get install -y qemu-user
openssh-server); without them every test here is skipped with that reason. The first run also
fetches Debian's arm64 python3.11 packages and the aarch64 TVM wheels (cached under build/.cache/).
"""

import shutil
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from edgebuild.flows import build as builder
from edgebuild.lab import deploy, emulate, inventory, provision
from edgebuild.lab.inventory import Device, Inventory
from edgebuild.project import Project

ROOT = Path(__file__).resolve().parents[3]
MISSING = [tool for tool in ("qemu-aarch64", "sshd") if not (shutil.which(tool) or Path(f"/usr/sbin/{tool}").exists())]

pytestmark = pytest.mark.integration


def pytest_collection_modifyitems(config, items):
    if MISSING:
        skip = pytest.mark.skip(reason=f"the emulated device needs {' and '.join(MISSING)}: "
                                       f"apt-get install -y qemu-user openssh-server (scripts/install-lab-test-deps)")
        for item in items:
            if "integration/lab" in str(item.fspath):
                item.add_marker(skip)


@dataclass
class Lab:
    project: Project
    device: Device
    bundle: deploy.LocalBundle
    timings: dict

    @property
    def inventory(self) -> Inventory:
        return inventory.load(self.project)

    @property
    def emulator(self) -> emulate.Emulator:
        return emulate.Emulator.of(self.project, self.device.name)


@pytest.fixture(scope="session")
def lab() -> Lab:
    project = Project(ROOT)
    quiet = lambda s: None  # noqa: E731
    was_running = emulate.running_pid(emulate.Emulator.of(project)) is not None
    timings = {}
    began = time.monotonic()
    device = emulate.start(project, say=quiet)
    timings["emulate_s"] = time.monotonic() - began
    began = time.monotonic()
    provision.provision(project, device.name, say=quiet)
    timings["provision_s"] = time.monotonic() - began
    built = builder.build(project, builder.BuildRequest(target=device.target), say=quiet)
    yield Lab(project, device, deploy.LocalBundle.open(built.bundle), timings)
    if not was_running:
        emulate.stop(project, device.name, say=quiet)


def variant(lab: Lab, folder: Path, note: str) -> deploy.LocalBundle:
    """A copy of the bundle with another manifest (so another bundle_sha256), files unchanged."""
    import json

    shutil.copytree(lab.bundle.folder, folder)
    manifest = json.loads((folder / "manifest.json").read_text())
    manifest["variant"] = note
    (folder / "manifest.json").write_text(json.dumps(manifest, indent=2))
    return deploy.LocalBundle.open(folder)


def project_with(lab: Lab, root: Path, **devices: dict) -> Project:
    """A project whose devices are rpi4-emu with overrides (another port, work dir, python...), each
    with the emulated device's host key pinned under its own address."""
    from edgebuild.lab import trust
    from edgebuild.lab.transport import host_key_name

    (root / "devices").mkdir(parents=True)
    (root / "tasks.py").write_text("")
    shutil.copytree(ROOT / "targets", root / "targets")
    key = emulate._host_public_key(lab.emulator)
    for name, overrides in devices.items():
        device = Device(**{**vars(lab.device), "name": name, "tags": ["pair"], **overrides})
        project = Project(root)
        inventory.write_local(project, device)
        trust.record(root / "devices" / "known_hosts.local", host_key_name(device), key)
    return Project(root)
