"""Play one job of a workflow from its YAML: `if:` conditions, job and step env, `${{ }}` contexts,
GITHUB_OUTPUT / GITHUB_ENV carried between steps, and the `uses:` steps replaced by what they do."""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from rehearsal.conditions import JobStatus, evaluate_condition
from rehearsal.steps import StepRun, evaluate, parse_outputs, run_step, workflow_data
from rehearsal.token_permissions import Grants, effective

# `$/path` (the repository at the running commit) and `./path` (the checkout) name a local action.
LOCAL_ACTION_PREFIXES = ("$/", "./")


class NotRehearsable(RuntimeError):
    """A step the rehearsal has no faithful substitute for: its stage fails, so a new action gets one."""


@dataclass
class StepRecord:
    name: str
    outcome: str  # success, failure, skipped, substituted
    note: str = ""
    run: StepRun | None = None
    seconds: float = 0.0


# A `uses:` substitute gets the job and the step's `with:` values; it returns a note for the log, or a note
# and the step's outputs (what the action would set, e.g. upload-artifact's artifact-url).
Substitute = Callable[["Job", dict[str, str]], str | tuple[str, dict[str, str]]]


@dataclass
class Job:
    workflow: str
    job_id: str
    workspace: Path
    env: dict[str, str]
    context: dict[str, str]
    # `uses:` prefix -> substitute (it may set self.env, e.g. credentials). A local composite action
    # ($/ or ./) without one runs its own steps.
    actions: Mapping[str, Substitute]
    records: list[StepRecord] = field(default_factory=list)
    status: JobStatus = field(default_factory=JobStatus)
    # Called after each step that has an id, with the context its outputs went to (the rehearsal replaces
    # what it stands in for there, e.g. the API's URL).
    after_step: Callable[[Job, str, dict[str, str]], None] | None = None
    # In a called workflow: what the caller job was granted, the most this job's tokens may carry.
    caller_grants: Grants | None = None
    # Called after each step that ran: what a stand-in did for it, added to the step's line of the log.
    step_notes: Callable[[], list[str]] | None = None

    @property
    def definition(self) -> dict[str, Any]:
        return workflow_data(self.workflow)["jobs"][self.job_id]

    @property
    def permissions(self) -> Grants:
        """What GitHub would let this job's GITHUB_TOKEN and OIDC token do."""
        return effective(self.definition, workflow_data(self.workflow), self.caller_grants)

    @property
    def environment(self) -> str | None:
        """The job's GitHub environment. Its name may be an expression (`name: ${{ inputs.stage }}`): GitHub
        evaluates it under the job's inputs before it picks the environment's variables and the OIDC subject,
        so set the inputs first. A name that evaluates to '' is no environment."""
        environment = self.definition.get("environment")
        name = environment.get("name") if isinstance(environment, dict) else environment
        return (evaluate(str(name), self.context) or None) if name else None

    def set_env(self, values: Mapping[str, str]) -> None:
        """Variables for the steps' processes and the `env` context of their expressions (`${{ env.X }}`).
        The runner's own variables (self.env's PATH, credentials) are not in that context, as on GitHub."""
        self.env.update(values)
        self.context.update({f"env.{name}": value for name, value in values.items()})

    def with_inputs(self, inputs: Mapping[str, str | bool]) -> Job:
        """inputs.* from the workflow_call defaults, overridden by `inputs` (booleans as GitHub prints them)."""
        self.context.update(input_context(declared_inputs(workflow_data(self.workflow)), inputs))
        return self

    def step_with(self, step: Mapping[str, Any]) -> dict[str, str]:
        return {name: evaluate(value, self.context) for name, value in (step.get("with") or {}).items()}

    def run(self) -> bool:
        """Every step in order; True when the job succeeded."""
        # The env context: the workflow's env, then the job's (each evaluated in turn), then GITHUB_ENV's.
        for declared in (workflow_data(self.workflow).get("env"), self.definition.get("env")):
            self.set_env({name: evaluate(value, self.context) for name, value in (declared or {}).items()})
        self.status = self.run_steps(self.definition["steps"], self.context, prefix="")
        return not self.status.failed

    def run_steps(self, steps: list[dict[str, Any]], context: dict[str, str], prefix: str) -> JobStatus:
        """`steps` under `context` (the job's, or a composite action's own); the status they end with."""
        status = JobStatus()
        for step in steps:
            name = prefix + (step.get("name") or step.get("id") or step.get("uses", ""))
            if not evaluate_condition(step.get("if"), context, status):
                self.records.append(StepRecord(name, "skipped"))
                continue
            settings = {key: evaluate(value, context) for key, value in (step.get("with") or {}).items()}
            started = time.monotonic()
            if "uses" in step:
                outcome, outputs = self.use(name, step["uses"], settings, context)
            else:
                run = run_step(step, self.workspace, context, self.env, inherit_env=False)
                outcome, outputs = ("success" if run.returncode == 0 else "failure"), run.outputs
                self.records.append(StepRecord(name, outcome, run=run))
                written = parse_outputs((self.workspace / ".github-github_env").read_text())
                self.set_env(written)
                context.update({f"env.{name}": value for name, value in written.items()})
            if "uses" not in step or not step["uses"].startswith(LOCAL_ACTION_PREFIXES):
                self.records[-1].seconds = time.monotonic() - started  # a composite's own steps have theirs
            notes = self.step_notes() if self.step_notes is not None else []
            if notes:
                record = self.records[-1]
                record.note = "; ".join([*([record.note] if record.note else []), *notes])
            if step.get("id"):
                context[f"steps.{step['id']}.outcome"] = outcome
                for key, value in outputs.items():
                    context[f"steps.{step['id']}.outputs.{key}"] = value
                if self.after_step is not None and outcome == "success":
                    self.after_step(self, step["id"], context)
            if outcome == "failure" and not step.get("continue-on-error"):
                status = JobStatus(failed=True)
        return status

    def use(self, name: str, uses: str, settings: dict[str, str], context: dict[str, str]) -> tuple[str, dict]:
        """A `uses:` step: its substitute, or a local composite action's own steps. (outcome, outputs)."""
        for prefix, action in self.actions.items():
            if prefix in uses:
                result = action(self, settings)
                note, outputs = result if isinstance(result, tuple) else (result, {})
                self.records.append(StepRecord(name, "substituted", note))
                return "success", outputs
        if not uses.startswith(LOCAL_ACTION_PREFIXES):
            raise NotRehearsable(f"{self.workflow}:{self.job_id} step {name!r} uses {uses}, which has no substitute")
        action = yaml.safe_load((self.workspace / uses.split("/", 1)[1] / "action.yml").read_text())
        if action["runs"].get("using") != "composite":
            raise NotRehearsable(f"{uses} is not a composite action")
        own = {key: value for key, value in context.items() if not key.startswith(("steps.", "inputs."))}
        own.update(input_context(action.get("inputs") or {}, settings))
        status = self.run_steps(action["runs"]["steps"], own, prefix=f"{name} / ")
        outputs = {key: evaluate(spec["value"], own) for key, spec in (action.get("outputs") or {}).items()}
        return ("failure" if status.failed else "success"), outputs

    def outputs(self) -> dict[str, str]:
        """The job's `outputs:`, evaluated once it ran (what `needs.<job>.outputs` sees)."""
        return {name: evaluate(value, self.context) for name, value in (self.definition.get("outputs") or {}).items()}

    def output(self, step_id: str, name: str) -> str:
        return self.context.get(f"steps.{step_id}.outputs.{name}", "")

    def log(self) -> str:
        lines = []
        for record in self.records:
            # Steps of a second or more show how long they took: where the rehearsal's time goes.
            took = f" [{record.seconds:.0f}s]" if record.seconds >= 1 else ""
            lines.append(f"- {record.outcome:<11} {record.name}{took}{f' ({record.note})' if record.note else ''}")
            if record.run and record.outcome == "failure":
                lines.append(f"  stdout: {record.run.stdout[-3000:]!s}\n  stderr: {record.run.stderr[-3000:]!s}")
        return "\n".join(lines)

    def stdout(self) -> str:
        return "\n".join(record.run.stdout for record in self.records if record.run)

    def summary(self) -> str:
        """What the job's steps wrote to GITHUB_STEP_SUMMARY, in order: the job's summary page."""
        return "".join(record.run.summary for record in self.records if record.run)


