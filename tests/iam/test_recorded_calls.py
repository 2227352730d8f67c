"""Every AWS call of retraining, the gate, promotion, the rollout and rollback, and serving, recorded by moto
and evaluated against the role that makes it in the workflows: the train role trains and gates, the deploy
role rolls out, promotes and rolls back, the function serves.

moto enforces no IAM; its recorder gives the exact requests, botocore's model and the Service Authorization
Reference turn them into IAM requests, and the evaluator decides them under the rendered policy.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest

from rehearsal.proxy import ProxiedRequest, Reply, json_reply, proxy_to
from tests.iam.conftest import ACCOUNT, REGION, STACK
from tests.support import servers
from tools.iam_check.evaluator import Request, granted_actions
from tools.iam_check.recording import RecordedCall, Recorder
from tools.iam_check.rendered import BootstrapPolicies
from tools.iam_check.report import RoleReport, check_role, table
from tools.iam_check.service_calls import iam_requests

BUCKET = f"{STACK}-models-{ACCOUNT}"

# Granted actions no recorded scenario here exercises, each with its reason.
TRAIN_REASONS: dict[str, str] = {}
# The deploy role's grants that only `terraform plan/apply/destroy` of the stack use (not recorded here yet):
# one reason per action, by what the run does with it.
_REFRESH = "terraform refresh (apply's plan) reads the stack resource"
_APPLY = "terraform apply creates or changes the stack resource"
_DESTROY = "terraform apply (replace) or destroy deletes the stack resource"
_TAGS = "terraform apply sets the stack's default tags"
DEPLOY_REASONS: dict[str, str] = {
    **dict.fromkeys(
        [
            "ecr:DescribeRepositories", "ecr:DescribeImages", "ecr:GetLifecyclePolicy", "ecr:GetRepositoryPolicy",
            "ecr:ListTagsForResource", "lambda:GetFunctionCodeSigningConfig", "lambda:GetPolicy", "lambda:ListAliases",
            "lambda:ListTags", "lambda:ListVersionsByFunction", "iam:GetRole", "iam:GetRolePolicy",
            "iam:ListAttachedRolePolicies", "iam:ListRolePolicies", "s3:GetAccelerateConfiguration", "s3:GetBucket*",
            "s3:GetEncryptionConfiguration", "s3:GetLifecycleConfiguration", "s3:GetReplicationConfiguration",
            "logs:ListTagsForResource", "logs:ListTagsLogGroup", "logs:DescribeLogGroups",
            "cloudwatch:ListTagsForResource", "apigateway:GET",
        ],
        _REFRESH,
    ),
    **dict.fromkeys(
        [
            "ecr:CreateRepository", "ecr:PutImageScanningConfiguration", "ecr:PutImageTagMutability",
            "ecr:PutLifecyclePolicy", "ecr:SetRepositoryPolicy", "lambda:CreateFunction",
            "lambda:UpdateFunctionConfiguration", "lambda:CreateAlias", "lambda:AddPermission", "iam:UpdateRole",
            "iam:UpdateRoleDescription", "iam:CreateRole", "iam:PutRolePermissionsBoundary", "iam:PutRolePolicy",
            "iam:PassRole", "s3:CreateBucket", "s3:PutBucketOwnershipControls", "s3:PutBucketPolicy",
            "s3:PutBucketPublicAccessBlock", "s3:PutBucketVersioning", "s3:PutEncryptionConfiguration",
            "s3:PutLifecycleConfiguration", "kms:CreateGrant", "kms:DescribeKey", "logs:CreateLogGroup",
            "logs:PutRetentionPolicy", "cloudwatch:PutMetricAlarm", "apigateway:POST", "apigateway:PUT",
            "apigateway:PATCH",
        ],
        _APPLY,
    ),
    **dict.fromkeys(
        [
            "ecr:DeleteRepository", "ecr:DeleteLifecyclePolicy", "ecr:DeleteRepositoryPolicy", "lambda:DeleteFunction",
            "lambda:DeleteAlias", "lambda:RemovePermission", "iam:DeleteRole", "iam:DeleteRolePolicy",
            "iam:ListInstanceProfilesForRole", "s3:DeleteBucket", "s3:DeleteBucketPolicy", "s3:ListBucketVersions",
            "s3:DeleteObjectVersion", "kms:RetireGrant", "logs:DeleteLogGroup", "logs:DeleteRetentionPolicy",
            "cloudwatch:DeleteAlarms", "apigateway:DELETE",
        ],
        _DESTROY,
    ),
    **dict.fromkeys(
        [
            "ecr:TagResource", "ecr:UntagResource", "lambda:TagResource", "lambda:UntagResource", "iam:TagRole",
            "iam:UntagRole", "s3:PutBucketTagging", "logs:TagResource", "logs:UntagResource", "logs:TagLogGroup",
            "logs:UntagLogGroup", "cloudwatch:TagResource", "cloudwatch:UntagResource",
        ],
        _TAGS,
    ),
    "s3:GetObject": "terraform init/refresh reads the state and its lock file",
    "s3:DeleteObject": "terraform releases the state lock (<key>.tflock); destroy empties the model bucket",
    "ecr:GetAuthorizationToken": "docker login before the image push (the release's build step)",
    **dict.fromkeys(
        [
            "ecr:BatchCheckLayerAvailability", "ecr:BatchGetImage", "ecr:CompleteLayerUpload",
            "ecr:GetDownloadUrlForLayer", "ecr:InitiateLayerUpload", "ecr:PutImage", "ecr:UploadLayerPart",
        ],
        "docker push of the release image (the release's build step)",
    ),
}  # fmt: skip
# Made by the Lambda service on the function's behalf, never by the handler process recorded here.
FUNCTION_REASONS = {
    "logs:CreateLogStream": "the Lambda runtime creates the function's log stream",
    "logs:PutLogEvents": "the Lambda runtime ships the handler's stdout",
    "xray:PutTraceSegments": "Lambda's X-Ray integration sends the invocation segments",
    "xray:PutTelemetryRecords": "Lambda's X-Ray integration sends its telemetry",
}


@pytest.fixture(scope="module")
def recording_moto(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A moto server of this module's own: the recorder is server-wide, the shared server is not quiet."""
    port = servers.free_port()
    endpoint = f"http://127.0.0.1:{port}"
    env = {
        **os.environ,
        "MOTO_ENABLE_RECORDING": "True",
        "MOTO_RECORDER_FILEPATH": str(tmp_path_factory.mktemp("moto-recording") / "recording"),
    }
    command = [str(servers.BIN_DIR / "moto_server"), "-H", "127.0.0.1", "-p", str(port)]
    with servers.running(command, f"{endpoint}/moto-api/", env=env):
        yield endpoint


