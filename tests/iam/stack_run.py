"""One stage's stack through `terraform init / apply / plan / destroy` against a recording moto server, in the
workflows' order and grouped by the role that runs each step: the release's image push (staging's only), apply
and destroy are the stage's deploy role's, the pull-request plan and the drift check its plan role's.

What the bootstrap made is there before (outside any recording): the versioned state bucket, the shared image
repository and model bucket. Production never builds: the image it deploys is staging's, already pushed and
tagged `-staged`. The S3 backend is the workflows' (use_lockfile: every run that locks writes and deletes
<key>.tflock next to the state); only the endpoints point at moto.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from iam_check.apigateway_tags import ResourceTags
from iam_check.recording import RecordedCall, Recorder
from lambda_release import staged
from rehearsal.terraform import provider_override, s3_backend_override
from tests.iam.conftest import ACCOUNT, MODEL_BUCKET_NAME, REGION, REPOSITORY, STAGING, Stage
from tests.support.servers import aws_env
from tests.terraform.conftest import Terraform, copy_terraform
from tests.terraform.test_moto_apply import client, policy_document, push_fake_image

REPOSITORY_URL = f"{ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com/{REPOSITORY}"
# What runs while the stack is deployed, between its plan and its destroy: another role's calls on it.
WhileDeployed = Callable[[str, Recorder, Stage], list[RecordedCall]]


@dataclass(frozen=True)
class StackCalls:
    stage: Stage
    deploy: list[RecordedCall]
    plan: list[RecordedCall]
    # The function role's inline policy as the apply wrote it (terraform/iam.tf), to judge serving with.
    function_policy: dict
    # The stack's API Gateway resources and their tags as the apply left them: what its calls are judged with.
    apigateway: ResourceTags
    # What `while_deployed` recorded.
    attempts: list[RecordedCall]


def create_registry(endpoint: str) -> None:
    """The bootstrap's shared registry (registry.tf), which no stage records: the repository with immutable
    tags, the versioned model bucket."""
    client(endpoint, "ecr").create_repository(repositoryName=REPOSITORY, imageTagMutability="IMMUTABLE")
    create_versioned_bucket(endpoint, MODEL_BUCKET_NAME)


def create_versioned_bucket(endpoint: str, bucket: str) -> None:
    s3 = client(endpoint, "s3")
    s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": REGION})
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})


def record_stack(
    terraform: Terraform,
    endpoint: str,
    recorder: Recorder,
    workdir: Path,
    stage: Stage,
    state_bucket: str,
    while_deployed: WhileDeployed | None = None,
) -> StackCalls:
    """Every call of the stage's terraform runs, by role; leaves the moto server without the stack."""
    stack = copy_terraform(workdir / "terraform")["stack"]
    shutil.rmtree(stack / "tests")
    (stack / "moto_override.tf").write_text(s3_backend_override(endpoint) + provider_override(endpoint))
    # What the bootstrap made: the registry and the versioned state bucket.
    create_registry(endpoint)
    create_versioned_bucket(endpoint, state_bucket)
    ecr = client(endpoint, "ecr")
    # The workflows pass these as TF_VAR_* and the stage's differences as its var file.
    env = {
        **aws_env(endpoint, REGION),
        "TF_VAR_aws_region": REGION,
        "TF_VAR_environment": stage.environment,
        "TF_VAR_image_repository_url": REPOSITORY_URL,
        "TF_VAR_model_bucket": MODEL_BUCKET_NAME,
    }
    backend = {"bucket": state_bucket, "key": stage.state_key, "region": REGION}
    init = ["init", "-input=false", "-no-color", *(f"-backend-config={k}={v}" for k, v in backend.items())]
    var_file = f"-var-file=stages/{stage.key}.tfvars"
    apply = ["apply", "-input=false", "-auto-approve", "-no-color", "-lock-timeout=10m", var_file]

    def run(*args: str, codes: tuple[int, ...] = (0,), extra: dict[str, str] | None = None) -> None:
        result = terraform.run(*args, cwd=stack, env={**env, **(extra or {})}, check=codes == (0,))
        assert result.returncode in codes, f"terraform {args[0]} exited {result.returncode}\n{result.stderr[-4000:]}"

    tag = "1111111-v1"
    deploy: list[RecordedCall] = []
    if stage == STAGING:
        # Staging's release builds: docker's push ends in the PutImage of the manifest (moto keeps no layers).
        recorder.start()
        image_uri = push_fake_image(ecr, REPOSITORY, tag)
        deploy += recorder.stop()
    else:
        # Production deploys the image staging pushed and passed (marked <tag>-staged).
        push_fake_image(ecr, REPOSITORY, tag)
        digest = ecr.describe_images(repositoryName=REPOSITORY, imageIds=[{"imageTag": tag}])["imageDetails"][0]
        image_uri = f"{REPOSITORY_URL}@{digest['imageDigest']}"
        staged.mark_staged(ecr, staged.Image.parse(image_uri))
    recorder.start()
    run(*init)
    run(*apply, extra={"TF_VAR_image_uri": image_uri})
    run("output", "-json")
    deploy += recorder.stop()
    function_policy = function_role_policy(client(endpoint, "iam"), stage)
    apigateway = ResourceTags.read(client(endpoint, "apigateway"))

    # The plan job initialises its own checkout; 2 is "changes" (moto reports drift in two function blocks).
    recorder.start()
    run(*init)
    run("plan", "-input=false", "-no-color", "-lock-timeout=10m", "-detailed-exitcode", var_file, codes=(0, 2))
    if stage != STAGING:
        # drift.yml's skew job runs with production's plan role: the digest production serves carries -staged.
        staged.check_staged(ecr, staged.Image.parse(image_uri))
    plan = recorder.stop()

    attempts = while_deployed(endpoint, recorder, stage) if while_deployed else []

    recorder.start()
    run("destroy", "-input=false", "-auto-approve", "-no-color", "-lock-timeout=10m", var_file)
    deploy += recorder.stop()
    return StackCalls(stage, deploy, plan, function_policy, apigateway, attempts)


def function_role_policy(iam: Any, stage: Stage) -> dict:
    """The inline policy of the function role (read outside any recording: no role makes this call)."""
    policy = iam.get_role_policy(RoleName=f"{stage.stack}-function", PolicyName="runtime")["PolicyDocument"]
    return policy_document(policy)


def stack_api_id(endpoint: str, stage: Stage) -> str:
    """The ID of the stage's REST API (named after its stack)."""
    apis = client(endpoint, "apigateway").get_rest_apis()["items"]
    (api_id,) = [api["id"] for api in apis if api["name"] == stage.stack]
    return api_id
