"""What the moto apply tests share: the roots pointed at the local moto server, a stage's own Terraform data
directory (so one root serves both stacks, as in the workflows), fake image pushes, outputs and cleanup."""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

from rehearsal.lambda_service import manifest
from rehearsal.servers import local_client
from rehearsal.terraform import provider_override, s3_backend_override
from tests.terraform.conftest import Terraform

REGION = "eu-central-1"
ACCOUNT = "123456789012"  # moto's default account
GITHUB_REPOSITORY = "octo-org/lambda-model"


def client(endpoint: str, service: str) -> Any:
    return local_client(endpoint, service, REGION)


def point_at_moto(bootstrap: Path, stack: Path, endpoint: str) -> None:
    """Override files send both roots (and the stack's S3 backend) to moto; the copies' own tests are dropped."""
    for root in (bootstrap, stack):
        shutil.rmtree(root / "tests", ignore_errors=True)
    (bootstrap / "moto_override.tf").write_text(provider_override(endpoint))
    (stack / "moto_override.tf").write_text(s3_backend_override(endpoint) + provider_override(endpoint))


def stage_env(env: Mapping[str, str], root: Path, stage: str, stack_vars: Mapping[str, str]) -> dict[str, str]:
    """A stage's run of the one stack root: its own .terraform (backend key) and its TF_VAR_* as the workflows set
    them (TF_VAR_environment, TF_VAR_image_repository_url, TF_VAR_model_bucket)."""
    return {
        **env,
        "TF_DATA_DIR": str(root / f".terraform-{stage}"),
        **{f"TF_VAR_{name}": value for name, value in stack_vars.items()},
    }


def backend_flags(backend: Mapping[str, str]) -> list[str]:
    return [f"-backend-config={name}={value}" for name, value in sorted(backend.items())]


def push_fake_image(ecr: Any, repository: str, tag: str) -> str:
    """moto keeps manifests, not layers: enough for Lambda's image_uri to point at a real tag."""
    layer = f"sha256:{hashlib.sha256(tag.encode()).hexdigest()}"
    ecr.put_image(
        repositoryName=repository, imageManifest=manifest(layer, 1, json.dumps({"tag": tag}).encode()), imageTag=tag
    )
    return f"{ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com/{repository}:{tag}"


def outputs(terraform: Terraform, root: Path, env: Mapping[str, str]) -> dict[str, Any]:
    result = terraform.run("output", "-json", cwd=root, env=dict(env))
    return {name: output["value"] for name, output in json.loads(result.stdout).items()}


def finish(process: subprocess.Popen[str], what: str) -> None:
    stdout, _ = process.communicate(timeout=300)
    if process.returncode != 0:
        pytest.fail(f"{what} exited {process.returncode}\n{stdout[-8000:]}")


def stop(process: subprocess.Popen[str] | None) -> None:
    if process is not None and process.poll() is None:
        process.kill()
        process.wait()


def empty_versioned_bucket(s3: Any, bucket: str) -> None:
    """Every version and delete marker, as the teardown in docs/infrastructure.md deletes them."""
    for page in s3.get_paginator("list_object_versions").paginate(Bucket=bucket):
        objects = [
            {"Key": item["Key"], "VersionId": item["VersionId"]}
            for item in [*page.get("Versions", []), *page.get("DeleteMarkers", [])]
        ]
        if objects:
            s3.delete_objects(Bucket=bucket, Delete={"Objects": objects, "Quiet": True})


def planned(terraform: Terraform, root: Path, env: Mapping[str, str], *args: str) -> dict[str, Any]:
    """Every resource change of the plan (no-ops too: a moved resource shows its previous_address), by address,
    saved as check.tfplan for an apply of exactly what was checked."""
    terraform.run("plan", "-out=check.tfplan", "-no-color", *args, cwd=root, env=dict(env))
    plan = json.loads(terraform.run("show", "-json", "check.tfplan", cwd=root, env=dict(env)).stdout)
    return {change["address"]: change for change in plan.get("resource_changes", [])}


def acting(changes: Mapping[str, Any]) -> dict[str, list[str]]:
    """The actions of the changes that do something, by address."""
    return {
        address: change["change"]["actions"]
        for address, change in changes.items()
        if change["change"]["actions"] != ["no-op"]
    }
