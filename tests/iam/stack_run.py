"""The stack's `terraform init / apply / plan / destroy` against a recording moto server, in the workflows' order
and grouped by the role that runs each step: the release's first deploy (targeted apply, image push, full
apply) and destroy are the deploy role's, the pull-request plan and the drift check the plan role's.

The S3 backend is the workflows' (use_lockfile: every run that locks writes and deletes <key>.tflock next to the
state); only the endpoints point at moto. The image push is docker's, not Terraform's, so it is not recorded.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

from iam_check.recording import RecordedCall, Recorder
from rehearsal.terraform import provider_override, s3_backend_override
from tests.iam.conftest import ACCOUNT, REGION, STACK
from tests.support.servers import aws_env
from tests.terraform.conftest import Terraform, copy_terraform
from tests.terraform.test_moto_apply import FIRST_DEPLOY_TARGETS, client, policy_document, push_fake_image

# The bootstrap's names for this stack (terraform/bootstrap/locals.tf): the roles are scoped to them.
NAME_PREFIX, ENVIRONMENT = STACK.rsplit("-", 1)
STATE_BUCKET = f"{STACK}-tfstate-{ACCOUNT}"
STATE_KEY = f"{NAME_PREFIX}/{ENVIRONMENT}/terraform.tfstate"


@dataclass(frozen=True)
class StackCalls:
    deploy: list[RecordedCall]
    plan: list[RecordedCall]
    # The function role's inline policy as the apply wrote it (terraform/iam.tf), to judge serving with.
    function_policy: dict


def record_stack(terraform: Terraform, endpoint: str, recorder: Recorder, workdir: Path) -> StackCalls:
    """Every call of the stack's terraform runs, by role; leaves the moto server without the stack."""
    stack = copy_terraform(workdir / "terraform")["stack"]
    shutil.rmtree(stack / "tests")
    (stack / "moto_override.tf").write_text(s3_backend_override(endpoint) + provider_override(endpoint))
    # The workflows pass the names as TF_VAR_*; force_destroy lets destroy empty the versioned model bucket
    # and the repository (the deploy role's destroy-only grants).
    env = {
        **aws_env(endpoint, REGION),
        "TF_VAR_aws_region": REGION,
        "TF_VAR_name_prefix": NAME_PREFIX,
        "TF_VAR_environment": ENVIRONMENT,
        "TF_VAR_force_destroy": "true",
    }
    # What the bootstrap made: the versioned state bucket (not the stack's to record).
    s3 = client(endpoint, "s3")
    s3.create_bucket(Bucket=STATE_BUCKET, CreateBucketConfiguration={"LocationConstraint": REGION})
    s3.put_bucket_versioning(Bucket=STATE_BUCKET, VersioningConfiguration={"Status": "Enabled"})
    backend = {"bucket": STATE_BUCKET, "key": STATE_KEY, "region": REGION}
    init = ["init", "-input=false", "-no-color", *(f"-backend-config={k}={v}" for k, v in backend.items())]
    apply = ["apply", "-input=false", "-auto-approve", "-no-color", "-lock-timeout=10m"]

    def run(*args: str, codes: tuple[int, ...] = (0,), extra: dict[str, str] | None = None) -> None:
        result = terraform.run(*args, cwd=stack, env={**env, **(extra or {})}, check=codes == (0,))
        assert result.returncode in codes, f"terraform {args[0]} exited {result.returncode}\n{result.stderr[-4000:]}"

    recorder.start()
    run(*init)
    run(*apply, *FIRST_DEPLOY_TARGETS)
    run("output", "-json")
    deploy = recorder.stop()
    # Between the two applies: docker pushes the image, and the first retrain writes a model version (which
    # destroy must then empty out of the versioned bucket).
    image_uri = push_fake_image(client(endpoint, "ecr"), STACK, "1111111")
    s3.put_object(Bucket=f"{STACK}-models-{ACCOUNT}", Key="models/versions/1/model.joblib", Body=b"model")
    recorder.start()
    run(*apply, extra={"TF_VAR_image_uri": image_uri})
    run("output", "-json")
    deploy += recorder.stop()
    function_policy = function_role_policy(client(endpoint, "iam"))

    # The plan job initialises its own checkout; 2 is "changes" (moto reports drift in two function blocks).
    recorder.start()
    run(*init)
    run("plan", "-input=false", "-no-color", "-lock-timeout=10m", "-detailed-exitcode", codes=(0, 2))
    plan = recorder.stop()

    recorder.start()
    run("destroy", "-input=false", "-auto-approve", "-no-color", "-lock-timeout=10m")
    deploy += recorder.stop()
    return StackCalls(deploy=deploy, plan=plan, function_policy=function_policy)


def function_role_policy(iam) -> dict:
    """The inline policy of the function role (read outside any recording: no role makes this call)."""
    return policy_document(iam.get_role_policy(RoleName=f"{STACK}-function", PolicyName="runtime")["PolicyDocument"])
