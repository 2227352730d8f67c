"""The front door itself: what `make help` prints and what `make setup` refuses before it creates anything."""

import os
import shutil
import subprocess
import sys
import tomllib

import pytest

from tests.support.servers import REPO_ROOT

PROJECT = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["project"]
MINIMUM_PYTHON = PROJECT["requires-python"].removeprefix(">=")
"""The Makefile reads the same line; a form other than ">=X.Y" leaves it without a minimum, and fails here."""
TEST_FOLDERS = sorted(
    path.name for path in (REPO_ROOT / "tests").iterdir() if path.is_dir() and any(path.glob("test_*.py"))
)
pytestmark = pytest.mark.skipif(shutil.which("make") is None, reason="needs GNU make")


def make(*arguments: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    environment = {name: value for name, value in os.environ.items() if name not in {"PYTHON", "PORT", "MAKEFLAGS"}}
    return subprocess.run(
        ["make", "--no-print-directory", "-C", str(REPO_ROOT), *arguments],
        env={**environment, **(env or {})},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.fixture
def old_python(tmp_path):
    """A `python3` first on PATH that answers every question as Python 3.10 would print its version."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    fake = bin_dir / "python3"
    fake.write_text("#!/bin/sh\necho 3.10\n")
    fake.chmod(0o755)
    return {"PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}"}


def venvs(tmp_path) -> list[str]:
    """Virtualenv paths outside the checkout, so that the test never touches the real ones."""
    return [
        f"VENV={tmp_path / 'venv'}",
        f"CHECKOV_VENV={tmp_path / 'checkov'}",
        f"WORKFLOW_LINT_VENV={tmp_path / 'wl'}",
    ]


def test_setup_with_an_old_python_fails_with_one_line_before_any_virtualenv(tmp_path, old_python):
    completed = make("setup", *venvs(tmp_path), env=old_python)
    assert completed.returncode != 0
    assert completed.stdout == ""
    lines = completed.stderr.splitlines()
    assert len(lines) == 1, completed.stderr
    assert f"lambda-model needs Python {MINIMUM_PYTHON}+ (found 3.10)" in lines[0]
    assert sorted(path.name for path in tmp_path.iterdir()) == ["bin"], "no virtualenv was created"


def test_setup_names_a_python_that_does_not_run(tmp_path):
    completed = make("setup", f"PYTHON={tmp_path / 'python9'}", *venvs(tmp_path))
    assert completed.returncode != 0
    assert f"lambda-model needs Python {MINIMUM_PYTHON}+ (found no working {tmp_path / 'python9'})" in completed.stderr
    assert list(tmp_path.iterdir()) == []


def test_setup_goes_ahead_with_a_recent_python(tmp_path):
    completed = make("--dry-run", "setup", f"PYTHON={sys.executable}", *venvs(tmp_path))
    assert completed.returncode == 0, completed.stderr
    assert f"{sys.executable} -m venv {tmp_path / 'venv'}" in completed.stdout


def test_help_prints_the_port_serve_uses():
    completed = make("help")
    assert completed.returncode == 0, completed.stderr
    assert "$(" not in completed.stdout
    assert "http://127.0.0.1:8080" in completed.stdout
    assert "http://127.0.0.1:9000" in make("help", env={"PORT": "9000"}).stdout


@pytest.mark.parametrize("folder", TEST_FOLDERS)
def test_help_names_every_test_folder(folder):
    help_text = make("help").stdout
    assert f"test-{folder}" in help_text or f"-{folder}" in help_text
