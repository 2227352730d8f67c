"""What ties the workflows to the bootstrap: the stack's region and names, the GitHub variables that carry
them, the concurrency groups that guard the production alias, and the documented bootstrap command."""

from __future__ import annotations

import re

from tests.support.servers import REPO_ROOT
from tests.workflows.conftest import Document, workflows

# The bootstrap's variables the stack must share: its roles are scoped to the names they make.
STACK_VARIABLES = {
    "TF_VAR_aws_region": "${{ vars.AWS_REGION }}",
    "TF_VAR_name_prefix": "${{ vars.STACK_NAME_PREFIX }}",
    "TF_VAR_environment": "${{ vars.STACK_ENVIRONMENT }}",
}
# The jobs that move the production alias, with the workflow that runs them (a reusable workflow runs
# under its caller's name).
ALIAS_MOVERS = (
    ("deploy.yml", "_release.yml", "release"),
    ("retrain.yml", "_release.yml", "release"),
    ("rollback.yml", "rollback.yml", "rollback"),
)


def runs_terraform_plan_or_apply(job: dict) -> bool:
    return any(
        re.search(r"terraform -chdir=terraform (plan|apply)", step.get("run", "")) for step in job.get("steps", [])
    )


def test_every_plan_and_apply_gets_the_bootstrap_region_and_names() -> None:
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


def bootstrap_github_variables() -> set[str]:
    outputs = (REPO_ROOT / "terraform" / "bootstrap" / "outputs.tf").read_text()
    block = re.search(r'^output "github_variables" \{(.*?)^\}', outputs, flags=re.MULTILINE | re.DOTALL)
    assert block, "the bootstrap has no github_variables output"
    return set(re.findall(r"^\s+([A-Z][A-Z0-9_]+)\s+=", block.group(1), flags=re.MULTILINE)) | set(
        re.findall(r"\{\s*([A-Z][A-Z0-9_]+)\s+=", block.group(1))
    )


def test_the_bootstrap_names_every_variable_the_workflows_read() -> None:
    read = {name for document in workflows().values() for name in re.findall(r"vars\.([A-Z0-9_]+)", document.text)}
    assert read <= bootstrap_github_variables(), f"not bootstrap outputs: {read - bootstrap_github_variables()}"


def test_the_docs_set_every_variable_the_workflows_read() -> None:
    deploy = (REPO_ROOT / "docs" / "deploy.md").read_text()
    documented = set(re.findall(r"gh variable set ([A-Z0-9_]+)", deploy))
    read = {name for document in workflows().values() for name in re.findall(r"vars\.([A-Z0-9_]+)", document.text)}
    assert read <= documented, f"docs/deploy.md sets no {read - documented}"


def effective_group(caller: Document, job: dict) -> str:
    group = str(job.get("concurrency", {}).get("group", ""))
    return group.replace("${{ github.workflow }}", caller.data["name"])


def test_no_alias_move_shares_a_concurrency_group_with_another_workflow() -> None:
    """GitHub keeps one pending job per group and cancels it when another queues, whatever
    cancel-in-progress says: a group shared with another workflow could drop a queued rollback or a gated
    retrain's release."""
    documents = workflows()
    groups = {}
    for caller, defining, job_id in ALIAS_MOVERS:
        job = documents[defining].jobs[job_id]
        assert job["concurrency"]["cancel-in-progress"] is False, f"{defining}:{job_id}"
        groups[caller] = effective_group(documents[caller], job)
    assert all(groups.values()), groups
    assert len(set(groups.values())) == len(groups), groups


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
