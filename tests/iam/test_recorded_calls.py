"""Every AWS call of the stack's terraform runs, retraining, the gate, promotion, the rollout and rollback,
serving and the monitor, recorded by moto and evaluated against the role that makes it in the workflows: the
plan role plans (pull requests, drift), the deploy role applies, destroys, rolls out, promotes and rolls back,
the train role trains and gates, the function serves, the monitor role reads the served model's metrics.

moto enforces no IAM; its recorder gives the exact requests, botocore's model and the Service Authorization
Reference turn them into IAM requests, and the evaluator decides them under the rendered policy. The reverse
direction: every grant is used by a recorded call, or carries its reason next to it in iam.tf.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

import boto3
import pytest

from iam_check.evaluator import Request
from iam_check.reasons import read_reasons
from iam_check.recording import RecordedCall, Recorder
from iam_check.rendered import BootstrapPolicies
from iam_check.report import RoleReport, check_role, stale_reasons, table
from iam_check.service_calls import Observed, iam_requests
from rehearsal import servers as processes
from rehearsal.emf_metrics import EmfMetrics, is_get_metric_data
from rehearsal.proxy import ProxiedRequest, Reply, json_reply, proxy_to
from tests.iam.conftest import ACCOUNT, REGION, STACK
from tests.iam.stack_run import StackCalls, record_stack
from tests.support import servers
from tests.terraform.conftest import TERRAFORM_DIR, Terraform

BUCKET = f"{STACK}-models-{ACCOUNT}"

# Why a grant no recorded call uses is there anyway: a `# unused offline:` comment next to it in the source.
IAM_SOURCE = TERRAFORM_DIR / "bootstrap" / "iam.tf"


@contextlib.contextmanager
def recording_server(directory: Path, launcher: tuple[str, ...] = processes.MOTO) -> Iterator[str]:
    """A moto server with its own recorder (the recorder is server-wide, the shared server is not quiet)."""
    port = servers.free_port()
    endpoint = f"http://127.0.0.1:{port}"
    env = {**os.environ, "MOTO_ENABLE_RECORDING": "True", "MOTO_RECORDER_FILEPATH": str(directory / "recording")}
    command = [*launcher, "-H", "127.0.0.1", "-p", str(port)]
    with servers.running(command, f"{endpoint}/moto-api/", env=env):
        yield endpoint


@pytest.fixture(scope="module")
def recording_moto(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with recording_server(tmp_path_factory.mktemp("moto-recording")) as endpoint:
        yield endpoint


@pytest.fixture(scope="module")
def stack_calls(terraform: Terraform, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Future[StackCalls]]:
    """The stack's terraform runs, in the background on a recording server of their own: they spend most of
    their time in the provider's waits (S3 settles each bucket setting over several reads), long enough for
    every other scenario to run meanwhile on `recording_moto`."""
    directory = tmp_path_factory.mktemp("stack")
    # The pool's exit waits for the runs, then the server stops: no terraform is left talking to nothing.
    # As the rehearsal runs it: the model bucket's TLS-only policy must not deny the plain-HTTP calls to moto.
    launcher = processes.MOTO_OVER_HTTPS
    with recording_server(directory, launcher) as endpoint, ThreadPoolExecutor(max_workers=1) as pool:
        yield pool.submit(record_stack, terraform, endpoint, Recorder(endpoint), directory)


def cli(endpoint: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, **servers.aws_env(endpoint, REGION)}
    return subprocess.run(
        [sys.executable, "-m", "lambda_model", *args], env=env, capture_output=True, text=True, timeout=120
    )


def s3_requests(calls: list[RecordedCall]) -> list[Request]:
    assert {call.service for call in calls} <= {"s3"}, sorted({call.service for call in calls})
    return aws_requests(calls)


def aws_requests(calls: list[RecordedCall]) -> list[Request]:
    """In recording order: a call's conditions may read what an earlier one set (a boundary, tags)."""
    observed = Observed()
    return [request for call in calls for request in iam_requests(call, ACCOUNT, observed)]


