"""Load the workflows, reusable workflows and composite actions once, as plain data."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.support.servers import REPO_ROOT

GITHUB_DIR = REPO_ROOT / ".github"
WORKFLOWS_DIR = GITHUB_DIR / "workflows"
ACTIONS_DIR = GITHUB_DIR / "actions"


@dataclass(frozen=True)
class Document:
    path: Path
    text: str
    data: dict[str, Any]

    @property
    def name(self) -> str:
        return self.path.name if self.path.parent == WORKFLOWS_DIR else self.path.parent.name

    @property
    def triggers(self) -> dict[str, Any]:
        # YAML 1.1 reads the key `on` as the boolean True.
        triggers = self.data.get(True, self.data.get("on"))
        return {triggers: None} if isinstance(triggers, str) else dict(triggers or {})

    @property
    def jobs(self) -> dict[str, dict[str, Any]]:
        return self.data.get("jobs", {})


def load(path: Path) -> Document:
    text = path.read_text()
    return Document(path, text, yaml.safe_load(text))


def workflows() -> dict[str, Document]:
    return {path.name: load(path) for path in sorted(WORKFLOWS_DIR.glob("*.yml"))}


def actions() -> dict[str, Document]:
    return {path.parent.name: load(path) for path in sorted(ACTIONS_DIR.glob("*/action.yml"))}


def steps_of(document: Document) -> Iterator[tuple[str, dict[str, Any]]]:
    """(where, step) for every step of every job, and of a composite action."""
    for job_id, job in document.jobs.items():
        for step in job.get("steps", []):
            yield f"{document.name}:{job_id}", step
    for step in document.data.get("runs", {}).get("steps", []):
        yield document.name, step


@pytest.fixture(scope="session")
def all_workflows() -> dict[str, Document]:
    found = workflows()
    assert found, f"no workflows in {WORKFLOWS_DIR}"
    return found


@pytest.fixture(scope="session")
def all_actions() -> dict[str, Document]:
    return actions()


# --------------------------------------------------------------------- jobs as they run, at each call site

STAGES = ("staging", "production")
_INPUT = re.compile(r"\$\{\{\s*inputs\.([\w-]+)\s*\}\}")
_WORKFLOW = re.compile(r"\$\{\{\s*github\.workflow\s*\}\}")


@dataclass(frozen=True)
class JobRun:
    """One way a job runs: started by `caller`'s job `caller_job` (github.workflow is the caller's name), the
    job `job_id` of `document` (the caller itself, or the reusable workflow it calls) with these `inputs`
    (the call's `with:` over the reusable workflow's defaults, or one choice of a dispatch's inputs)."""

    caller: Document
    caller_job: str
    document: Document
    job_id: str
    job: dict[str, Any]
    inputs: dict[str, str]

    @property
    def where(self) -> str:
        called = "" if self.document is self.caller else f" -> {self.document.name}:{self.job_id}"
        return f"{self.caller.name}:{self.caller_job}{called}"

    def evaluate(self, value: Any) -> str:
        """`value` with `${{ inputs.NAME }}` and `${{ github.workflow }}` replaced as GitHub would for this
        run; any other expression left in it fails the test (an environment or a group must be known)."""
        text = _WORKFLOW.sub(self.caller.data["name"], str(value))
        text = _INPUT.sub(lambda match: self.inputs[match.group(1)], text)
        assert "${{" not in text, f"{self.where}: {value!r} depends on more than inputs and github.workflow"
        return text

    @property
    def environment(self) -> str | None:
        environment = self.job.get("environment")
        name = environment.get("name") if isinstance(environment, dict) else environment
        return None if name is None else self.evaluate(name)

    @property
    def concurrency_group(self) -> str:
        return self.evaluate(self.job.get("concurrency", {}).get("group", ""))


def _text(value: Any) -> str:
    return str(value).lower() if isinstance(value, bool) else str(value)


def dispatch_choices(document: Document) -> list[dict[str, str]]:
    """One set of inputs per combination of the dispatch's choice inputs, the others at their defaults."""
    declared = (document.triggers.get("workflow_dispatch") or {}).get("inputs") or {}
    defaults = {name: _text(spec.get("default", "")) for name, spec in declared.items()}
    combinations = [defaults]
    for name, spec in declared.items():
        if spec.get("type") == "choice":
            combinations = [{**inputs, name: _text(option)} for inputs in combinations for option in spec["options"]]
    return combinations


def job_runs(documents: dict[str, Document]) -> list[JobRun]:
    """Every job of every workflow a trigger starts, with reusable workflows' jobs once per call site."""
    runs = []
    for caller in documents.values():
        if "workflow_call" in caller.triggers:
            continue
        for caller_job, job in caller.jobs.items():
            uses = job.get("uses")
            if not uses:
                runs += [
                    JobRun(caller, caller_job, caller, caller_job, job, inputs) for inputs in dispatch_choices(caller)
                ]
                continue
            called = documents[uses.rsplit("/", 1)[1]]
            declared = (called.triggers["workflow_call"] or {}).get("inputs") or {}
            inputs = {name: _text(spec.get("default", "")) for name, spec in declared.items()}
            inputs |= {name: _text(value) for name, value in (job.get("with") or {}).items()}
            runs += [
                JobRun(caller, caller_job, called, inner_id, inner, inputs) for inner_id, inner in called.jobs.items()
            ]
    return runs


@pytest.fixture(scope="session")
def all_runs(all_workflows: dict[str, Document]) -> list[JobRun]:
    return job_runs(all_workflows)


# ------------------------------------------------------------------------------ what the bootstrap makes


def _block(text: str, start: int) -> str:
    """The balanced {...} that opens at or after `start`."""
    opening = text.index("{", start)
    depth = 0
    for index in range(opening, len(text)):
        depth += {"{": 1, "}": -1}.get(text[index], 0)
        if depth == 0:
            return text[opening : index + 1]
    raise AssertionError(f"unbalanced braces after {text[start : start + 60]!r}")


def _upper_keys(block: str) -> set[str]:
    return set(re.findall(r"(?:^|\{)\s*([A-Z][A-Z0-9_]+)\s*=", block, flags=re.MULTILINE))


def bootstrap_variables() -> dict[str, set[str]]:
    """The github_variables output's keys by scope: repository, each stage's key, training, monitoring."""
    outputs = (REPO_ROOT / "terraform" / "bootstrap" / "outputs.tf").read_text()
    start = outputs.index('output "github_variables"')
    output = _block(outputs, start)
    scopes = {}
    for scope, marker in (
        ("repository", "repository = {"),
        ("training", "(var.training_environment) ="),
        ("monitoring", "(var.monitoring_environment) ="),
    ):
        assert marker in output, f"github_variables has no {scope} scope ({marker})"
        scopes[scope] = _upper_keys(_block(output, output.index(marker)))
    stage_marker = "stage.github_environment =>"
    assert stage_marker in output, "github_variables has no scope per stage environment"
    stage_keys = _upper_keys(_block(output, output.index(stage_marker)))
    for stage in STAGES:
        scopes[stage] = stage_keys
    return scopes


def bootstrap_environments() -> dict[str, str]:
    """The GitHub environment each role trusts, by scope: the stages' (variable `stages`), training, monitoring."""
    variables = (REPO_ROOT / "terraform" / "bootstrap" / "variables.tf").read_text()
    stages = _block(variables, variables.index('variable "stages"'))
    default = _block(stages, stages.index("default"))
    environments = {
        stage: re.search(rf'{stage}\s*=\s*\{{[^}}]*github_environment\s*=\s*"([^"]+)"', default).group(1)
        for stage in STAGES
    }
    for scope in ("training", "monitoring"):
        block = _block(variables, variables.index(f'variable "{scope}_environment"'))
        environments[scope] = re.search(r'default\s*=\s*"([^"]+)"', block).group(1)
    return environments
