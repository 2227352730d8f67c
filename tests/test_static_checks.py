"""The linters `make lint` runs on code that has no test folder of its own: Python style and the Dockerfile.

Terraform formatting and checkov run in tests/terraform, zizmor in tests/workflows.
"""

import subprocess

import pytest

from tests.support.servers import BIN_DIR, REPO_ROOT


@pytest.mark.parametrize(
    "command",
    [
        ["ruff", "check", "."],
        ["ruff", "format", "--check", "."],
        ["hadolint", "app/Dockerfile"],
    ],
    ids=["ruff check", "ruff format", "hadolint"],
)
def test_linter_is_clean(command):
    completed = subprocess.run(
        [str(BIN_DIR / command[0]), *command[1:]],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert completed.returncode == 0, completed.stdout + completed.stderr
