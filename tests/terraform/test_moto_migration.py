"""The migration from the single-stage install to two stages (docs/infrastructure.md, "From one stack to two"),
played on moto: the single-stage layout is applied from git history (main before the staging work), an image tag
and a model object are put in, then the documented steps run with this tree's code. Nothing may be destroyed
or replaced: the repository and its images, the model bucket and its objects, the production roles (same ARNs
and role IDs), production's function boundary and its function; then the staging stack applies."""

from __future__ import annotations

import io
import secrets
import subprocess
import tarfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.support.servers import REPO_ROOT, aws_env
from tests.terraform.conftest import Terraform, copy_terraform
from tests.terraform.moto_roots import (
    ACCOUNT,
    GITHUB_REPOSITORY,
    REGION,
    acting,
    backend_flags,
    client,
    empty_versioned_bucket,
    outputs,
    planned,
    point_at_moto,
    push_fake_image,
    stage_env,
)

# Two installs' worth of applies (the single-stage one, then the steps), each bucket's lifecycle rule waiting for
# S3 to report it settled: longer than the default per-test timeout, which counts the fixture's setup.
pytestmark = pytest.mark.timeout(900)

# main's head before the staging work: its terraform/ is the single-stage layout an existing install runs.
SINGLE_STAGE_COMMIT = "195d3ca"
NAME_PREFIX = f"tfg{secrets.token_hex(3)}"
PRODUCTION = f"{NAME_PREFIX}-prod"
# The single-stage install's registry names, kept through the bootstrap's name variables.
REPOSITORY = PRODUCTION
MODEL_BUCKET = f"{PRODUCTION}-models-{ACCOUNT}"
MODEL_OBJECT = "models/versions/20260101T000000Z-abc123/model.joblib"
REGISTRY_VARS = [f"-var=image_repository_name={REPOSITORY}", f"-var=model_bucket_name={MODEL_BUCKET}"]
PRODUCTION_ONLY = '-var=stages={production={environment="prod",github_environment="production"}}'
# What the bootstrap imports (terraform/bootstrap/imports.tf), by address, with the import ID (the name) of each:
# the single-stage stack's registry resources.
BUCKET_RESOURCES = (
    "aws_s3_bucket",
    "aws_s3_bucket_ownership_controls",
    "aws_s3_bucket_public_access_block",
    "aws_s3_bucket_versioning",
    "aws_s3_bucket_server_side_encryption_configuration",
    "aws_s3_bucket_lifecycle_configuration",
    "aws_s3_bucket_policy",
)
IMPORTS = {
    "aws_ecr_repository.images": REPOSITORY,
    "aws_ecr_lifecycle_policy.images": REPOSITORY,
    "aws_ecr_repository_policy.images": REPOSITORY,
    **{f"module.model_bucket.{resource}.this": MODEL_BUCKET for resource in BUCKET_RESOURCES},
}
# And what the stack's removed blocks make it forget.
FORGOTTEN = {
    "aws_ecr_repository.this",
    "aws_ecr_lifecycle_policy.this",
    "aws_ecr_repository_policy.this",
    *(f"module.model_bucket.{resource}.this" for resource in BUCKET_RESOURCES),
}
PRODUCTION_ROLES = {"plan": "production-plan", "deploy": "production-deploy", "train": "train", "monitor": "monitor"}


def single_stage_terraform(destination: Path) -> Path:
    """terraform/ as of SINGLE_STAGE_COMMIT, from this clone's history."""
    known = subprocess.run(
        ["git", "cat-file", "-e", f"{SINGLE_STAGE_COMMIT}^{{commit}}"], cwd=REPO_ROOT, capture_output=True, check=False
    )
    if known.returncode != 0:
        pytest.fail(
            f"commit {SINGLE_STAGE_COMMIT} (main before the staging work) is not in this clone, and the migration "
            f"test applies its terraform/ as the existing install: fetch it (git fetch origin {SINGLE_STAGE_COMMIT}) "
            "or clone without --depth"
        )
    archive = subprocess.run(
        ["git", "archive", "--format=tar", SINGLE_STAGE_COMMIT, "terraform"],
        cwd=REPO_ROOT,
        capture_output=True,
        check=True,
    )
    with tarfile.open(fileobj=io.BytesIO(archive.stdout)) as tar:
        tar.extractall(destination, filter="data")
    return destination / "terraform"


