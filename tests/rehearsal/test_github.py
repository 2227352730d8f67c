"""The rehearsal's GitHub side: a job sees the repository's variables and its own environment's only, the
environment being the one its `environment:` names once its inputs are set (`${{ inputs.stage }}`)."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest

from rehearsal.github import RELEASE_INPUTS, GitHub

SCOPES = {
    "repository": {"AWS_REGION": "eu-central-1", "MODEL_BUCKET": "models"},
    "staging": {"AWS_DEPLOY_ROLE_ARN": "arn:aws:iam::1:role/p-staging-github-deploy", "STACK_ENVIRONMENT": "staging"},
    "production": {"AWS_DEPLOY_ROLE_ARN": "arn:aws:iam::1:role/p-live-github-deploy", "STACK_ENVIRONMENT": "live"},
    "training": {"AWS_TRAIN_ROLE_ARN": "arn:aws:iam::1:role/p-live-github-train"},
}


@pytest.fixture
def github(tmp_path: Path) -> GitHub:
    machine = SimpleNamespace(
        workspace=tmp_path, runner_env=lambda github: dict(github), metrics=SimpleNamespace(take_notes=list)
    )
    return GitHub(machine, scopes=SCOPES)


@pytest.mark.parametrize(("stage", "other"), [("staging", "production"), ("production", "staging")])
def test_a_release_job_sees_its_stage_variables_only(github: GitHub, stage: str, other: str):
    job = github.make_job("_release.yml", "release", {"stage": stage})
    assert job.environment == stage
    assert job.context["vars.AWS_DEPLOY_ROLE_ARN"] == SCOPES[stage]["AWS_DEPLOY_ROLE_ARN"]
    assert job.context["vars.MODEL_BUCKET"] == "models"
    assert SCOPES[other]["AWS_DEPLOY_ROLE_ARN"] not in job.context.values()
    assert "vars.AWS_TRAIN_ROLE_ARN" not in job.context
    # The rehearsal's short canary and alarm check reach the release as its inputs.
    assert {name: job.context[f"inputs.{name}"] for name in RELEASE_INPUTS} == RELEASE_INPUTS


def test_a_job_in_a_literal_environment_sees_that_scope(github: GitHub):
    job = github.make_job("retrain.yml", "train", {})
    assert job.environment == "training"
    assert job.context["vars.AWS_TRAIN_ROLE_ARN"] == SCOPES["training"]["AWS_TRAIN_ROLE_ARN"]
    assert "vars.AWS_DEPLOY_ROLE_ARN" not in job.context
