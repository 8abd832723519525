"""`invoke lab.status`: per device, reachability, arch, Python, runtime version, free disk, bundles."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from ..errors import EdgebuildError
from ..project import Project
from . import inventory, remote
from .inventory import Device
from .transport import LINK_ERRORS, Timeouts, connect, link_lost


@dataclass(frozen=True)
class Status:
    device: Device
    reachable: bool
    probe: remote.Probe | None = None
    error: str | None = None
    seconds: float = 0.0

    def to_json(self) -> dict:
        p = self.probe
        return {"device": self.device.name, "address": self.device.address, "target": self.device.target,
                "emulated": self.device.emulated, "reachable": self.reachable, "error": self.error,
                "machine": p and p.machine, "python": p and p.python_version, "cpu_model": p and p.cpu_model,
                "runtime": p and p.runtime, "free_bytes": p and p.free_bytes, "bundles": p and p.bundles,
                "seconds": round(self.seconds, 2)}

    def line(self) -> str:
        d, p = self.device, self.probe
        head = f"{d.name:<14} {d.address:<26} {d.target:<10}"
        if not self.reachable or p is None:
            return f"{head} UNREACHABLE  {self.error}"
        rt = p.runtime or {}
        tvm = rt.get("versions", {}).get("apache_tvm") if rt.get("present") else None
        runtime = f"tvm {tvm} ({rt['id'][:12]})" if tvm else "no runtime (invoke lab.provision)"
        emu = " [emulated]" if d.emulated else ""
        return (f"{head} ok  {p.machine} Python {p.python_version}  {runtime}  "
                f"free {p.free_bytes / 2**30:.1f} GiB  bundles {len(p.bundles)}{emu}")


def status(project: Project, selector: str = "all", timeouts: Timeouts = Timeouts(connect=5, banner=5, auth=5)
           ) -> list[Status]:
    inv = inventory.load(project)
    devices = inv.select(selector)

    def one(device: Device) -> Status:
        began = time.monotonic()
        try:
            with connect(inv, device, timeouts) as conn:
                return Status(device, True, remote.probe(conn), seconds=time.monotonic() - began)
        except EdgebuildError as exc:
            return Status(device, False, error=str(exc), seconds=time.monotonic() - began)
        except LINK_ERRORS as exc:
            return Status(device, False, error=str(link_lost(device, exc)), seconds=time.monotonic() - began)

    with ThreadPoolExecutor(max_workers=max(1, min(8, len(devices)))) as pool:
        return list(pool.map(one, devices))