def apply(terraform: Terraform, root: Path, env: dict[str, str], *args: str) -> None:
    terraform.run("apply", "-auto-approve", "-no-color", *args, cwd=root, env=env)


def destroyed(changes: dict[str, Any]) -> list[str]:
    """Deleted or replaced resources (a replacement's actions hold a delete)."""
    return sorted(address for address, actions in acting(changes).items() if "delete" in actions)


@dataclass
class Migration:
    endpoint: str
    before: dict[str, Any]
    after: dict[str, Any]
    plans: dict[str, dict[str, Any]]
    image_uri: str

    def client(self, service: str) -> Any:
        return client(self.endpoint, service)


def snapshot(endpoint: str) -> dict[str, Any]:
    """What must survive the migration, as AWS reports it."""
    iam, ecr, s3 = client(endpoint, "iam"), client(endpoint, "ecr"), client(endpoint, "s3")
    roles = {kind: iam.get_role(RoleName=f"{PRODUCTION}-github-{kind}")["Role"] for kind in PRODUCTION_ROLES}
    boundary = iam.get_policy(PolicyArn=f"arn:aws:iam::{ACCOUNT}:policy/{PRODUCTION}-function-boundary")["Policy"]
    function = client(endpoint, "lambda").get_function(FunctionName=PRODUCTION)["Configuration"]
    return {
        "roles": {kind: (role["Arn"], role["RoleId"]) for kind, role in roles.items()},
        "boundary": (boundary["Arn"], boundary["PolicyId"]),
        "repository": ecr.describe_repositories(repositoryNames=[REPOSITORY])["repositories"][0]["registryId"],
        "images": sorted(
            tag
            for image in ecr.describe_images(repositoryName=REPOSITORY)["imageDetails"]
            for tag in image["imageTags"]
        ),
        "model_object": s3.get_object(Bucket=MODEL_BUCKET, Key=MODEL_OBJECT)["Body"].read(),
        "function": (function["FunctionArn"], function["Role"], function["CodeSha256"]),
    }