def cli(endpoint: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, **servers.aws_env(endpoint, REGION)}
    return subprocess.run(
        [sys.executable, "-m", "lambda_model", *args], env=env, capture_output=True, text=True, timeout=120
    )


def s3_requests(calls: list[RecordedCall]) -> list[Request]:
    assert {call.service for call in calls} <= {"s3"}, sorted({call.service for call in calls})
    return aws_requests(calls)


def aws_requests(calls: list[RecordedCall]) -> list[Request]:
    return [request for call in calls for request in iam_requests(call, ACCOUNT)]


FUNCTION = STACK  # terraform/locals.tf: the function is named after the stack
# The alarms `terraform output canary_alarm_names` lists, which the release passes as --alarm.
CANARY_ALARMS = [f"{STACK}-{kind}" for kind in ("canary-errors", "canary-duration", "function-throttles", "api-5xx")]


@contextlib.contextmanager
def invoking_proxy(upstream: str, handler: Any, invoked: list[RecordedCall]) -> Iterator[str]:
    """moto in front, Lambda Invoke answered by the real handler (moto cannot run an image function); the
    invocations, which never reach moto's recorder, are recorded here with their signed headers."""

    def handle(request: ProxiedRequest, ask_moto: Callable[[], Reply]) -> Reply:
        if request.method == "POST" and request.path.endswith("/invocations"):
            invoked.append(RecordedCall(request.method, upstream + request.target, request.headers, request.body))
            return json_reply(handler(json.loads(request.body)))
        return ask_moto()

    with proxy_to(upstream, handle) as endpoint:
        yield endpoint


