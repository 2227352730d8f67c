"""The bootstrap's policies rendered once per run by a real `terraform plan` against the shared moto server."""

from __future__ import annotations

import pytest

from iam_check.rendered import BootstrapPolicies, render_bootstrap
from tests.support.servers import aws_env
from tests.terraform.conftest import TERRAFORM_DIR, Terraform, terraform  # noqa: F401  (the CLI fixture)

ACCOUNT = "123456789012"  # moto's account, which the plan reads back from sts:GetCallerIdentity
REGION = "eu-central-1"
STACK = "lambda-model-prod"
MODEL_BUCKET = f"arn:aws:s3:::{STACK}-models-{ACCOUNT}"


@pytest.fixture(scope="session")
def bootstrap(terraform: Terraform, moto_endpoint: str, tmp_path_factory: pytest.TempPathFactory) -> BootstrapPolicies:  # noqa: F811
    return render_bootstrap(
        TERRAFORM_DIR,
        tmp_path_factory.mktemp("iam-render"),
        env={**terraform.env, **aws_env(moto_endpoint, REGION)},
        variables={"github_repository": "octo-org/lambda-model"},
        binary=terraform.binary,
    )