@pytest.fixture(scope="module")
def migration(
    terraform: Terraform, moto_over_https: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Migration]:
    env = aws_env(moto_over_https, REGION)
    base = tmp_path_factory.mktemp("terraform-migration")
    old = single_stage_terraform(base / "single-stage")
    old_bootstrap, old_stack = old / "bootstrap", old
    point_at_moto(old_bootstrap, old_stack, moto_over_https)
    common = [f"-var=aws_region={REGION}", f"-var=name_prefix={NAME_PREFIX}"]
    old_bootstrap_vars = [*common, f"-var=github_repository={GITHUB_REPOSITORY}"]
    state_bucket = f"{PRODUCTION}-tfstate-{ACCOUNT}"
    production_backend = {"bucket": state_bucket, "key": f"{NAME_PREFIX}/prod/terraform.tfstate", "region": REGION}
    s3, ecr = client(moto_over_https, "s3"), client(moto_over_https, "ecr")
    new = copy_terraform(base / "two-stage" / "terraform")
    bootstrap, stack = new["bootstrap"], new["stack"]
    point_at_moto(bootstrap, stack, moto_over_https)
    new_bootstrap_vars = [*common, f"-var=github_repository={GITHUB_REPOSITORY}", *REGISTRY_VARS]
    stack_envs: dict[str, dict[str, str]] = {}
    teardown = [*new_bootstrap_vars, "-var=registry_force_destroy=true"]
    try:
        # The single-stage install, as its docs deploy it: the bootstrap, then the stack's targeted first apply,
        # an image, the full apply; then a release's image tag and a trained model in the registry.
        terraform.run("init", "-no-color", cwd=old_bootstrap, env=env)
        apply(terraform, old_bootstrap, env, *old_bootstrap_vars)
        terraform.run("init", "-no-color", *backend_flags(production_backend), cwd=old_stack, env=env)
        apply(terraform, old_stack, env, *common, "-target=aws_ecr_repository.this", "-target=module.model_bucket")
        image_uri = push_fake_image(ecr, REPOSITORY, "1111111")
        apply(terraform, old_stack, env, *common, f"-var=image_uri={image_uri}")
        push_fake_image(ecr, REPOSITORY, "2222222")
        s3.put_object(Bucket=MODEL_BUCKET, Key=MODEL_OBJECT, Body=b"a trained model")
        before = snapshot(moto_over_https)

        # Step 1: the bootstrap's new code on its existing state, production alone, the registry imported under
        # its names; the plan moves the roles and the boundary and destroys nothing.
        (bootstrap / "terraform.tfstate").write_bytes((old_bootstrap / "terraform.tfstate").read_bytes())
        terraform.run("init", "-no-color", cwd=bootstrap, env=env)
        first_plan = [*new_bootstrap_vars, PRODUCTION_ONLY, "-var=import_single_stage_registry=true"]
        plans = {"bootstrap": planned(terraform, bootstrap, env, *first_plan)}
        terraform.run("apply", "-no-color", "check.tfplan", cwd=bootstrap, env=env)
        bootstrap_outputs = outputs(terraform, bootstrap, env)

        # Step 2: the production stack's new code forgets the registry (removed blocks) and changes nothing else.
        stack_vars = {
            "image_repository_url": bootstrap_outputs["image_repository_url"],
            "model_bucket": bootstrap_outputs["model_bucket"],
        }
        stack_envs["production"] = stage_env(env, stack, "production", {"environment": "prod", **stack_vars})
        terraform.run("init", "-no-color", *backend_flags(production_backend), cwd=stack, env=stack_envs["production"])
        production_args = ["-var-file=stages/production.tfvars", *common]
        plans["production"] = planned(terraform, stack, stack_envs["production"], *production_args)
        terraform.run("apply", "-no-color", "check.tfplan", cwd=stack, env=stack_envs["production"])

        # Step 3: the bootstrap with both stages (the default); step 4: staging's first apply.
        plans["both_stages"] = planned(terraform, bootstrap, env, *new_bootstrap_vars)
        terraform.run("apply", "-no-color", "check.tfplan", cwd=bootstrap, env=env)
        bootstrap_outputs = outputs(terraform, bootstrap, env)
        stack_envs["staging"] = stage_env(env, stack, "staging", {"environment": "staging", **stack_vars})
        staging_backend = backend_flags(bootstrap_outputs["backend_config"]["staging"])
        terraform.run("init", "-no-color", *staging_backend, cwd=stack, env=stack_envs["staging"])
        apply(
            terraform,
            stack,
            stack_envs["staging"],
            "-var-file=stages/staging.tfvars",
            *common,
            f"-var=image_uri={image_uri}",
        )
        plans["production_after"] = planned(terraform, stack, stack_envs["production"], *production_args)

        yield Migration(
            endpoint=moto_over_https, before=before, after=snapshot(moto_over_https), plans=plans, image_uri=image_uri
        )
    finally:
        # Best effort, so nothing is left on the shared server: the stacks, then the bootstrap (told first that
        # destroy may take the registry's images and objects), then whatever the old roots still hold.
        for stage, stage_vars in stack_envs.items():
            args = [f"-var-file=stages/{stage}.tfvars", *common]
            terraform.run("destroy", "-auto-approve", "-no-color", *args, cwd=stack, env=stage_vars, check=False)
        if (bootstrap / "terraform.tfstate").exists():
            terraform.run("apply", "-auto-approve", "-no-color", *teardown, cwd=bootstrap, env=env, check=False)
        if state_bucket in [bucket["Name"] for bucket in s3.list_buckets()["Buckets"]]:
            empty_versioned_bucket(s3, state_bucket)
        if (bootstrap / "terraform.tfstate").exists():
            terraform.run("destroy", "-auto-approve", "-no-color", *teardown, cwd=bootstrap, env=env, check=False)
        else:
            terraform.run(
                "destroy",
                "-auto-approve",
                "-no-color",
                *common,
                "-var=force_destroy=true",
                cwd=old_stack,
                env=env,
                check=False,
            )
            terraform.run(
                "destroy", "-auto-approve", "-no-color", *old_bootstrap_vars, cwd=old_bootstrap, env=env, check=False
            )


