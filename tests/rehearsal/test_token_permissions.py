"""The rehearsal hands out tokens only as GitHub would: a job's own block, narrowed by its caller's."""

from __future__ import annotations

import copy
from collections.abc import Iterator

import pytest

from rehearsal.steps import workflow_data
from rehearsal.token_permissions import (
    REPOSITORY_DEFAULT,
    MissingGrant,
    PermissionsError,
    declared,
    effective,
    require,
)
from tests.workflows.conftest import workflows

NONE = declared({})


def test_a_job_s_own_block_wins_over_its_workflow_s():
    workflow = {"permissions": {"contents": "read"}}
    assert effective({"permissions": {"id-token": "write"}}, workflow)["contents"] == "none"
    assert effective({}, workflow)["contents"] == "read"
    assert effective({}, {}) == REPOSITORY_DEFAULT


def test_a_called_workflow_can_only_narrow_what_its_caller_grants():
    caller = declared({"contents": "read"})
    called_job = {"permissions": {"contents": "write", "id-token": "write"}}
    granted = effective(called_job, {"permissions": {}}, caller)
    assert (granted["contents"], granted["id-token"]) == ("read", "none")
    # Without a block of its own, a called job gets what the caller was granted.
    assert effective({}, {}, caller) == caller


def test_read_all_grants_no_oidc_token_and_write_all_does():
    assert declared("read-all")["id-token"] == "none"
    assert declared("read-all")["contents"] == "read"
    assert declared("write-all")["id-token"] == "write"


@pytest.mark.parametrize("block", [{"content": "read"}, {"contents": "admin"}, {"id-token": "read"}, "all"])
def test_blocks_github_refuses_are_refused(block):
    with pytest.raises(PermissionsError):
        declared(block)


def test_a_missing_grant_names_the_job_the_scope_and_what_fails():
    with pytest.raises(MissingGrant, match=r"release: .* grant id-token: none, not write, so no token"):
        require(NONE, "id-token", "write", "release", "no token")
    require(declared({"id-token": "write"}), "id-token", "write", "release", "no token")


def jobs_granted(workflow: str, data: dict, caller=None) -> Iterator[tuple[str, dict, dict]]:
    """(workflow, job, grants) for every job that runs steps, called workflows followed as play_workflow does."""
    for job in data["jobs"].values():
        if "uses" in job:
            called = job["uses"].rsplit("/", 1)[1]
            yield from jobs_granted(called, workflow_data(called), effective(job, data, caller))
        else:
            yield workflow, job, effective(job, data, caller)


def step_uses(job: dict) -> list[str]:
    return [step.get("uses", "") for step in job.get("steps", [])]


@pytest.mark.parametrize("workflow", [name for name in workflows() if not name.startswith("_")])
def test_every_job_of_the_workflows_gets_the_tokens_its_steps_need(workflow):
    for called, job, grants in jobs_granted(workflow, workflow_data(workflow)):
        uses = step_uses(job)
        if any("configure-aws-credentials@" in action for action in uses):
            require(grants, "id-token", "write", f"{called}:{job.get('name')}", "it cannot assume its role")
        if any("actions/checkout@" in action for action in uses):
            require(grants, "contents", "read", f"{called}:{job.get('name')}", "it cannot check out")


@pytest.mark.parametrize(("caller", "other"), [("release-staging", "release-production"),
                                               ("release-production", "release-staging")])  # fmt: skip
def test_the_release_job_loses_its_oidc_token_when_the_caller_does_not_grant_it(caller, other):
    """deploy.yml calls _release.yml once per stage: each call's job holds what its own caller granted."""
    deploy = copy.deepcopy(workflow_data("deploy.yml"))
    del deploy["jobs"][caller]["permissions"]["id-token"]

    def release_grants(job_id: str) -> list[dict]:
        only = {**deploy, "jobs": {job_id: deploy["jobs"][job_id]}}
        return [grants for called, _, grants in jobs_granted("deploy.yml", only) if called == "_release.yml"]

    assert release_grants(caller)
    assert all(grants["id-token"] == "none" for grants in release_grants(caller))
    assert all(grants["id-token"] == "write" for grants in release_grants(other))
