"""The layer contracts in pyproject.toml (import-linter): orchestration above stages, no upward import."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def lint(root: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(root)}
    lint_imports = Path(sys.executable).parent / "lint-imports"  # import-linter's command, beside this Python
    return subprocess.run([str(lint_imports), "--no-cache"], cwd=root, env=env,
                          capture_output=True, text=True, timeout=120)


def test_contracts_hold():
    run = lint(ROOT)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "0 broken" in run.stdout


def test_a_planted_upward_import_breaks_the_contract(tmp_path):
    shutil.copytree(ROOT / "edgebuild", tmp_path / "edgebuild", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path)
    victim = tmp_path / "edgebuild" / "compile" / "padding.py"
    victim.write_text(victim.read_text() + "\nfrom ..flows import build  # planted: a stage importing orchestration\n")
    run = lint(tmp_path)
    assert run.returncode != 0
    assert "edgebuild.compile.padding -> edgebuild.flows.build" in run.stdout, run.stdout
