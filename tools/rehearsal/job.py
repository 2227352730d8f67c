"""Play one job of a workflow from its YAML: `if:` conditions, job and step env, `${{ }}` contexts,
GITHUB_OUTPUT / GITHUB_ENV carried between steps, and the `uses:` steps replaced by what they do."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rehearsal.conditions import JobStatus, evaluate_condition
from rehearsal.steps import StepRun, evaluate, parse_outputs, run_step, workflow_data


class NotRehearsable(RuntimeError):
    """A step the rehearsal has no faithful substitute for: the stage is reported as not rehearsed."""


@dataclass
class StepRecord:
    name: str
    outcome: str  # success, failure, skipped, substituted
    note: str = ""
    run: StepRun | None = None


@dataclass
class Job:
    workflow: str
    job_id: str
    workspace: Path
    env: dict[str, str]
    context: dict[str, str]
    # `uses:` prefix -> substitute, which returns a note (and may set self.env, e.g. credentials).
    actions: Mapping[str, Callable[[Job, dict[str, Any]], str]]
    records: list[StepRecord] = field(default_factory=list)
    status: JobStatus = field(default_factory=JobStatus)

    @property
    def definition(self) -> dict[str, Any]:
        return workflow_data(self.workflow)["jobs"][self.job_id]

    @property
    def environment(self) -> str | None:
        environment = self.definition.get("environment")
        return environment.get("name") if isinstance(environment, dict) else environment

    def with_inputs(self, inputs: Mapping[str, str | bool]) -> Job:
        """inputs.* from the workflow_call defaults, overridden by `inputs` (booleans as GitHub prints them)."""
        triggers = workflow_data(self.workflow).get(True) or {}
        declared = (triggers.get("workflow_call") or triggers.get("workflow_dispatch") or {}).get("inputs") or {}
        values = {name: spec.get("default", "") for name, spec in declared.items()} | dict(inputs)
        for name, value in values.items():
            self.context[f"inputs.{name}"] = str(value).lower() if isinstance(value, bool) else str(value)
        return self

    def step_with(self, step: Mapping[str, Any]) -> dict[str, str]:
        return {name: evaluate(value, self.context) for name, value in (step.get("with") or {}).items()}

    def run(self) -> bool:
        """Every step in order; True when the job succeeded."""
        self.env.update(
            {name: evaluate(value, self.context) for name, value in (self.definition.get("env") or {}).items()}
        )
        for step in self.definition["steps"]:
            name = step.get("name") or step.get("id") or step.get("uses", "")
            if not evaluate_condition(step.get("if"), self.context, self.status):
                self.records.append(StepRecord(name, "skipped"))
                continue
            if "uses" in step:
                self.records.append(self.substitute(name, step))
                continue
            run = run_step(step, self.workspace, self.context, self.env, inherit_env=False)
            outcome = "success" if run.returncode == 0 else "failure"
            self.records.append(StepRecord(name, outcome, run=run))
            if step.get("id"):
                self.context[f"steps.{step['id']}.outcome"] = outcome
                for key, value in run.outputs.items():
                    self.context[f"steps.{step['id']}.outputs.{key}"] = value
            self.env.update(parse_outputs((self.workspace / ".github-github_env").read_text()))
            if outcome == "failure" and not step.get("continue-on-error"):
                self.status = JobStatus(failed=True)
        return not self.status.failed

    def substitute(self, name: str, step: dict[str, Any]) -> StepRecord:
        uses = step["uses"]
        for prefix, action in self.actions.items():
            if prefix in uses:
                return StepRecord(name, "substituted", action(self, step))
        raise NotRehearsable(f"{self.workflow}:{self.job_id} step {name!r} uses {uses}, which has no substitute")

    def output(self, step_id: str, name: str) -> str:
        return self.context.get(f"steps.{step_id}.outputs.{name}", "")

    def log(self) -> str:
        lines = []
        for record in self.records:
            lines.append(f"- {record.outcome:<11} {record.name}{f' ({record.note})' if record.note else ''}")
            if record.run and record.outcome == "failure":
                lines.append(f"  stdout: {record.run.stdout[-3000:]!s}\n  stderr: {record.run.stderr[-3000:]!s}")
        return "\n".join(lines)

    def stdout(self) -> str:
        return "\n".join(record.run.stdout for record in self.records if record.run)


def oidc_subject(repository_subject: str, environment: str | None, ref: str = "refs/heads/main") -> str:
    """The `sub` claim GitHub puts in a job's token: the environment's when the job has one, else the ref's."""
    return f"{repository_subject}:environment:{environment}" if environment else f"{repository_subject}:ref:{ref}"


def unsigned_token(claims: Mapping[str, str]) -> str:
    """A JWT-shaped web identity token; moto reads it but verifies no signature."""

    def part(value: Mapping[str, str]) -> str:
        return base64.urlsafe_b64encode(json.dumps(value).encode()).rstrip(b"=").decode()

    return f"{part({'alg': 'none', 'typ': 'JWT'})}.{part(claims)}.signature"
