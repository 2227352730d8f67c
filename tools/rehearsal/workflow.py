"""Play a whole workflow run: its jobs in `needs` order, each job's `if:` (default: every needed job
succeeded), `needs.<job>.outputs`, and jobs that call a reusable workflow ($/.github/workflows/...) with
their `with:` as its inputs and its `on.workflow_call.outputs` as theirs. The steps of each job are
played by rehearsal.job."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from rehearsal.conditions import JobStatus, evaluate_condition
from rehearsal.job import Job, declared_inputs, input_context, triggers_of
from rehearsal.steps import evaluate, workflow_data
from rehearsal.token_permissions import Grants, effective

# Builds the Job for (workflow file, job id, inputs); the rehearsal supplies runner env, vars, substitutes.
JobFactory = Callable[[str, str, Mapping[str, str]], Job]


@dataclass
class JobResult:
    job_id: str
    result: str  # success, failure, skipped (as needs.<job>.result)
    outputs: dict[str, str] = field(default_factory=dict)
    jobs: list[Job] = field(default_factory=list)  # the jobs that ran for it (a called workflow's, nested)
    note: str = ""
    seconds: float = 0.0


@dataclass
class WorkflowRun:
    workflow: str
    results: dict[str, JobResult]
    outputs: dict[str, str]

    @property
    def succeeded(self) -> bool:
        return all(result.result != "failure" for result in self.results.values())

    def jobs(self) -> list[Job]:
        return [job for result in self.results.values() for job in result.jobs]

    def job(self, job_id: str) -> Job:
        """The one job that ran as `job_id` (of this workflow or of a workflow one of its jobs called)."""
        matches = [job for job in self.jobs() if job.job_id == job_id]
        if len(matches) != 1:
            raise LookupError(f"{self.workflow}: {len(matches)} jobs ran as {job_id!r}")
        return matches[0]

    def log(self) -> str:
        lines = []
        for result in self.results.values():
            took = f", {result.seconds:.0f}s" if result.jobs else ""
            lines.append(f"job {result.job_id}: {result.result}{f' ({result.note}{took})' if result.note else took}")
            lines.extend(f"  {line}" for job in result.jobs for line in job.log().splitlines())
        return "\n".join(lines)


def job_order(jobs: Mapping[str, dict]) -> list[str]:
    """Job ids with every job after the jobs it needs (GitHub refuses cycles, so one order exists)."""
    ordered: list[str] = []
    remaining = dict(jobs)
    while remaining:
        ready = [job_id for job_id, job in remaining.items() if all(need in ordered for need in needs_of(job))]
        if not ready:
            raise ValueError(f"the jobs {sorted(remaining)} need each other or a job that does not exist")
        ordered.extend(ready)
        for job_id in ready:
            del remaining[job_id]
    return ordered


def needs_of(job: Mapping) -> list[str]:
    needs = job.get("needs") or []
    return [needs] if isinstance(needs, str) else list(needs)


def play_workflow(
    workflow: str,
    make_job: JobFactory,
    inputs: Mapping[str, str] | None = None,
    context: Mapping[str, str] | None = None,
    skipped: Mapping[str, str] | None = None,
    caller_grants: Grants | None = None,
) -> WorkflowRun:
    """Run `workflow`'s jobs. `skipped` maps job ids the rehearsal does not play to the reason (they count as
    succeeded, with no outputs); `context` carries vars.* and github.* for job conditions and `with:`;
    `caller_grants` is what the job calling this workflow was granted (None for a workflow an event started)."""
    data = workflow_data(workflow)
    scope = {**(context or {}), **input_context(declared_inputs(data), inputs or {})}
    results: dict[str, JobResult] = {}
    for job_id in job_order(data["jobs"]):
        started = time.monotonic()
        job = data["jobs"][job_id]
        needed = [results[need] for need in needs_of(job)]
        for result in needed:
            scope.update({f"needs.{result.job_id}.outputs.{key}": value for key, value in result.outputs.items()})
            scope[f"needs.{result.job_id}.result"] = result.result
        status = JobStatus(failed=any(result.result != "success" for result in needed))
        if job_id in (skipped or {}):
            results[job_id] = JobResult(job_id, "success", note=f"not played: {(skipped or {})[job_id]}")
        elif not evaluate_condition(job.get("if"), scope, status):
            results[job_id] = JobResult(job_id, "skipped")
        elif "uses" in job:
            called = str(Path(workflow).with_name(job["uses"].rsplit("/", 1)[1]))  # beside the caller
            called_inputs = {key: evaluate(value, scope) for key, value in (job.get("with") or {}).items()}
            granted = effective(job, data, caller_grants)
            run = play_workflow(called, make_job, called_inputs, context, skipped, granted)
            results[job_id] = JobResult(
                job_id, "success" if run.succeeded else "failure", run.outputs, run.jobs(), note=f"calls {called}"
            )
        else:
            given = {key.removeprefix("inputs."): value for key, value in scope.items() if key.startswith("inputs.")}
            played = make_job(workflow, job_id, given)
            played.caller_grants = caller_grants
            played.context.update({key: value for key, value in scope.items() if key.startswith(("needs.", "github."))})
            succeeded = played.run()
            results[job_id] = JobResult(job_id, "success" if succeeded else "failure", played.outputs(), [played])
        results[job_id].seconds = time.monotonic() - started
    jobs_scope = {
        f"jobs.{result.job_id}.outputs.{key}": value
        for result in results.values()
        for key, value in result.outputs.items()
    }
    declared_outputs = (triggers_of(data).get("workflow_call") or {}).get("outputs") or {}
    outputs = {name: evaluate(spec["value"], jobs_scope) for name, spec in declared_outputs.items()}
    return WorkflowRun(workflow, results, outputs)