def test_the_bootstrap_moves_production_and_imports_the_registry_destroying_nothing(migration: Migration) -> None:
    changes = migration.plans["bootstrap"]
    assert destroyed(changes) == []
    moved = {address: change.get("previous_address") for address, change in changes.items()}
    for old, new in (("plan", "production-plan"), ("deploy", "production-deploy")):
        for resource in ("aws_iam_role", "aws_iam_role_policy"):
            assert moved[f'{resource}.github["{new}"]'] == f'{resource}.github["{old}"]'
    assert moved['aws_iam_policy.function_boundary["production"]'] == "aws_iam_policy.function_boundary"
    created = [address for address, actions in acting(changes).items() if actions == ["create"]]
    assert created == [], "production alone: every resource already exists (imported or moved)"
    imported = {
        address: change["change"]["importing"]["id"]
        for address, change in changes.items()
        if change["change"].get("importing")
    }
    assert imported == IMPORTS


def test_the_production_stack_forgets_the_registry_and_changes_nothing_else(migration: Migration) -> None:
    changes = acting(migration.plans["production"])
    assert destroyed(migration.plans["production"]) == []
    assert changes == {key: ["forget"] for key in FORGOTTEN}, f"production's stack would change {changes}"
    assert acting(migration.plans["production_after"]) == {}, "after the migration production's plan is empty"


def test_adding_staging_creates_its_roles_and_boundary_and_destroys_nothing(migration: Migration) -> None:
    changes = migration.plans["both_stages"]
    assert destroyed(changes) == []
    created = {address for address, actions in acting(changes).items() if actions == ["create"]}
    assert created == {
        'aws_iam_role.github["staging-plan"]',
        'aws_iam_role.github["staging-deploy"]',
        'aws_iam_role_policy.github["staging-plan"]',
        'aws_iam_role_policy.github["staging-deploy"]',
        'aws_iam_policy.function_boundary["staging"]',
    }


def test_nothing_of_the_single_stage_install_was_lost(migration: Migration) -> None:
    before, after = migration.before, migration.after
    assert after == before
    assert before["images"] == ["1111111", "2222222"]
    assert before["model_object"] == b"a trained model"


def test_the_staging_stack_runs_from_the_shared_registry(migration: Migration) -> None:
    lambda_ = migration.client("lambda")
    staging = lambda_.get_function(FunctionName=f"{NAME_PREFIX}-staging")
    assert staging["Code"]["ImageUri"] == migration.image_uri
    policy = migration.client("ecr").get_repository_policy(repositoryName=REPOSITORY)["policyText"]
    assert f"function:{NAME_PREFIX}-staging*" in policy
    assert f"function:{PRODUCTION}*" in policy


def test_the_documented_steps_are_these() -> None:
    """docs/infrastructure.md's section runs the steps this test runs, in this order."""
    docs = (REPO_ROOT / "docs" / "infrastructure.md").read_text()
    section = docs[docs.index("## From one stack to two") :]
    section = section[: section.index("\n## ", 1)]
    order = [
        "image_repository_name=lambda-model-prod",
        "import_single_stage_registry=true",
        "stages/production.tfvars",
        "terraform apply -var github_repository",
        "stages/staging.tfvars",
    ]
    positions = [section.index(step) for step in order]
    assert positions == sorted(positions), order