def release(endpoint: str, *arguments: str) -> subprocess.CompletedProcess[str]:
    """`python -m lambda_release` as the release and rollback workflows run it."""
    env = {**os.environ, **servers.aws_env(endpoint, REGION), "AWS_ENDPOINT_URL": endpoint, "AWS_MAX_ATTEMPTS": "1"}
    return subprocess.run(
        [sys.executable, "-m", "lambda_release", *arguments], env=env, capture_output=True, text=True, timeout=120
    )


def stack_function(endpoint: str) -> str:
    """What terraform apply leaves: an image function whose `live` alias serves version 1, and its alarms;
    returns the ECR repository URI."""
    clients = {
        name: boto3.client(
            name,
            endpoint_url=endpoint,
            region_name=REGION,
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        )
        for name in ("iam", "ecr", "lambda", "cloudwatch")
    }
    trust = {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}
        ],
    }
    role = clients["iam"].create_role(RoleName=f"{STACK}-function", AssumeRolePolicyDocument=json.dumps(trust))
    repository = clients["ecr"].create_repository(repositoryName=STACK)["repository"]["repositoryUri"]
    functions = clients["lambda"]
    functions.create_function(
        FunctionName=FUNCTION, Role=role["Role"]["Arn"], PackageType="Image", Code={"ImageUri": f"{repository}:first"}
    )
    functions.publish_version(FunctionName=FUNCTION)
    functions.create_alias(FunctionName=FUNCTION, Name="live", FunctionVersion="1")
    for name in CANARY_ALARMS:
        clients["cloudwatch"].put_metric_alarm(
            AlarmName=name,
            Namespace="AWS/Lambda",
            MetricName="Errors",
            Statistic="Sum",
            Period=60,
            EvaluationPeriods=1,
            Threshold=1,
            ComparisonOperator="GreaterThanOrEqualToThreshold",
        )
        clients["cloudwatch"].set_alarm_state(AlarmName=name, StateValue="OK", StateReason="quiet")
    return repository


def rollout_calls(recording_moto: str, recorder: Recorder, model_dir: Path) -> list[RecordedCall]:
    """The release's deploy (pre-traffic check, canary under the alarms, verification) and the rollback
    workflow's rollback, both made by the deploy role."""
    repository = stack_function(recording_moto)
    invoked: list[RecordedCall] = []
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MODEL_URI", str(model_dir))
        from lambda_model.serving import handler

        handler.model.reset()
        recorder.start()
        with invoking_proxy(recording_moto, handler.handler, invoked) as endpoint:
            alarms = [argument for name in CANARY_ALARMS for argument in ("--alarm", name)]
            deployed = release(
                endpoint, "deploy", "--function", FUNCTION, "--alias", "live", "--image-uri", f"{repository}:new",
                "--canary-share", "0.2", "--canary-minutes", "0.02", *alarms,
                "--alarm-poll-interval", "0.05", "--poll-interval", "0.05", "--", sys.executable, "-c", "pass",
            )  # fmt: skip
            assert deployed.returncode == 0, deployed.stdout + deployed.stderr
            rolled_back = release(endpoint, "rollback", "--function", FUNCTION, "--alias", "live")
            assert rolled_back.returncode == 0, rolled_back.stdout + rolled_back.stderr
        calls = recorder.stop()
        handler.model.reset()
    return calls + invoked


