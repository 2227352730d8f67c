"""What ties the workflows to the bootstrap: the stack's region and names, the GitHub variables that carry
them (each in its scope: the repository or a stage's environment), the concurrency groups that guard each
stage's alias, and the documented bootstrap command."""

from __future__ import annotations

import re

import pytest

from tests.support.servers import REPO_ROOT
from tests.workflows.conftest import (
    STAGES,
    JobRun,
    bootstrap_environments,
    bootstrap_variables,
    workflows,
)

# The bootstrap's variables the stack must share: its roles are scoped to the names they make. The stack's
# environment is the stage's: its environment's variable where the job runs in it, STAGES' entry otherwise.
STACK_VARIABLES = {
    "TF_VAR_aws_region": "${{ vars.AWS_REGION }}",
    "TF_VAR_name_prefix": "${{ vars.STACK_NAME_PREFIX }}",
    "TF_VAR_image_repository_url": "${{ vars.ECR_REPOSITORY_URL }}",
    "TF_VAR_model_bucket": "${{ vars.MODEL_BUCKET }}",
}
STACK_ENVIRONMENT = {
    True: "${{ vars.STACK_ENVIRONMENT }}",
    False: "${{ fromJSON(vars.STAGES)[inputs.stage].stack_environment }}",
}
# What moves a stage's alias, by the group each run queues in: one per stage and workflow.
ALIAS_MOVERS = {
    ("deploy.yml", "release-staging"): "staging-deploy",
    ("deploy.yml", "release-production"): "production-deploy",
    ("retrain.yml", "release-staging"): "staging-retrain",
    ("retrain.yml", "release-production"): "production-retrain",
    ("rollback.yml", "rollback", "staging"): "staging-rollback",
    ("rollback.yml", "rollback", "production"): "production-rollback",
}


def runs_terraform_plan_or_apply(job: dict) -> bool:
    return any(
        re.search(r"terraform -chdir=terraform (plan|apply)", step.get("run", "")) for step in job.get("steps", [])
    )


def test_every_plan_and_apply_gets_the_bootstrap_region_names_and_the_stage_s_tfvars() -> None:
    jobs = [
        (document.name, job_id, job)
        for document in workflows().values()
        for job_id, job in document.jobs.items()
        if runs_terraform_plan_or_apply(job)
    ]
    assert {(name, job_id) for name, job_id, _ in jobs} == {("_plan.yml", "plan"), ("_release.yml", "release")}
    for name, job_id, job in jobs:
        env = job.get("env", {})
        assert {key: env.get(key) for key in STACK_VARIABLES} == STACK_VARIABLES, f"{name}:{job_id}"
        assert env["TF_VAR_environment"] == STACK_ENVIRONMENT["environment" in job], f"{name}:{job_id}"
        assert env["STAGE"] == "${{ inputs.stage }}", f"{name}:{job_id}"
        # One line per script (folded `>-` scripts and backslash continuations joined).
        scripts = [step.get("run", "").replace("\\\n", " ").replace("\n", " ") for step in job["steps"]]
        commands = [script for script in scripts if re.search(r"terraform -chdir=terraform (plan|apply)", script)]
        assert commands, f"{name}:{job_id}"
        for command in commands:
            assert '-var-file="stages/$STAGE.tfvars"' in command, f"{name}:{job_id}: {command}"


@pytest.mark.parametrize("stage", STAGES)
def test_each_stage_has_its_tfvars(stage: str) -> None:
    assert (REPO_ROOT / "terraform" / "stages" / f"{stage}.tfvars").is_file()


def variables_read(job: dict) -> set[str]:
    return set(re.findall(r"vars\.([A-Z0-9_]+)", str(job)))


def test_each_job_reads_only_the_variables_of_its_scope(all_runs: list[JobRun]) -> None:
    """The bootstrap's github_variables sets each variable in one scope: the repository, or an environment.
    A job sees the repository's and those of the environment it runs in, evaluated at each call site."""
    scopes = bootstrap_variables()
    by_environment = {environment: scope for scope, environment in bootstrap_environments().items()}
    read_anywhere = set()
    for run in all_runs:
        visible = set(scopes["repository"])
        if run.environment is not None:
            visible |= scopes[by_environment[run.environment]]
        read = variables_read(run.job)
        assert read <= visible, f"{run.where} (environment {run.environment}) reads {sorted(read - visible)}"
        read_anywhere |= read
    assert read_anywhere == set().union(*scopes.values()), "a variable the bootstrap sets that nothing reads"


def test_the_bootstrap_no_longer_sets_the_single_stage_variables() -> None:
    assert not {"TF_STATE_KEY", "STACK_ENVIRONMENT", "AWS_PLAN_ROLE_ARN"} & bootstrap_variables()["repository"]


def test_the_docs_set_every_variable_in_its_scope() -> None:
    deploy = (REPO_ROOT / "docs" / "deploy.md").read_text()
    documented: dict[str, set[str]] = {}
    for name, scope in re.findall(r"gh variable set ([A-Z0-9_]+)(?: --env (\w+))?", deploy):
        documented.setdefault(scope or "repository", set()).add(name)
    environments = bootstrap_environments()
    for scope, names in bootstrap_variables().items():
        where = environments.get(scope, scope)
        assert names <= documented.get(where, set()), (
            f"docs/deploy.md sets no {names - documented.get(where, set())} in {where}"
        )


def test_every_alias_mover_queues_in_a_group_of_its_own_stage_and_workflow(all_runs: list[JobRun]) -> None:
    """GitHub keeps one pending job per group and cancels it when another queues, whatever
    cancel-in-progress says: a group shared with another workflow or stage could drop a queued rollback or a
    gated retrain's release, or hold staging behind production's reviewers."""
    groups = {}
    for run in all_runs:
        if run.document.name not in ("_release.yml", "rollback.yml"):
            continue
        assert run.job["concurrency"]["cancel-in-progress"] is False, run.where
        key = (run.caller.name, run.caller_job) if run.document.name == "_release.yml" else (
            run.caller.name, run.caller_job, run.inputs["stage"])  # fmt: skip
        groups[key] = run.concurrency_group
    assert groups == ALIAS_MOVERS
    assert len(set(groups.values())) == len(groups)


def test_the_docs_do_not_promise_that_nothing_is_cancelled() -> None:
    deploy = (REPO_ROOT / "docs" / "deploy.md").read_text()
    assert "none cancelled" not in deploy
    assert "one pending" in deploy


def test_the_documented_bootstrap_command_passes_the_repository_ids() -> None:
    """Repositories created since mid-2026 send repo:OWNER@ID/NAME@ID subjects; without the IDs no role
    would trust their tokens."""
    infrastructure = (REPO_ROOT / "docs" / "infrastructure.md").read_text()
    command = re.search(r"terraform apply \\\n(.*?)```", infrastructure, flags=re.DOTALL)
    assert command, "docs/infrastructure.md has no bootstrap apply command"
    assert "-var github_owner_id=" in command.group(1)
    assert "-var github_repository_id=" in command.group(1)
