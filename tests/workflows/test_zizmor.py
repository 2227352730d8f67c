"""zizmor, offline, reports nothing on the workflows, the composite actions and dependabot.yml.

--strict-collection also makes it validate every file against GitHub's schemas: a misspelt key fails."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.support.servers import REPO_ROOT

ZIZMOR = Path(sys.executable).parent / "zizmor"


def run_zizmor(target: Path) -> tuple[int, list[dict], str]:
    completed = subprocess.run(
        [str(ZIZMOR), "--offline", "--strict-collection", "--format=json", "--no-progress", str(target)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    return completed.returncode, json.loads(completed.stdout or "[]"), completed.stderr


def test_zizmor_finds_nothing() -> None:
    exit_code, findings, log = run_zizmor(REPO_ROOT / ".github")

    assert findings == [], json.dumps(findings, indent=2)[:5000]
    assert exit_code == 0, log
    for audited in ("pull-request.yml", "_release.yml", "build-image/action.yml", "dependabot.yml"):
        assert audited in log, f"zizmor did not audit {audited}"


def test_zizmor_would_notice_a_problem(tmp_path: Path) -> None:
    """The clean result above means something: the same run flags an obviously unsafe workflow."""
    workflows = tmp_path / ".github" / "workflows"
    workflows.mkdir(parents=True)
    (workflows / "bad.yml").write_text(
        "on: pull_request_target\n"
        "jobs:\n"
        "  bad:\n"
        "    runs-on: ubuntu-latest\n"
        "    steps:\n"
        "      - uses: actions/checkout@v4\n"
        "      - run: echo ${{ github.event.pull_request.title }}\n"
    )

    exit_code, findings, _ = run_zizmor(tmp_path / ".github")

    assert exit_code != 0
    assert {"dangerous-triggers", "template-injection", "unpinned-uses"} <= {f["ident"] for f in findings}


def test_zizmor_rejects_a_workflow_that_breaks_the_schema(tmp_path: Path) -> None:
    workflows = tmp_path / ".github" / "workflows"
    workflows.mkdir(parents=True)
    (workflows / "typo.yml").write_text("on: push\njobs:\n  x:\n    runs-on: ubuntu-latest\n    stepz: []\n")

    exit_code, _, log = run_zizmor(tmp_path / ".github")

    assert exit_code != 0
    assert "stepz" in log