FUNCTION = STACK  # terraform/locals.tf: the function is named after the stack
# The alarms `terraform output canary_alarm_names` lists, which the release passes as --alarm.
CANARY_ALARMS = [
    f"{STACK}-{kind}"
    for kind in (
        "canary-errors",
        "canary-duration",
        "function-throttles",
        "api-5xx",
        "emf-validation-errors",
        "emf-parsing-errors",
    )
]


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
    # What Lambda would publish for the canary's traffic to version 2 (moto runs no image function and
    # publishes no Lambda metrics): the rollout's GetMetricData finds the invocations its canary needs.
    clients["cloudwatch"].put_metric_data(
        Namespace="AWS/Lambda",
        MetricData=[
            {
                "MetricName": "Invocations",
                "Dimensions": [
                    {"Name": "FunctionName", "Value": FUNCTION},
                    {"Name": "Resource", "Value": f"{FUNCTION}:live"},
                    {"Name": "ExecutedVersion", "Value": "2"},
                ],
                "Value": 1.0,
            }
        ],
    )
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
                "--canary-share", "0.2", "--canary-minutes", "0.02", *alarms, "--min-canary-invocations", "1",
                "--alarm-poll-interval", "0.05", "--poll-interval", "0.05", "--", sys.executable, "-c", "pass",
            )  # fmt: skip
            assert deployed.returncode == 0, deployed.stdout + deployed.stderr
            rolled_back = release(endpoint, "rollback", "--function", FUNCTION, "--alias", "live")
            assert rolled_back.returncode == 0, rolled_back.stdout + rolled_back.stderr
        calls = recorder.stop()
        handler.model.reset()
    return calls + invoked


def monitor_calls(upstream: str, recorder: Recorder, store: str, handler_log: str) -> list[RecordedCall]:
    """The monitor workflow's step: the served version and its baseline from S3, its metrics from CloudWatch.
    moto extracts no EMF and computes no TC, so GetMetricData is answered from the handler's own log line (the
    serving scenario's) by the rehearsal's stand-in; those calls never reach moto's recorder and are recorded
    here with their signed headers."""
    stand_in = EmfMetrics(lambda: handler_log.splitlines())
    answered: list[RecordedCall] = []

    def handle(request: ProxiedRequest, ask_moto: Callable[[], Reply]) -> Reply:
        if is_get_metric_data(request):
            answered.append(RecordedCall(request.method, upstream + request.target, request.headers, request.body))
        return stand_in.handle(request, ask_moto)

    recorder.start()
    with proxy_to(upstream, handle) as endpoint:
        # One served record: judged only with --min-records 1, which is all an IAM check needs.
        judged = cli(endpoint, "monitor", "--store", store, "--min-records", "1")
    calls = recorder.stop()
    assert judged.returncode in (0, 1), judged.stdout + judged.stderr
    assert "## Model monitor: model" in judged.stdout
    assert stand_in.take_notes(), "the monitor's GetMetricData did not reach the stand-in"
    return calls + answered


