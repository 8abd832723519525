"""Progress on stderr: bars on a terminal, plain lines otherwise or under CI; uploads as byte tasks."""

import io

import pytest

from edgebuild import progress


class Terminal(io.StringIO):
    def isatty(self):
        return True


def test_bars_only_on_a_terminal_outside_ci(monkeypatch):
    monkeypatch.delenv("CI", raising=False)
    assert isinstance(progress.for_stderr(Terminal()), progress.Bars)
    assert isinstance(progress.for_stderr(io.StringIO()), progress.Lines)
    monkeypatch.setenv("CI", "true")
    assert isinstance(progress.for_stderr(Terminal()), progress.Lines)


def test_lines_report_start_each_tenth_at_most_once_a_second_and_the_end(monkeypatch):
    clock = iter(range(0, 10_000, 1))  # one second per call of time.monotonic
    monkeypatch.setattr(progress.time, "monotonic", lambda: next(clock))
    out = io.StringIO()
    with progress.Lines(out) as shown, shown.task("training digits-cnn", total=20, unit="epochs") as task:
        for _ in range(20):
            task.advance()
    lines = out.getvalue().splitlines()
    assert lines[0] == "training digits-cnn: started (20 epochs)"
    assert lines[1] == "training digits-cnn: 2/20 epochs (10%)" and lines[10] == "training digits-cnn: 20/20 epochs (100%)"
    assert lines[-1].startswith("training digits-cnn: done after ") and lines[-1].endswith(" s (20/20 epochs)")
    assert len(lines) == 12
    monkeypatch.setattr(progress.time, "monotonic", lambda: 0.0)  # a fast task: its start and its end only
    out = io.StringIO()
    with progress.Lines(out).task("int8 calibration", total=200, unit="samples") as task:
        task.advance(200)
    assert out.getvalue().splitlines() == ["int8 calibration: started (200 samples)",
                                           "int8 calibration: done after 0.0 s (200/200 samples)"]


def test_a_failed_step_says_so_and_silent_says_nothing():
    out = io.StringIO()
    with pytest.raises(ValueError), progress.Lines(out).task("build x: compile"):
        raise ValueError("boom")
    assert out.getvalue().splitlines()[-1].startswith("build x: compile: failed after ")
    assert out.getvalue().splitlines()[-1].endswith(" s")  # no amount for a step without one
    with progress.SILENT.task("quiet", total=3) as task:
        task.advance(3)


def test_uploads_show_bytes_per_file_and_bars_render_to_their_stream(monkeypatch):
    clock = iter(range(0, 10_000, 2))
    monkeypatch.setattr(progress.time, "monotonic", lambda: next(clock))
    out = io.StringIO()
    report = progress.uploads(progress.Lines(out), "pi-1")
    for done in (0, 2**20, 2 * 2**20):
        report("/work/bundles/.tmp-1/model.so.z", done, 2 * 2**20)
    lines = out.getvalue().splitlines()
    assert lines[:3] == ["pi-1: upload model.so.z: started (2.0 MB)", "pi-1: upload model.so.z: 1.0 MB/2.0 MB (50%)",
                         "pi-1: upload model.so.z: 2.0 MB/2.0 MB (100%)"]
    assert len(lines) == 4 and lines[3].startswith("pi-1: upload model.so.z: done after ")
    assert lines[3].endswith(" s (2.0 MB/2.0 MB)")
    screen = Terminal()
    with progress.Bars(screen) as bars, bars.task("tuning 7 kernels", total=7, unit="trials") as task:
        task.set(7)
    assert "tuning 7 kernels" in screen.getvalue() and "7/7 trials" in screen.getvalue()
