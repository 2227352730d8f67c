"""The bootstrap's policies rendered once per run by a real `terraform plan` against the shared moto server, and
the two stages' names (docs/staging contract: one bootstrap, a stack per stage, a shared repository and bucket)."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from iam_check.rendered import BootstrapPolicies, render_bootstrap
from tests.support.servers import aws_env
from tests.terraform.conftest import TERRAFORM_DIR, Terraform, terraform  # noqa: F401  (the CLI fixture)

ACCOUNT = "123456789012"  # moto's account, which the plan reads back from sts:GetCallerIdentity
REGION = "eu-central-1"
NAME_PREFIX = "lambda-model"
# Shared by both stages, made by the bootstrap (registry.tf): the image repository and the model bucket.
REPOSITORY = NAME_PREFIX
MODEL_BUCKET_NAME = f"{NAME_PREFIX}-models-{ACCOUNT}"
MODEL_BUCKET = f"arn:aws:s3:::{MODEL_BUCKET_NAME}"
# One state bucket, a key per stage.
STATE_BUCKET = f"{NAME_PREFIX}-prod-tfstate-{ACCOUNT}"


@dataclass(frozen=True)
class Stage:
    """One stage: its key in the bootstrap's `stages` (and in the role keys) and its stack's environment."""

    key: str
    environment: str

    @property
    def stack(self) -> str:
        return f"{NAME_PREFIX}-{self.environment}"

    @property
    def state_key(self) -> str:
        return f"{NAME_PREFIX}/{self.environment}/terraform.tfstate"

    @property
    def plan_role(self) -> str:
        return f"{self.key}-plan"

    @property
    def deploy_role(self) -> str:
        return f"{self.key}-deploy"


# The bootstrap's default stages.
STAGING = Stage("staging", "staging")
PRODUCTION = Stage("production", "prod")
STAGES = (STAGING, PRODUCTION)
STACK = PRODUCTION.stack  # what the single-stage checks (test_roles) scope to


@pytest.fixture(scope="session")
def bootstrap(terraform: Terraform, moto_endpoint: str, tmp_path_factory: pytest.TempPathFactory) -> BootstrapPolicies:  # noqa: F811
    return render_bootstrap(
        TERRAFORM_DIR,
        tmp_path_factory.mktemp("iam-render"),
        env={**terraform.env, **aws_env(moto_endpoint, REGION)},
        variables={"github_repository": "octo-org/lambda-model"},
        binary=terraform.binary,
    )