@pytest.fixture(scope="module")
def reports(
    recording_moto: str,
    stack_calls: Future[StackCalls],
    bootstrap: BootstrapPolicies,
    tmp_path_factory: pytest.TempPathFactory,
    model_dir: Path,
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

    def retrain(run: str) -> dict:
        """The retrain job's train and gate steps."""
        summary = work / f"summary-{run}.json"
        trained = cli(recording_moto, "train", "--data", f"s3://{BUCKET}/data/iris.csv", "--store", store,
                      "--no-promote", "--summary-json", str(summary))  # fmt: skip
        assert trained.returncode == 0, trained.stderr
        candidate = json.loads(summary.read_text())
        gated = cli(
            recording_moto, "gate", "--candidate", candidate["uri"], "--baseline", store, "--min-accuracy", "0.8"
        )
        assert gated.returncode == 0, gated.stdout + gated.stderr
        return candidate

    event = str(Path(__file__).parents[1] / "events" / "direct_invoke.json")
    # A function started before the first model was promoted: models/current is missing, and S3 says so
    # (404, "no model yet") only to a role allowed the unprefixed s3:ListBucket; to others it answers 403.
    recorder.start()
    unserved = cli(recording_moto, "invoke", event, "--model", store)
    assert "model_unavailable" in unserved.stdout + unserved.stderr, unserved.stdout + unserved.stderr
    serving_calls = recorder.stop()

    recorder.start()
    version = retrain("first")  # no production yet
    train_calls = recorder.stop()

    # The release job: choose the model (versions), export it into the image's build context, promote it.
    recorder.start()
    listed = cli(recording_moto, "versions", "--store", store)
    assert listed.returncode == 0, listed.stderr
    exported = cli(recording_moto, "export", "--model", version["uri"], "--to", str(work / "image-model"))
    assert exported.returncode == 0, exported.stderr
    promoted = cli(recording_moto, "promote", "--store", store, "--version", version["version"])
    assert promoted.returncode == 0, promoted.stderr
    release_calls = recorder.stop() + rollout_calls(recording_moto, recorder, model_dir)

    # A retrain once production exists: its gate scores production too, on the frozen reference set that the
    # first such gate writes under models/reference/.
    recorder.start()
    retrain("second")
    train_calls += recorder.stop()

    recorder.start()
    # MODEL_URI of the function (terraform/lambda.tf): the store, whose models/current names the version.
    served = cli(recording_moto, "invoke", event, "--model", store)
    assert served.returncode == 0, served.stdout + served.stderr
    serving_calls += recorder.stop()

    monitor = monitor_calls(recording_moto, recorder, store, served.stderr)

    stack = stack_calls.result()
    # The deploy role's calls: the stack's first deploy and destroy, then the release's and the rollback's.
    deploy_calls = stack.deploy + release_calls
    reasons = read_reasons(IAM_SOURCE)
    roles = bootstrap.roles
    # The function role's inline policy is the stack's (terraform/iam.tf, as the apply wrote it); the boundary,
    # rendered here, caps it: serving must pass both, as AWS evaluates them.
    checked = [
        ("plan (PR plan, drift)", stack.plan, aws_requests(stack.plan), roles["plan"], None),
        ("deploy (apply, destroy, release)", deploy_calls, aws_requests(deploy_calls), roles["deploy"], None),
        ("train", train_calls, s3_requests(train_calls), roles["train"], None),
        (
            "function (inline policy within its boundary)",
            serving_calls,
            s3_requests(serving_calls),
            bootstrap.function_boundary,
            stack.function_policy,
        ),
        ("monitor", monitor, aws_requests(monitor), roles["monitor"], None),
    ]
    result = [
        check_role(role, len(calls), requests, policy, reasons, inline=inline)
        for role, calls, requests, policy, inline in checked
    ]
    print("\n" + table(result))
    return result


def test_no_recorded_call_is_denied(reports: list[RoleReport]) -> None:
    assert {r.role: sorted({(q.action, q.resource) for q in r.denied}) for r in reports if r.denied} == {}


def test_the_scenarios_made_the_calls_they_are_meant_to_check(reports: list[RoleReport]) -> None:
    plan, deploy, train, function, monitor = reports
    # The plan locks the state (use_lockfile) and refreshes every kind of stack resource.
    assert {
        "s3:PutObject",
        "s3:DeleteObject",
        "apigateway:GET",
        "logs:DescribeLogGroups",
        "iam:GetRole",
        "cloudwatch:GetDashboard",
        "logs:DescribeQueryDefinitions",
    } <= plan.actions
    assert not {a for a in plan.actions if a.split(":")[1].startswith(("Create", "Put", "Delete"))} - {
        "s3:PutObject",
        "s3:DeleteObject",
    }
    # apply and destroy, down to the objects force_destroy deletes and the role passed to Lambda.
    assert {
        "apigateway:POST",
        "apigateway:DELETE",
        "iam:CreateRole",
        "iam:PassRole",
        "lambda:CreateFunction",
        "s3:DeleteObjectVersion",
        "ecr:DeleteRepository",
        "cloudwatch:PutDashboard",
        "cloudwatch:DeleteDashboards",
        "logs:PutQueryDefinition",
        "logs:DeleteQueryDefinition",
    } <= deploy.actions
    assert {
        "s3:PutObject",
        "lambda:UpdateFunctionCode",
        "lambda:PublishVersion",
        "lambda:UpdateAlias",
    } <= deploy.actions
    assert {"lambda:InvokeFunction", "cloudwatch:DescribeAlarms", "cloudwatch:GetMetricData"} <= deploy.actions
    assert {"s3:GetObject", "s3:PutObject", "s3:ListBucket"} <= train.actions
    assert {"s3:GetObject", "s3:ListBucket"} <= function.actions  # ListBucket: the 404 of "no model yet"
    # The monitor reads the pointer and one metadata.json (ListBucket: S3's 404-or-403 check), then metrics.
    assert monitor.actions == {"s3:GetObject", "s3:ListBucket", "cloudwatch:GetMetricData"}
    assert {q.resource.rsplit("/", 1)[1] for q in monitor.requests if q.action == "s3:GetObject"} == {
        "current",
        "metadata.json",
    }


def test_every_grant_is_used_or_explained(reports: list[RoleReport]) -> None:
    """The reverse direction: a grant no recorded call needs carries its reason next to it in iam.tf."""
    assert {r.role: r.unused for r in reports if r.unused} == {}


def test_no_reason_explains_a_used_or_absent_grant(reports: list[RoleReport], bootstrap: BootstrapPolicies) -> None:
    """A stale reason would hide the next unused grant of that name."""
    policies = {**bootstrap.roles, "function boundary": bootstrap.function_boundary}
    assert stale_reasons(read_reasons(IAM_SOURCE), policies, reports) == []
