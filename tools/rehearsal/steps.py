"""Run one `run:` step of a workflow as GitHub runs it: bash -eo pipefail, with the step's env, a
GITHUB_OUTPUT / GITHUB_ENV / GITHUB_STEP_SUMMARY file each, and the step's outputs read back.

Shared by the rehearsal and the workflow tests, so that both run exactly what the YAML says."""

from __future__ import annotations

import os
import re
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from rehearsal.conditions import evaluate_expression

REPO_ROOT = Path(__file__).resolve().parents[2]
WORKFLOWS_DIR = REPO_ROOT / ".github" / "workflows"
# GitHub's `shell: bash` default: no profile, exit on the first error, a failed pipe fails the step.
BASH = ("bash", "--noprofile", "--norc", "-eo", "pipefail")
EXPRESSION = re.compile(r"\$\{\{\s*(.*?)\s*\}\}")


@dataclass(frozen=True)
class StepRun:
    returncode: int
    stdout: str
    stderr: str
    outputs: dict[str, str]
    summary: str


def job_steps(workflow: str, job: str) -> list[dict[str, Any]]:
    data = yaml.safe_load((WORKFLOWS_DIR / workflow).read_text())
    return data["jobs"][job]["steps"]


def workflow_data(workflow: str) -> dict[str, Any]:
    return yaml.safe_load((WORKFLOWS_DIR / workflow).read_text())


def find_step(workflow: str, job: str, name: str) -> dict[str, Any]:
    matches = [step for step in job_steps(workflow, job) if step.get("name") == name]
    if len(matches) != 1:
        raise LookupError(f"{workflow}:{job} has {len(matches)} steps named {name!r}")
    return matches[0]


def evaluate(value: str, context: Mapping[str, str]) -> str:
    """Every `${{ }}` in `value` replaced by its value under `context` (a missing one is empty, as on GitHub)."""
    return EXPRESSION.sub(lambda match: evaluate_expression(match.group(1), context), str(value))


def parse_outputs(text: str) -> dict[str, str]:
    """The GITHUB_OUTPUT (or GITHUB_ENV) file: `name=value` lines and `name<<DELIMITER` blocks."""
    outputs: dict[str, str] = {}
    lines = iter(text.splitlines())
    for line in lines:
        if "<<" in line and ("=" not in line or line.index("<<") < line.index("=")):
            name, delimiter = line.split("<<", 1)
            block = []
            for body in lines:
                if body == delimiter:
                    break
                block.append(body)
            outputs[name] = "\n".join(block)
        elif "=" in line:
            name, value = line.split("=", 1)
            outputs[name] = value
    return outputs


def run_step(
    step: Mapping[str, Any],
    cwd: Path,
    context: Mapping[str, str] | None = None,
    env: Mapping[str, str] | None = None,
    timeout: float = 600,
    inherit_env: bool = True,
) -> StepRun:
    """`context` supplies the expressions of the step's env (e.g. {"inputs.model-uri": "..."}); `env` is the
    runner's environment under it (job-level env, PATH, credentials). With `inherit_env` false, `env` is the
    whole environment (no credentials or TF_ variables of the caller leak in)."""
    context = context or {}
    files = {name: cwd / f".github-{name.lower()}" for name in ("GITHUB_OUTPUT", "GITHUB_ENV", "GITHUB_STEP_SUMMARY")}
    for path in files.values():
        path.write_text("")
    step_env = {name: evaluate(value, context) for name, value in (step.get("env") or {}).items()}
    base = dict(os.environ) if inherit_env else {}
    result = subprocess.run(
        [*BASH, "-c", evaluate(step["run"], context)],
        cwd=cwd,
        env={**base, **(env or {}), **step_env, **{name: str(path) for name, path in files.items()}},
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    return StepRun(
        result.returncode,
        result.stdout,
        result.stderr,
        parse_outputs(files["GITHUB_OUTPUT"].read_text()),
        files["GITHUB_STEP_SUMMARY"].read_text(),
    )
