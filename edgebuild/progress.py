"""Progress of long steps, on stderr: rich bars on a terminal, plain lines when stderr is not a TTY or CI
is set (so `--json | jq` and CI logs get readable lines, nothing interactive).

A task creates one Progress (`for_stderr()`) and hands it down; stages take it as an argument
(default SILENT) and open tasks on it. Nothing here is global.
"""

from __future__ import annotations

import os
import posixpath
import sys
import threading
import time
from typing import IO, Callable

# Lines: a task's line when it passes a tenth of its total (at most once a second), else every few seconds.
TENTH_GAP_S, LINE_EVERY_S = 1.0, 5.0


def _amount(value: float, unit: str) -> str:
    if unit == "B":
        for size in ("B", "KB", "MB", "GB"):
            if value < 1024 or size == "GB":
                return f"{value:.0f} {size}" if size == "B" else f"{value:.1f} {size}"
            value /= 1024
    return f"{value:g}{' ' + unit if unit else ''}"


class Task:
    """One long step. Use as a context manager; `advance` by units done, `describe` the current part."""

    def __init__(self, owner: "Progress", description: str, total: float | None, unit: str):
        self.owner, self.description, self.total, self.unit = owner, description, total, unit
        self.done, self.started, self.handle = 0.0, time.monotonic(), None

    def __enter__(self) -> "Task":
        self.owner._start(self)
        return self

    def __exit__(self, kind, *_) -> None:
        self.owner._finish(self, failed=kind is not None)

    def advance(self, amount: float = 1.0) -> None:
        self.done += amount
        self.owner._update(self)

    def set(self, done: float) -> None:
        self.done = done
        self.owner._update(self)

    def describe(self, description: str) -> None:
        self.description = description
        self.owner._update(self, changed=True)

    def amount(self) -> str:
        total = f"/{_amount(self.total, self.unit)}" if self.total else ""  # without one, `done` has the unit
        done = _amount(self.done, self.unit) if self.unit == "B" or not self.total else f"{self.done:g}"
        return done + total


class Progress:
    """Shows nothing (SILENT); Lines and Bars override the three hooks."""

    def __enter__(self) -> "Progress":
        return self

    def __exit__(self, *_) -> None:
        pass

    def task(self, description: str, total: float | None = None, unit: str = "") -> Task:
        return Task(self, description, total, unit)

    def _start(self, task: Task) -> None:
        pass

    def _update(self, task: Task, changed: bool = False) -> None:
        pass

    def _finish(self, task: Task, failed: bool) -> None:
        pass


SILENT = Progress()


class Lines(Progress):
    """One line when a task starts, changes part, passes a tenth of its total, every few seconds, and at its end."""

    def __init__(self, stream: IO[str]):
        self.stream, self.lock, self.marks = stream, threading.Lock(), {}

    def _say(self, text: str) -> None:
        with self.lock:
            print(text, file=self.stream, flush=True)

    def _start(self, task: Task) -> None:
        self.marks[id(task)] = (0, time.monotonic())
        self._say(f"{task.description}: started" + (f" ({_amount(task.total, task.unit)})" if task.total else ""))

    def _update(self, task: Task, changed: bool = False) -> None:
        tenth, last = self.marks.get(id(task), (0, task.started))
        now_tenth = int(10 * task.done / task.total) if task.total else tenth
        quiet = time.monotonic() - last
        if changed or (now_tenth > tenth and quiet >= TENTH_GAP_S) or quiet >= LINE_EVERY_S:
            self.marks[id(task)] = (now_tenth, time.monotonic())
            self._say(f"{task.description}: {task.amount()}"
                      + (f" ({100 * task.done / task.total:.0f}%)" if task.total else ""))

    def _finish(self, task: Task, failed: bool) -> None:
        self.marks.pop(id(task), None)
        state = "failed" if failed else "done"
        amount = f" ({task.amount()})" if task.total or task.done else ""
        self._say(f"{task.description}: {state} after {time.monotonic() - task.started:.1f} s{amount}")


class Bars(Progress):
    """rich progress bars on stderr (a terminal only)."""

    def __init__(self, stream: IO[str]):
        from rich.console import Console
        from rich.progress import BarColumn, Progress as RichProgress, SpinnerColumn, TextColumn, TimeElapsedColumn

        self.rich = RichProgress(SpinnerColumn(), TextColumn("{task.description}"), BarColumn(),
                                 TextColumn("{task.fields[amount]}"), TimeElapsedColumn(),
                                 console=Console(file=stream), redirect_stdout=False, redirect_stderr=False)

    def __enter__(self) -> "Bars":
        self.rich.start()
        return self

    def __exit__(self, *_) -> None:
        self.rich.stop()

    def _start(self, task: Task) -> None:
        task.handle = self.rich.add_task(task.description, total=task.total, amount=task.amount())

    def _update(self, task: Task, changed: bool = False) -> None:
        self.rich.update(task.handle, completed=task.done, description=task.description, amount=task.amount())

    def _finish(self, task: Task, failed: bool) -> None:
        done = task.total if task.total and not failed else task.done
        self.rich.update(task.handle, completed=done, total=task.total or done or 1,
                         description=task.description + (" [failed]" if failed else ""), amount=task.amount())


def for_stderr(stream: IO[str] | None = None) -> Progress:
    """Bars on an interactive terminal; plain lines when not a TTY or when CI is set."""
    stream = stream or sys.stderr
    if stream.isatty() and not os.environ.get("CI"):
        return Bars(stream)
    return Lines(stream)


def uploads(progress: Progress, label: str) -> Callable[[str, int, int], None]:
    """A (remote path, bytes done, bytes total) callback, as SFTP puts report, shown as one task per file."""
    running: dict[str, Task] = {}

    def report(path: str, done: int, total: int) -> None:
        task = running.get(path)
        if task is None:
            task = running[path] = progress.task(f"{label}: upload {posixpath.basename(path)}", total=total, unit="B")
            task.__enter__()
        task.set(done)
        if done >= total:
            task.__exit__(None, None, None)

    return report
