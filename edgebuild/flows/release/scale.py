"""Scale measurements for the release matrix (`invoke release.scale`).

- overhead: Dask's cost per task on this machine (no-op tasks through the scheduler to build workers);
- simulation: a LocalCluster standing in for a lab of N boards and H build hosts. Builds and
  profiles are sleeps (labelled as a simulation: no model is built or timed); what is measured is
  the scheduling: wall time against the ideal for those sleeps, per-task overhead, and how long
  profile jobs queue for their board.
"""

from __future__ import annotations

import logging
import statistics
import time
from typing import Callable

from . import matrix
from .cluster import PATIENT, start_lab_worker

Say = Callable[[str], None]


def _noop() -> None:
    return None


def _sleep(seconds: float, _after=None) -> tuple[float, float]:
    began = time.time()
    time.sleep(seconds)
    return began, time.time()


def overhead(client, tasks: int = 400) -> dict:
    """Seconds per task: a batch of no-op tasks, and one-at-a-time round trips."""
    from distributed import wait

    began = time.perf_counter()
    wait([client.submit(_noop, pure=False, resources={matrix.BUILD: 1}) for _ in range(tasks)])
    batch = (time.perf_counter() - began) / tasks
    trips = []
    for _ in range(30):
        t = time.perf_counter()
        client.submit(_noop, pure=False, resources={matrix.BUILD: 1}).result()
        trips.append(time.perf_counter() - t)
    return {"tasks": tasks, "batch_s_per_task": batch, "round_trip_s_median": statistics.median(trips)}


def simulate(boards: int = 100, build_hosts: int = 4, targets: int = 4, bundles_per_target: int = 20,
             build_s: float = 0.5, profile_s: float = 0.1, say: Say = print) -> dict:
    """Every bundle of a target is profiled on every board of that target, one job per board at a time."""
    import dask
    from distributed import Client, LocalCluster, as_completed

    per_target = boards // targets
    board_names = [f"sim{i:03d}" for i in range(per_target * targets)]
    with dask.config.set(PATIENT), LocalCluster(n_workers=build_hosts, threads_per_worker=1, processes=True, resources={matrix.BUILD: 1},
                      dashboard_address=":0", silence_logs=logging.ERROR) as lc, Client(lc) as client:
        lab = start_lab_worker(client, board_names, [])
        try:
            cost = overhead(client)
            began = time.time()
            builds, profiles, ready = [], [], {}
            pending = as_completed()
            for t in range(targets):
                for b in range(bundles_per_target):
                    f = client.submit(_sleep, build_s, pure=False, resources={matrix.BUILD: 1}, key=f"build-{t}-{b}")
                    builds.append(f)
                    pending.add(f)
                    ready[f.key] = t
            for f in pending:
                began_at, ended = f.result()
                if f.key in ready:  # a build finished: its profiles queue on the target's boards
                    t = ready.pop(f.key)
                    for name in board_names[t * per_target:(t + 1) * per_target]:
                        p = client.submit(_sleep, profile_s, pure=False, resources={matrix.board(name): 1})
                        profiles.append((p, ended))
                        pending.add(p)
            wall = time.time() - began
            waits = [p.result()[0] - ready_at for p, ready_at in profiles]
        finally:
            matrix.stop_worker(lab)
    n_builds = targets * bundles_per_target
    # Ideal: builds spread evenly over the hosts, then the last target's boards each run every bundle.
    ideal = max(n_builds * build_s / build_hosts + profile_s,
                build_s + bundles_per_target * profile_s)
    return {"simulation": True, "boards": len(board_names), "build_hosts": build_hosts, "builds": n_builds,
            "profiles": len(profiles), "build_s": build_s, "profile_s": profile_s, "wall_s": round(wall, 2),
            "ideal_s": round(ideal, 2), "overhead_s_per_task": round((wall - ideal) / (n_builds + len(profiles)), 5),
            "profile_queue_s": {"median": round(statistics.median(waits), 3), "max": round(max(waits), 3)},
            "dask_overhead": cost}


def matrix_wall(project, plan: str, workers: int, say: Say = print) -> dict:
    """Build a plan's matrix from scratch (a fresh copy of the project: nothing cached but the trained
    models) on a LocalCluster of `workers` build workers, without profiles; wall and per-build times."""
    import shutil
    import subprocess
    import tempfile
    from pathlib import Path

    from ...project import Project
    from . import dist
    from .release import ReleaseRequest, release

    with tempfile.TemporaryDirectory(prefix="edgebuild-scale-") as scratch:
        root = Path(scratch) / "proj"
        root.mkdir()
        for name in ("tasks.py", ".gitignore"):
            shutil.copy(project.root / name, root / name)
        for folder in ("targets", "recipes", "releases", "devices", "compile"):
            if (project.root / folder).is_dir():
                shutil.copytree(project.root / folder, root / folder, ignore=shutil.ignore_patterns("dask-tls"))
        (root / "build").mkdir()
        (root / "build" / ".cache").symlink_to(project.cache_dir.resolve(), target_is_directory=True)
        for args in (["init", "-q"], ["add", "-A"], ["-c", "user.name=s", "-c", "user.email=s@s", "commit", "-qm", "s"]):
            subprocess.run(["git", "-C", str(root), *args], check=True, capture_output=True)
        copy = Project(root)
        from . import plan as plans

        targets = tuple(plans.load(copy, plan).targets)
        out = release(copy, ReleaseRequest(plan=plan, version=f"scale-{workers}", workers=workers,
                                           no_profile=targets), say=say)
        manifest = dist.read_manifest(out)
    builds = [t["finished"] - t["started"] for t in manifest["matrix"]["tasks"]]
    return {"workers": workers, "cells": len(manifest["cells"]), "wall_s": manifest["matrix"]["wall_s"],
            "build_s_sum": round(sum(builds), 2), "build_s": [round(b, 2) for b in builds]}
