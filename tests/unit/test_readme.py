"""The README's two commands are what newcomers copy; CI must run the test one verbatim."""

import re

from ..conftest import ROOT


def commands():
    return re.findall(r"```\n(.+?)\n```", (ROOT / "README.md").read_text())


def test_readme_has_the_setup_and_build_command_and_the_test_command():
    found = commands()
    assert any(c.endswith("invoke build --target=rpi4") and c.startswith("scripts/setup") for c in found)
    assert any(c.startswith("scripts/setup --test") and "pytest" in c for c in found)


def test_ci_runs_the_readme_test_command():
    (test_command,) = [c for c in commands() if c.startswith("scripts/setup --test")]
    assert test_command in (ROOT / ".ci" / "run").read_text()
