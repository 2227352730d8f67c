"""actionlint reports nothing on the workflows, with shellcheck on every run: block; the composite actions'
run: blocks, which actionlint does not shellcheck, are shellchecked here the same way."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from tests.support.servers import REPO_ROOT
from tests.workflows.conftest import actions, steps_of

TOOLS = REPO_ROOT / ".venv-workflow-lint" / "bin"
ACTIONLINT, SHELLCHECK = TOOLS / "actionlint", TOOLS / "shellcheck"

pytestmark = pytest.mark.skipif(
    not ACTIONLINT.exists(), reason="run `make setup` (installs requirements/workflow-lint.txt)"
)


def run_actionlint(repository: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(ACTIONLINT), "-no-color", f"-shellcheck={SHELLCHECK}"],
        cwd=repository,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_actionlint_finds_nothing() -> None:
    result = run_actionlint(REPO_ROOT)
    assert result.returncode == 0, result.stdout + result.stderr


def test_actionlint_runs_shellcheck_on_run_blocks(tmp_path: Path) -> None:
    """The check above is only as good as this: an unquoted variable in a run: block must be reported."""
    (tmp_path / ".git").mkdir()
    shutil.copytree(REPO_ROOT / ".github", tmp_path / ".github")
    broken = tmp_path / ".github" / "workflows" / "drift.yml"
    text = broken.read_text()
    assert 'check-staged --function "$function"' in text
    broken.write_text(text.replace('check-staged --function "$function"', "check-staged --function $function"))
    result = run_actionlint(tmp_path)
    assert result.returncode == 1
    assert "SC2086" in result.stdout


@pytest.mark.parametrize("name", sorted(actions()))
def test_composite_action_scripts_pass_shellcheck(name: str, tmp_path: Path) -> None:
    for index, (where, step) in enumerate(steps_of(actions()[name])):
        if "run" not in step or step.get("shell", "bash") != "bash":
            continue
        # GitHub runs `shell: bash` as bash -e -o pipefail; the shebang tells shellcheck the dialect.
        script = tmp_path / f"{name}-{index}.sh"
        script.write_text("#!/usr/bin/env bash\nset -eo pipefail\n" + step["run"])
        result = subprocess.run([str(SHELLCHECK), str(script)], capture_output=True, text=True, timeout=60, check=False)
        assert result.returncode == 0, f"{where} ({step.get('name')}):\n{result.stdout}"