def triggers_of(workflow: Mapping[str, Any]) -> dict[str, Any]:
    """The `on:` block as a mapping (YAML 1.1 reads the key `on` as True; it may be a name or a list)."""
    triggers = workflow.get(True, workflow.get("on")) or {}
    if isinstance(triggers, str | list):
        return dict.fromkeys([triggers] if isinstance(triggers, str) else triggers)
    return dict(triggers)


def declared_inputs(workflow: Mapping[str, Any]) -> dict[str, Any]:
    triggers = triggers_of(workflow)
    return ((triggers.get("workflow_call") or triggers.get("workflow_dispatch")) or {}).get("inputs") or {}


def input_context(declared: Mapping[str, Any], given: Mapping[str, str | bool]) -> dict[str, str]:
    """inputs.* from the declared defaults, overridden by `given` (booleans as GitHub prints them)."""
    values = {name: (spec or {}).get("default", "") for name, spec in declared.items()} | dict(given)
    return {
        f"inputs.{name}": str(value).lower() if isinstance(value, bool) else str(value)
        for name, value in values.items()
    }


def oidc_subject(repository_subject: str, environment: str | None, ref: str = "refs/heads/main") -> str:
    """The `sub` claim GitHub puts in a job's token: the environment's when the job has one, else the ref's."""
    return f"{repository_subject}:environment:{environment}" if environment else f"{repository_subject}:ref:{ref}"


def unsigned_token(claims: Mapping[str, str]) -> str:
    """A JWT-shaped web identity token; moto reads it but verifies no signature."""

    def part(value: Mapping[str, str]) -> str:
        return base64.urlsafe_b64encode(json.dumps(value).encode()).rstrip(b"=").decode()

    return f"{part({'alg': 'none', 'typ': 'JWT'})}.{part(claims)}.signature"
