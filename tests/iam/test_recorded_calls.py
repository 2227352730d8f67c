"""Every S3 call of retraining, the gate and promotion, recorded by moto and evaluated against the role that
makes it in the workflows: the train role trains and gates, the deploy role promotes.

moto enforces no IAM; its recorder gives the exact requests, botocore's model and the Service Authorization
Reference turn them into IAM requests, and the evaluator decides them under the rendered policy.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest

from tests.iam.conftest import ACCOUNT, REGION, STACK
from tests.support import servers
from tools.iam_check.evaluator import Request
from tools.iam_check.recording import RecordedCall, Recorder
from tools.iam_check.rendered import BootstrapPolicies
from tools.iam_check.report import RoleReport, check_role, table
from tools.iam_check.s3_calls import iam_requests

BUCKET = f"{STACK}-models-{ACCOUNT}"

# Granted actions no recorded scenario here exercises, each with its reason (the deploy role's others
# are the Terraform apply/destroy and rollout permissions; this test records only its promotion).
TRAIN_REASONS: dict[str, str] = {}
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
    return [request for call in calls for request in iam_requests(call.method, call.url, call.headers)]


@pytest.fixture(scope="module")
def reports(
    recording_moto: str, bootstrap: BootstrapPolicies, tmp_path_factory: pytest.TempPathFactory
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

    recorder.start()
    event = str(Path(__file__).parents[1] / "events" / "direct_invoke.json")
    # MODEL_URI of the function (terraform/lambda.tf): the store, whose models/current names the version.
    served = cli(recording_moto, "invoke", event, "--model", store)
    assert served.returncode == 0, served.stdout + served.stderr
    serving_calls = recorder.stop()

    train = check_role("train", len(train_calls), s3_requests(train_calls), bootstrap.roles["train"], TRAIN_REASONS)
    deploy = check_role(
        "deploy (promote)", len(deploy_calls), s3_requests(deploy_calls), bootstrap.roles["deploy"], None
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
    assert "s3:PutObject" in deploy.actions
    assert "s3:GetObject" in function.actions


def test_every_grant_is_used_or_explained(reports: list[RoleReport]) -> None:
    """The reverse direction, for the roles whose every scenario is recorded here."""
    train, _, function = reports
    assert (train.unused, function.unused) == ((), ())