@pytest.fixture(scope="module")
def reports(
    recording_moto: str, bootstrap: BootstrapPolicies, tmp_path_factory: pytest.TempPathFactory, model_dir: Path
) -> list[RoleReport]:
    from lambda_model.training.data import load_dataset
    from lambda_model.training.reference import reference_csv

    work = tmp_path_factory.mktemp("scenario")
    s3 = boto3.client(
        "s3",
        endpoint_url=recording_moto,
        region_name=REGION,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    s3.create_bucket(Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": REGION})
    s3.put_object(Bucket=BUCKET, Key="data/iris.csv", Body=reference_csv(load_dataset(None)))
    recorder = Recorder(recording_moto)
    store = f"s3://{BUCKET}/models"

    recorder.start()
    summary = work / "summary.json"
    trained = cli(
        recording_moto,
        "train",
        "--data",
        f"s3://{BUCKET}/data/iris.csv",
        "--store",
        store,
        "--no-promote",
        "--summary-json",
        str(summary),
    )
    assert trained.returncode == 0, trained.stderr
    version = json.loads(summary.read_text())
    gated = cli(recording_moto, "gate", "--candidate", version["uri"], "--baseline", store, "--min-accuracy", "0.8")
    assert gated.returncode == 0, gated.stdout + gated.stderr
    train_calls = recorder.stop()

    recorder.start()
    promoted = cli(recording_moto, "promote", "--store", store, "--version", version["version"])
    assert promoted.returncode == 0, promoted.stderr
    deploy_calls = recorder.stop()
    deploy_calls += rollout_calls(recording_moto, recorder, model_dir)

    recorder.start()
    event = str(Path(__file__).parents[1] / "events" / "direct_invoke.json")
    # MODEL_URI of the function (terraform/lambda.tf): the store, whose models/current names the version.
    served = cli(recording_moto, "invoke", event, "--model", store)
    assert served.returncode == 0, served.stdout + served.stderr
    serving_calls = recorder.stop()

    train = check_role("train", len(train_calls), s3_requests(train_calls), bootstrap.roles["train"], TRAIN_REASONS)
    deploy = check_role(
        "deploy (release, rollback)",
        len(deploy_calls),
        aws_requests(deploy_calls),
        bootstrap.roles["deploy"],
        DEPLOY_REASONS,
    )
    # The function role's inline policy is the stack's (terraform/iam.tf); its boundary, rendered here, caps it,
    # so serving must fit inside the boundary or it fails whatever the inline policy says.
    function = check_role(
        "function (boundary)",
        len(serving_calls),
        s3_requests(serving_calls),
        bootstrap.function_boundary,
        FUNCTION_REASONS,
    )
    print("\n" + table([train, deploy, function]))
    return [train, deploy, function]


def test_no_recorded_call_is_denied(reports: list[RoleReport]) -> None:
    assert {r.role: [(q.action, q.resource) for q in r.denied] for r in reports if r.denied} == {}


def test_the_scenarios_made_the_calls_they_are_meant_to_check(reports: list[RoleReport]) -> None:
    train, deploy, function = reports
    assert {"s3:GetObject", "s3:PutObject", "s3:ListBucket"} <= train.actions
    assert {
        "s3:PutObject",
        "lambda:UpdateFunctionCode",
        "lambda:PublishVersion",
        "lambda:UpdateAlias",
    } <= deploy.actions
    assert {"lambda:InvokeFunction", "cloudwatch:DescribeAlarms"} <= deploy.actions
    assert "s3:GetObject" in function.actions


def test_every_grant_is_used_or_explained(reports: list[RoleReport]) -> None:
    """The reverse direction, for the roles whose every scenario is recorded here."""
    assert {r.role: r.unused for r in reports if r.unused} == {}


def test_no_reason_explains_a_gone_or_used_grant(reports: list[RoleReport], bootstrap: BootstrapPolicies) -> None:
    """A stale reason would hide the next unused grant of that name."""
    _, deploy, _ = reports
    granted = set(granted_actions(bootstrap.roles["deploy"]))
    assert {action for action in DEPLOY_REASONS if action not in granted or action in deploy.actions} == set()
