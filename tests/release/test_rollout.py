"""The rollout CLI against moto, run as a subprocess exactly as the release workflow runs it.

Each test builds its own IAM role, ECR repository and image-based Lambda function with a `live` alias on
version 1, runs `python -m lambda_release ...`, and reads the function's image, versions and alias
back with boto3. Failures halfway are injected by a small proxy between the CLI and moto that breaks one
chosen Lambda API call, so the code under test is the code the workflow runs.
"""

from __future__ import annotations

import contextlib
import json
import re
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
import pytest

from lambda_model.serving.routes import ROUTES
from lambda_release import rollout
from rehearsal.proxy import ProxiedRequest, Reply, json_reply, proxy_to
from tests.support.canary_api import CanaryApi
from tests.support.canary_api import serving as serving_api

TRUST_POLICY = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}
        ],
    }
)
# Lambda's REST paths for the calls a rollout makes.
UPDATE_CODE = ("PUT", r"/functions/[^/]+/code$")
GET_CONFIGURATION = ("GET", r"/functions/[^/]+/configuration$")
PUBLISH_VERSION = ("POST", r"/functions/[^/]+/versions$")
UPDATE_ALIAS = ("PUT", r"/functions/[^/]+/aliases/[^/]+$")


@dataclass
class Function:
    name: str
    repository_uri: str
    first_image: str
    alias: str = "live"

    def image(self, tag: str) -> str:
        return f"{self.repository_uri}:{tag}"


@dataclass
class Result:
    exit_code: int
    outcome: dict[str, str]
    outputs: dict[str, str]
    stderr: str


@pytest.fixture
def lambda_client(aws: dict[str, str]) -> Any:
    return boto3.client("lambda")


@pytest.fixture
def function(aws: dict[str, str], lambda_client: Any) -> Function:
    """An image function whose `live` alias serves version 1, as terraform apply leaves it."""
    suffix = uuid.uuid4().hex[:8]
    role_arn = boto3.client("iam").create_role(RoleName=f"fn-{suffix}", AssumeRolePolicyDocument=TRUST_POLICY)["Role"][
        "Arn"
    ]
    repository_uri = boto3.client("ecr").create_repository(repositoryName=f"lambda-model-{suffix}")["repository"][
        "repositoryUri"
    ]
    name = f"lambda-model-{suffix}"
    first_image = f"{repository_uri}:first"
    lambda_client.create_function(FunctionName=name, Role=role_arn, PackageType="Image", Code={"ImageUri": first_image})
    version = lambda_client.publish_version(FunctionName=name)["Version"]
    lambda_client.create_alias(FunctionName=name, Name="live", FunctionVersion=version)
    return Function(name, repository_uri, first_image)


def run_rollout(
    aws: dict[str, str], tmp_path: Path, *arguments: str, endpoint: str | None = None, cwd: Path | None = None
) -> Result:
    """Run the CLI the way the workflow does: `python -m lambda_release` from the project's virtualenv (in
    `cwd`, the checkout, when given)."""
    github_output = tmp_path / f"github-output-{uuid.uuid4().hex}"
    environment = {
        "PATH": str(Path(sys.executable).parent) + ":/usr/bin:/bin",
        "GITHUB_OUTPUT": str(github_output),
        # One attempt: an injected fault must fail the step, not be retried away.
        "AWS_MAX_ATTEMPTS": "1",
        **aws,
    }
    if endpoint:
        environment["AWS_ENDPOINT_URL"] = endpoint
    completed = subprocess.run(
        [sys.executable, "-m", "lambda_release", *arguments],
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        cwd=cwd,
    )
    lines = completed.stdout.strip().splitlines()
    assert lines, f"no JSON on stdout; stderr:\n{completed.stderr}"
    outputs = {}
    if github_output.exists():
        outputs = dict(line.split("=", 1) for line in github_output.read_text().splitlines())
    return Result(completed.returncode, json.loads(lines[-1]), outputs, completed.stderr)


def alias_version(lambda_client: Any, function: Function) -> str:
    return lambda_client.get_alias(FunctionName=function.name, Name=function.alias)["FunctionVersion"]


def published_versions(lambda_client: Any, function: Function) -> list[str]:
    versions = lambda_client.list_versions_by_function(FunctionName=function.name)["Versions"]
    return sorted(v["Version"] for v in versions if v["Version"] != "$LATEST")


def latest_image(lambda_client: Any, function: Function) -> str:
    return lambda_client.get_function(FunctionName=function.name)["Code"]["ImageUri"]


def resolved_image(lambda_client: Any, function: Function, version: str) -> str:
    return lambda_client.get_function(FunctionName=function.name, Qualifier=version)["Code"]["ResolvedImageUri"]


# ---------------------------------------------------------------------------------------------- happy paths


def test_roll_updates_the_image_publishes_a_version_and_moves_the_alias(
    aws: dict[str, str], tmp_path: Path, lambda_client: Any, function: Function
) -> None:
    version_1_image = resolved_image(lambda_client, function, "1")
    new_image = function.image("abc123")

    result = run_rollout(aws, tmp_path, "roll", "--function", function.name, "--image-uri", new_image)

    assert result.exit_code == 0, result.stderr
    assert result.outcome == {
        "alias": "live",
        "function": function.name,
        "image_uri": new_image,
        "live_version": "2",
        "previous_version": "1",
        "status": "live",
        "version": "2",
    }
    assert result.outputs["version"] == "2"
    assert result.outputs["previous-version"] == "1"
    assert latest_image(lambda_client, function) == new_image
    assert published_versions(lambda_client, function) == ["1", "2"]
    assert alias_version(lambda_client, function) == "2"
    assert resolved_image(lambda_client, function, "2") != version_1_image
    assert resolved_image(lambda_client, function, "1") == version_1_image, "an old version must never change"
    description = lambda_client.get_function_configuration(FunctionName=function.name, Qualifier="2")["Description"]
    assert json.loads(description) == {"image": new_image, "replaces": "1"}


def test_current_reports_the_alias_version_and_what_it_replaced(
    aws: dict[str, str], tmp_path: Path, function: Function
) -> None:
    run_rollout(aws, tmp_path, "roll", "--function", function.name, "--image-uri", function.image("two"))

    result = run_rollout(aws, tmp_path, "current", "--function", function.name)

    assert result.exit_code == 0, result.stderr
    assert result.outcome["version"] == "2"
    assert result.outcome["replaces"] == "1"
    assert result.outputs["version"] == "2"


def test_deploy_verifies_against_the_new_alias_and_keeps_it(
    aws: dict[str, str], tmp_path: Path, lambda_client: Any, function: Function, lambda_endpoint: str
) -> None:
    # The verification proves it runs after the alias moved: it fails unless the alias already serves the
    # version the rollout announces in ROLLOUT_VERSION.
    check_alias = (
        "import boto3, os, sys; "
        "live = boto3.client('lambda').get_alias(FunctionName=os.environ['ROLLOUT_FUNCTION'], Name='live'); "
        "sys.exit(0 if live['FunctionVersion'] == os.environ['ROLLOUT_VERSION'] else 9)"
    )
    new_image = function.image("good")

    result = run_rollout(
        aws, tmp_path, "deploy", "--function", function.name, "--image-uri", new_image, "--all-at-once",
        "--", sys.executable, "-c", check_alias, endpoint=lambda_endpoint,
    )  # fmt: skip

    assert result.exit_code == 0, result.stderr
    assert result.outcome["status"] == "live"
    assert alias_version(lambda_client, function) == "2"
    assert latest_image(lambda_client, function) == new_image


# ----------------------------------------------------------------------------------------- rollback paths


def test_deploy_moves_the_alias_back_when_verification_fails(
    aws: dict[str, str], tmp_path: Path, lambda_client: Any, function: Function, lambda_endpoint: str
) -> None:
    result = run_rollout(
        aws, tmp_path, "deploy", "--function", function.name, "--image-uri", function.image("bad"), "--all-at-once",
        "--", sys.executable, "-c", "raise SystemExit(3)", endpoint=lambda_endpoint,
    )  # fmt: skip

    assert result.exit_code == 1
    assert result.outcome["status"] == "rolled-back"
    assert result.outcome["verification_exit_status"] == "3"
    assert result.outputs["live-version"] == "1"
    assert alias_version(lambda_client, function) == "1"
    # The failed version stays published (for inspection); only the alias decides what is served.
    assert published_versions(lambda_client, function) == ["1", "2"]


def test_deploy_treats_a_verification_command_that_cannot_start_as_a_failure(
    aws: dict[str, str], tmp_path: Path, lambda_client: Any, function: Function, lambda_endpoint: str
) -> None:
    result = run_rollout(
        aws, tmp_path, "deploy", "--function", function.name, "--image-uri", function.image("x"), "--all-at-once",
        "--", str(tmp_path / "no-such-command"), endpoint=lambda_endpoint,
    )  # fmt: skip

    assert result.exit_code == 1
    assert alias_version(lambda_client, function) == "1"


def test_rollback_without_a_version_returns_to_the_one_the_current_replaced(
    aws: dict[str, str], tmp_path: Path, lambda_client: Any, function: Function
) -> None:
    for tag in ("second", "third"):
        run_rollout(aws, tmp_path, "roll", "--function", function.name, "--image-uri", function.image(tag))
    assert alias_version(lambda_client, function) == "3"

    first = run_rollout(aws, tmp_path, "rollback", "--function", function.name)
    assert (first.exit_code, first.outcome["version"], first.outcome["rolled_back_from"]) == (0, "2", "3")
    assert alias_version(lambda_client, function) == "2"

    second = run_rollout(aws, tmp_path, "rollback", "--function", function.name)
    assert (second.exit_code, second.outcome["version"]) == (0, "1")
    assert alias_version(lambda_client, function) == "1"

    # Version 1 was created by terraform, not by a rollout: nothing records an earlier one.
    third = run_rollout(aws, tmp_path, "rollback", "--function", function.name)
    assert third.exit_code == 3
    assert "--to-version" in third.outcome["error"]
    assert alias_version(lambda_client, function) == "1"


def test_rollback_to_an_explicit_version(
    aws: dict[str, str], tmp_path: Path, lambda_client: Any, function: Function
) -> None:
    for tag in ("second", "third"):
        run_rollout(aws, tmp_path, "roll", "--function", function.name, "--image-uri", function.image(tag))

    result = run_rollout(aws, tmp_path, "rollback", "--function", function.name, "--to-version", "1")

    assert result.exit_code == 0, result.stderr
    assert alias_version(lambda_client, function) == "1"


def test_rollback_to_a_missing_version_leaves_the_alias_alone(
    aws: dict[str, str], tmp_path: Path, lambda_client: Any, function: Function
) -> None:
    result = run_rollout(aws, tmp_path, "rollback", "--function", function.name, "--to-version", "42")

    assert result.exit_code == 3
    assert "no version '42'" in result.outcome["error"]
    assert alias_version(lambda_client, function) == "1"


# ------------------------------------------------------------------------------------ failures halfway


INVOKE = ("POST", r"/functions/[^/]+/invocations$")


@dataclass
class Fault:
    """Break the requests matching (method, path) after the first `after` (only `times` of them, when given):
    answer 500, or patch the JSON it returns."""

    method: str
    path_pattern: str
    patch: dict[str, Any] | None = None
    after: int = 0
    error: tuple[int, str] = (500, "ServiceException")
    times: int | None = None
    seen: int = field(default=0, init=False)

    def matches(self, method: str, path: str) -> bool:
        if method != self.method or not re.search(self.path_pattern, path):
            return False
        self.seen += 1
        return self.seen > self.after and (self.times is None or self.seen <= self.after + self.times)


@dataclass
class Recorded:
    """The Lambda requests that passed the proxy: (method, path, JSON body or None)."""

    requests: list[tuple[str, str, Any]] = field(default_factory=list)

    def bodies(self, method: str, path_pattern: str) -> list[Any]:
        return [body for m, path, body in self.requests if m == method and re.search(path_pattern, path)]


@contextlib.contextmanager
def faulty_endpoint(
    upstream: str,
    *faults: Fault,
    invoke: Callable[[dict[str, Any]], dict[str, Any]] | None = None,
    recorded: Recorded | None = None,
) -> Iterator[str]:
    """A proxy to moto that breaks the chosen calls; yields its endpoint URL.

    moto cannot run an image function, so `invoke`, when given, answers Lambda Invoke in its place: it gets
    the event and returns the handler's response (the real handler, run here, or a fake).
    """

    def handle(request: ProxiedRequest, ask_moto: Callable[[], Reply]) -> Reply:
        if recorded is not None:
            recorded.requests.append((request.method, request.path, json.loads(request.body) if request.body else None))
        fault = next((f for f in faults if f.matches(request.method, request.path)), None)
        if fault is None and invoke is not None and request.method == INVOKE[0] and re.search(INVOKE[1], request.path):
            return json_reply(invoke(json.loads(request.body)))
        if fault is not None and fault.patch is None:
            status, error_type = fault.error
            return Reply(status, {"x-amzn-errortype": error_type}, b'{"Message": "injected fault"}')
        reply = ask_moto()
        if fault is not None:
            patched = {**json.loads(reply.payload), **fault.patch}
            reply = Reply(reply.status, reply.headers, json.dumps(patched).encode())
        return reply

    with proxy_to(upstream, handle) as endpoint:
        yield endpoint


def test_a_failed_image_update_leaves_the_alias_and_publishes_nothing(
    aws: dict[str, str], moto_endpoint: str, tmp_path: Path, lambda_client: Any, function: Function
) -> None:
    failed = {"LastUpdateStatus": "Failed", "LastUpdateStatusReason": "ImageNotFound"}
    with faulty_endpoint(moto_endpoint, Fault(*GET_CONFIGURATION, patch=failed)) as endpoint:
        result = run_rollout(
            aws, tmp_path, "deploy", "--function", function.name, "--image-uri", function.image("missing"),
            "--all-at-once", "--poll-interval", "0.05", "--", sys.executable, "-c", "pass",
            endpoint=endpoint,
        )  # fmt: skip

    assert result.exit_code == 3
    assert result.outcome["status"] == "failed"
    assert "ImageNotFound" in result.outcome["error"]
    assert alias_version(lambda_client, function) == "1"
    assert published_versions(lambda_client, function) == ["1"]


def test_a_failed_publish_leaves_the_alias_on_the_previous_version(
    aws: dict[str, str], moto_endpoint: str, tmp_path: Path, lambda_client: Any, function: Function
) -> None:
    with faulty_endpoint(moto_endpoint, Fault(*PUBLISH_VERSION)) as endpoint:
        result = run_rollout(
            aws, tmp_path, "roll", "--function", function.name, "--image-uri", function.image("next"),
            "--poll-interval", "0.05", endpoint=endpoint,
        )  # fmt: skip

    assert result.exit_code == 3
    assert "injected fault" in result.outcome["error"]
    assert result.outputs["status"] == "failed"
    assert alias_version(lambda_client, function) == "1"
    assert latest_image(lambda_client, function) == function.image("next"), "the update itself went through"


def test_a_failed_rollback_is_reported_with_its_own_exit_code(
    aws: dict[str, str], moto_endpoint: str, tmp_path: Path, lambda_client: Any, function: Function, serving: Any
) -> None:
    # The first UpdateAlias (the roll) passes; the second (the rollback) breaks.
    with faulty_endpoint(moto_endpoint, Fault(*UPDATE_ALIAS, after=1), invoke=serving.handler) as endpoint:
        result = run_rollout(
            aws, tmp_path, "deploy", "--function", function.name, "--image-uri", function.image("bad"),
            "--all-at-once", "--poll-interval", "0.05", "--", sys.executable, "-c", "raise SystemExit(1)",
            endpoint=endpoint,
        )  # fmt: skip

    assert result.exit_code == 4
    assert result.outcome["status"] == "rollback-failed"
    assert alias_version(lambda_client, function) == "2", "the alias is stuck on the new version: exit 4 says so"


def test_an_aws_failure_after_the_alias_moved_moves_it_back_and_says_so(
    aws: dict[str, str], moto_endpoint: str, tmp_path: Path, lambda_client: Any, function: Function, serving: Any
) -> None:
    # The move to 100% fails once; the move back passes.
    with faulty_endpoint(moto_endpoint, Fault(*UPDATE_ALIAS, times=1), invoke=serving.handler) as endpoint:
        result = run_rollout(
            aws, tmp_path, "deploy", "--function", function.name, "--image-uri", function.image("next"),
            "--all-at-once", "--poll-interval", "0.05", endpoint=endpoint,
        )  # fmt: skip

    assert result.exit_code == 3
    assert result.outcome["error"].endswith("(the alias was moved back to version 1)")
    assert alias_version(lambda_client, function) == "1"
    assert "alias not moved" not in result.stderr, "the log must not contradict the message"


def test_wait_gives_up_after_its_timeout(
    aws: dict[str, str], moto_endpoint: str, tmp_path: Path, function: Function
) -> None:
    recorded = Recorded()
    slow = Fault(*GET_CONFIGURATION, patch={"LastUpdateStatus": "InProgress"})
    with faulty_endpoint(moto_endpoint, slow, recorded=recorded) as url:
        result = run_rollout(
            aws, tmp_path, "wait", "--function", function.name, "--timeout", "0.3", "--poll-interval", "0.05",
            endpoint=url,
        )  # fmt: skip

    assert result.exit_code == 3
    assert (
        result.outcome["error"]
        == f"{function.name}:$LATEST not ready after 0.3s (State=Active, LastUpdateStatus=InProgress)"
    )
    # Within the bound: one read of the State, then one a poll interval for 0.3 s (the first one at once).
    polls = len(recorded.bodies(*GET_CONFIGURATION))
    assert 3 <= polls <= 1 + (1 + 6), f"{polls} reads for a 0.3 s timeout polled every 0.05 s"


def test_wait_reports_a_failed_update_in_one_line_with_lambdas_reason(
    aws: dict[str, str], moto_endpoint: str, tmp_path: Path, function: Function
) -> None:
    reason = "The image manifest or layer media type\nis not supported."
    failed = {
        "LastUpdateStatus": "Failed",
        "LastUpdateStatusReason": reason,
        "LastUpdateStatusReasonCode": "ImageAccessDenied",
    }
    with faulty_endpoint(moto_endpoint, Fault(*GET_CONFIGURATION, patch=failed)) as url:
        result = run_rollout(
            aws, tmp_path, "wait", "--function", function.name, "--poll-interval", "0.05", endpoint=url
        )

    assert result.exit_code == 3
    assert result.outcome["error"] == (
        f"{function.name}:$LATEST failed (State=Active, LastUpdateStatus=Failed): "
        "The image manifest or layer media type is not supported."
    )


@pytest.mark.parametrize("value", ["0", "-1", "nan", "inf", "soon"])
def test_wait_refuses_a_poll_interval_or_timeout_that_is_not_a_positive_duration(
    aws: dict[str, str], tmp_path: Path, function: Function, value: str
) -> None:
    for option in ("--timeout", "--poll-interval"):
        completed = subprocess.run(
            [sys.executable, "-m", "lambda_release", "wait", "--function", function.name, option, value],
            capture_output=True, text=True, timeout=60, check=False,
        )  # fmt: skip
        assert completed.returncode == 2, completed.stderr
        assert f"argument {option}" in completed.stderr.splitlines()[-1]
        assert "Traceback" not in completed.stderr


def test_wait_returns_once_the_function_is_ready(aws: dict[str, str], tmp_path: Path, function: Function) -> None:
    result = run_rollout(aws, tmp_path, "wait", "--function", function.name, "--qualifier", "1")

    assert result.exit_code == 0, result.stderr
    assert result.outcome["state"] == "Active"


# ------------------------------------------------------------------------------------------ clear errors


def test_a_missing_alias_is_a_clear_error(
    aws: dict[str, str], tmp_path: Path, lambda_client: Any, function: Function
) -> None:
    result = run_rollout(
        aws,
        tmp_path,
        "roll",
        "--function",
        function.name,
        "--alias",
        "staging",
        "--image-uri",
        function.image("y"),
    )

    assert result.exit_code == 3
    assert "alias 'staging'" in result.outcome["error"]
    assert latest_image(lambda_client, function) == function.first_image, "nothing may change before the check"


def test_a_canary_without_alarms_to_watch_is_a_usage_error(aws: dict[str, str], function: Function) -> None:
    completed = subprocess.run(
        [sys.executable, "-m", "lambda_release", "deploy", "--function", function.name, "--image-uri", "x"],
        env=aws,
        capture_output=True,
        text=True,
        check=False,
    )

    assert completed.returncode == 2
    assert "--alarm" in completed.stderr


@pytest.mark.parametrize("share", ["0", "1", "1.5"])
def test_a_canary_share_must_be_strictly_between_0_and_1(aws: dict[str, str], function: Function, share: str) -> None:
    completed = subprocess.run(
        [
            sys.executable, "-m", "lambda_release", "deploy", "--function", function.name, "--image-uri", "x",
            "--alarm", "a", "--canary-share", share,
        ],
        env=aws,
        capture_output=True,
        text=True,
        check=False,
    )  # fmt: skip

    assert completed.returncode == 2
    assert "--all-at-once" in completed.stderr


# ------------------------------------------------------------------------------ pre-traffic check and canary


@pytest.fixture
def lambda_endpoint(moto_endpoint: str, serving: Any) -> Iterator[str]:
    """moto, with Lambda Invoke answered by the real handler serving the test model."""
    with faulty_endpoint(moto_endpoint, invoke=serving.handler) as endpoint:
        yield endpoint


@dataclass
class Alarms:
    """Alarms shaped like Terraform's canary alarms, OK to start with: two per-version Metrics Insights queries
    (the worst version behind the alias, grouped by ExecutedVersion) and one alias-wide metric alarm."""

    client: Any
    prefix: str
    names: list[str]

    def fire(self, name: str) -> None:
        self.client.set_alarm_state(AlarmName=name, StateValue="ALARM", StateReason="test: the canary errs")


def per_version_query(metric: str, function: str, where: str | None = None) -> list[dict[str, Any]]:
    """terraform/alarms.tf's query for `metric` (its per_executed_version tail)."""
    pinned = f"FunctionName = '{function}' AND Resource = '{function}:live'" if where is None else where
    expression = (
        f'SELECT SUM({metric}) FROM SCHEMA("AWS/Lambda", ExecutedVersion, FunctionName, Resource) '  # noqa: S608
        f"{f'WHERE {pinned} ' if pinned else ''}GROUP BY ExecutedVersion ORDER BY SUM() DESC LIMIT 1"
    )  # a CloudWatch Metrics Insights query of the test's own names, not SQL
    return [{"Id": "worst_version", "Expression": expression, "Period": 60, "ReturnData": True}]


@pytest.fixture
def alarms(aws: dict[str, str], function: Function) -> Alarms:
    cloudwatch = boto3.client("cloudwatch")
    prefix = f"lambda-model-{uuid.uuid4().hex[:8]}-canary-"
    per_version = {f"{prefix}errors": "Errors", f"{prefix}duration": "Duration"}
    threshold = {"EvaluationPeriods": 1, "Threshold": 1, "ComparisonOperator": "GreaterThanOrEqualToThreshold"}
    for name, metric in per_version.items():
        cloudwatch.put_metric_alarm(AlarmName=name, Metrics=per_version_query(metric, function.name), **threshold)
    cloudwatch.put_metric_alarm(
        AlarmName=f"{prefix}throttles", Namespace="AWS/Lambda", MetricName="Throttles", Statistic="Sum", Period=60,
        **threshold,
    )  # fmt: skip
    names = [*per_version, f"{prefix}throttles"]
    for name in names:
        cloudwatch.set_alarm_state(AlarmName=name, StateValue="OK", StateReason="test: quiet")
    return Alarms(cloudwatch, prefix, names)


# Synthetic traffic for a 3-second canary at 20%: the stand-in API answers some 10 requests a second, so the
# new version expects 6 invocations a window, and misses 2 in both windows about once in 10^5 runs.
TRAFFIC = ("--canary-requests-per-second", "50", "--min-canary-invocations", "2")


def canary_arguments(function: Function, alarms: Alarms, minutes: str, *extra: str) -> list[str]:
    return [
        "deploy", "--function", function.name, "--image-uri", function.image("canary"),
        "--alarm-prefix", alarms.prefix, "--canary-share", "0.2", "--canary-minutes", minutes,
        "--alarm-poll-interval", "0.05", "--poll-interval", "0.05", *extra,
    ]  # fmt: skip


@pytest.fixture
def canary_api(aws: dict[str, str], lambda_client: Any, function: Function, serving: Any) -> CanaryApi:
    return CanaryApi(lambda_client, boto3.client("cloudwatch"), function.name, serving.handler)


def start_rollout(
    aws: dict[str, str], endpoint: str, arguments: list[str], extra_env: dict[str, str] | None = None
) -> subprocess.Popen[str]:
    environment = {
        "PATH": str(Path(sys.executable).parent) + ":/usr/bin:/bin",
        "AWS_MAX_ATTEMPTS": "1",
        **aws,
        "AWS_ENDPOINT_URL": endpoint,
        **(extra_env or {}),
    }
    return subprocess.Popen(
        [sys.executable, "-m", "lambda_release", *arguments],
        env=environment,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def wait_for_canary(lambda_client: Any, function: Function, process: subprocess.Popen[str]) -> dict[str, Any]:
    """Block until the alias routes a weighted share (the canary started); return the alias."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        alias = lambda_client.get_alias(FunctionName=function.name, Name=function.alias)
        if (alias.get("RoutingConfig") or {}).get("AdditionalVersionWeights"):
            return alias
        assert process.poll() is None, process.communicate()
        time.sleep(0.05)
    raise AssertionError("the canary never started")


def finish(process: subprocess.Popen[str]) -> tuple[int, dict[str, str], str]:
    stdout, stderr = process.communicate(timeout=60)
    return process.returncode, json.loads(stdout.strip().splitlines()[-1]), stderr


def routing(lambda_client: Any, function: Function) -> tuple[str, dict[str, float]]:
    alias = lambda_client.get_alias(FunctionName=function.name, Name=function.alias)
    return alias["FunctionVersion"], (alias.get("RoutingConfig") or {}).get("AdditionalVersionWeights") or {}


def test_a_canary_the_new_version_served_enough_reaches_all_the_traffic(
    aws: dict[str, str], lambda_client: Any, function: Function, alarms: Alarms, lambda_endpoint: str,
    canary_api: CanaryApi,
) -> None:  # fmt: skip
    with serving_api(canary_api) as url:
        arguments = canary_arguments(function, alarms, "0.05", "--endpoint-url", url, *TRAFFIC)
        process = start_rollout(aws, lambda_endpoint, arguments)
        canary = wait_for_canary(lambda_client, function, process)
        exit_code, outcome, stderr = finish(process)

    assert canary["FunctionVersion"] == "1"
    assert canary["RoutingConfig"]["AdditionalVersionWeights"] == {"2": 0.2}
    assert exit_code == 0, stderr
    assert outcome["status"] == "live"
    assert outcome["canary_share"] == "20%"
    assert set(outcome["alarms_watched"].split(",")) == set(alarms.names)
    assert routing(lambda_client, function) == ("2", {})
    # The synthetic traffic went through the API, and the alias sent the new version its share of it.
    # At most what the API ran: a request in flight when the canary read its metrics is answered after.
    assert 2 <= int(outcome["canary_invocations"]) <= canary_api.executed.count("2")
    assert "1" in canary_api.executed
    assert outcome["synthetic_traffic"].endswith(f"{len(canary_api.executed)} as expected")
    assert "invocations of version 2" in outcome["outcome"]


def test_a_canary_no_request_of_which_reaches_the_new_version_is_extended_then_rolled_back(
    aws: dict[str, str], tmp_path: Path, lambda_client: Any, function: Function, alarms: Alarms,
    lambda_endpoint: str, canary_api: CanaryApi,
) -> None:  # fmt: skip
    # Every alarm stays quiet (no data is OK to them) and the API answers, but only ever from version 1.
    canary_api.pinned_version = "1"
    verified = tmp_path / "verified"
    with serving_api(canary_api) as url:
        arguments = canary_arguments(
            function, alarms, "0.01", "--endpoint-url", url, *TRAFFIC,
            "--", sys.executable, "-c", f"open({str(verified)!r}, 'w')",
        )  # fmt: skip
        exit_code, outcome, stderr = finish(start_rollout(aws, lambda_endpoint, arguments))

    assert exit_code == 1, stderr
    assert outcome["status"] == "rolled-back"
    assert outcome["outcome"].startswith("canary inconclusive after 2 x 0.01 min: version 2 served 0 invocations")
    assert f"no data for it in {alarms.prefix}errors, {alarms.prefix}duration" in outcome["outcome"]
    assert "extending it by 0.6s (1 of 1)" in stderr
    assert canary_api.executed, "the synthetic traffic was sent"
    assert set(canary_api.executed) == {"1"}
    assert routing(lambda_client, function) == ("1", {})
    assert not verified.exists(), "the live tests never run against a version that did not earn the traffic"


def test_a_canary_without_synthetic_traffic_or_users_is_inconclusive(
    aws: dict[str, str], lambda_client: Any, function: Function, alarms: Alarms, lambda_endpoint: str
) -> None:
    arguments = canary_arguments(function, alarms, "0.01", "--canary-extensions", "0")
    exit_code, outcome, stderr = finish(start_rollout(aws, lambda_endpoint, arguments))

    assert exit_code == 1, stderr
    assert outcome["outcome"].startswith("canary inconclusive after 1 x 0.01 min: version 2 served 0 invocations")
    assert "no --endpoint-url" in stderr
    assert "extending" not in stderr
    assert routing(lambda_client, function) == ("1", {})


def test_a_per_version_alarm_without_data_for_the_new_version_makes_the_canary_inconclusive(
    aws: dict[str, str], lambda_client: Any, function: Function, alarms: Alarms, lambda_endpoint: str,
    canary_api: CanaryApi,
) -> None:  # fmt: skip
    canary_api.metrics = ("Invocations", "Errors")  # no Duration: canary-duration has nothing to judge
    with serving_api(canary_api) as url:
        arguments = canary_arguments(function, alarms, "0.05", "--endpoint-url", url, *TRAFFIC)
        exit_code, outcome, stderr = finish(start_rollout(aws, lambda_endpoint, arguments))

    assert exit_code == 1, stderr
    assert outcome["outcome"].startswith("canary inconclusive")
    assert f"no data for it in {alarms.prefix}duration;" in outcome["outcome"]
    assert f"{alarms.prefix}errors" not in outcome["outcome"]
    assert routing(lambda_client, function) == ("1", {})


def test_the_synthetic_traffic_sends_the_api_key_when_the_stack_has_one(
    aws: dict[str, str], lambda_client: Any, function: Function, alarms: Alarms, lambda_endpoint: str,
    canary_api: CanaryApi,
) -> None:  # fmt: skip
    canary_api.api_key = "k-" + uuid.uuid4().hex
    with serving_api(canary_api) as url:
        arguments = canary_arguments(function, alarms, "0.05", "--endpoint-url", url, *TRAFFIC)
        exit_code, outcome, stderr = finish(
            start_rollout(aws, lambda_endpoint, arguments, {"API_KEY": canary_api.api_key})
        )

    assert exit_code == 0, stderr
    assert canary_api.headers
    assert all(headers.get("x-api-key") == canary_api.api_key for headers in canary_api.headers)
    assert canary_api.api_key not in stderr + json.dumps(outcome), "the key is never printed"


def test_synthetic_traffic_the_api_refuses_leaves_the_canary_inconclusive(
    aws: dict[str, str], lambda_client: Any, function: Function, alarms: Alarms, lambda_endpoint: str,
    canary_api: CanaryApi,
) -> None:  # fmt: skip
    canary_api.api_key = "k-" + uuid.uuid4().hex  # the API requires a key the release was not given
    with serving_api(canary_api) as url:
        arguments = canary_arguments(function, alarms, "0.01", "--endpoint-url", url, *TRAFFIC)
        exit_code, outcome, stderr = finish(start_rollout(aws, lambda_endpoint, arguments))

    assert exit_code == 1, stderr
    assert "served 0 invocations" in outcome["outcome"]
    assert re.search(r"synthetic traffic: \d+ requests, 0 as expected; 403 x\d+$", outcome["outcome"])
    assert routing(lambda_client, function) == ("1", {})


def test_a_per_version_alarm_the_canary_cannot_narrow_is_an_error_before_anything_changes(
    aws: dict[str, str], tmp_path: Path, lambda_client: Any, function: Function, alarms: Alarms, lambda_endpoint: str
) -> None:
    # Without the WHERE, the query's series are every function's versions: "version 2" is not one of them.
    alarms.client.put_metric_alarm(
        AlarmName=f"{alarms.prefix}unpinned", Metrics=per_version_query("Errors", function.name, where=""),
        EvaluationPeriods=1, Threshold=1, ComparisonOperator="GreaterThanOrEqualToThreshold",
    )  # fmt: skip

    result = run_rollout(aws, tmp_path, *canary_arguments(function, alarms, "0.01"), endpoint=lambda_endpoint)

    assert result.exit_code == 3, result.stderr
    assert f"alarm {alarms.prefix}unpinned reads versions" in result.outcome["error"]
    assert published_versions(lambda_client, function) == ["1"]


def test_the_pre_traffic_check_stops_a_release_that_breaks_the_root_route(
    aws: dict[str, str], moto_endpoint: str, tmp_path: Path, lambda_client: Any, function: Function,
    alarms: Alarms, serving: Any,
) -> None:  # fmt: skip
    # The rehearsal's "failing release": POST / (the seed's route) raises; /predict and /health answer.
    def broken_root(event: dict[str, Any]) -> dict[str, Any]:
        if event["path"] == "/":
            raise RuntimeError("a merge that broke the stage root")
        return serving.handler(event)

    def invoke(event: dict[str, Any]) -> dict[str, Any]:
        try:
            return broken_root(event)
        except RuntimeError:
            return {"statusCode": 502, "headers": {}, "body": json.dumps({"message": "Internal server error"})}

    recorded = Recorded()
    with faulty_endpoint(moto_endpoint, invoke=invoke, recorded=recorded) as endpoint:
        result = run_rollout(aws, tmp_path, *canary_arguments(function, alarms, "0.01"), endpoint=endpoint)

    assert result.exit_code == 1, result.stderr
    assert result.outcome["status"] == "rejected"
    assert result.outcome["outcome"].startswith("pre-traffic check failed: POST / answered 502")
    assert recorded.bodies(*UPDATE_ALIAS) == [], "no traffic moved"
    assert routing(lambda_client, function) == ("1", {})


def test_an_alarm_during_the_canary_rolls_back(
    aws: dict[str, str], lambda_client: Any, function: Function, alarms: Alarms, lambda_endpoint: str
) -> None:
    process = start_rollout(aws, lambda_endpoint, canary_arguments(function, alarms, "5"))
    wait_for_canary(lambda_client, function, process)

    alarms.fire(alarms.names[1])
    exit_code, outcome, stderr = finish(process)

    assert exit_code == 1, stderr
    assert outcome["status"] == "rolled-back"
    assert alarms.names[1] in outcome["outcome"]
    assert routing(lambda_client, function) == ("1", {})


def test_sigterm_during_the_canary_rolls_back(
    aws: dict[str, str], lambda_client: Any, function: Function, alarms: Alarms, lambda_endpoint: str
) -> None:
    process = start_rollout(aws, lambda_endpoint, canary_arguments(function, alarms, "5"))
    wait_for_canary(lambda_client, function, process)

    process.send_signal(signal.SIGTERM)
    exit_code, outcome, stderr = finish(process)

    assert exit_code == 5, stderr
    assert outcome["status"] == "cancelled"
    assert "SIGTERM" in outcome["outcome"]
    assert routing(lambda_client, function) == ("1", {})


def test_sigint_during_post_traffic_verification_rolls_back(
    aws: dict[str, str], lambda_client: Any, function: Function, alarms: Alarms, lambda_endpoint: str
) -> None:
    arguments = canary_arguments(
        function, alarms, "0", "--all-at-once", "--", sys.executable, "-c", "import time; time.sleep(60)"
    )
    process = start_rollout(aws, lambda_endpoint, arguments)
    deadline = time.monotonic() + 30
    while routing(lambda_client, function)[0] != "2":
        assert time.monotonic() < deadline, "the alias never moved"
        assert process.poll() is None, process.communicate()
        time.sleep(0.05)

    process.send_signal(signal.SIGINT)
    exit_code, outcome, stderr = finish(process)

    assert exit_code == 5, stderr
    assert outcome["status"] == "cancelled"
    assert routing(lambda_client, function) == ("1", {})


def test_a_failing_pre_traffic_check_never_changes_the_alias(
    aws: dict[str, str], moto_endpoint: str, tmp_path: Path, lambda_client: Any, function: Function, alarms: Alarms
) -> None:
    def broken_model(event: dict[str, Any]) -> dict[str, Any]:
        return {"statusCode": 503, "headers": {}, "body": json.dumps({"error": {"code": "model_unavailable"}})}

    recorded = Recorded()
    with faulty_endpoint(moto_endpoint, invoke=broken_model, recorded=recorded) as endpoint:
        result = run_rollout(aws, tmp_path, *canary_arguments(function, alarms, "0.01"), endpoint=endpoint)

    assert result.exit_code == 1, result.stderr
    assert result.outcome["status"] == "rejected"
    assert "GET /health answered 503" in result.outcome["outcome"]
    assert recorded.bodies(*UPDATE_ALIAS) == [], "the alias must not be touched, not even rewritten"
    assert routing(lambda_client, function) == ("1", {})
    assert result.outputs["version"] == "2", "the cleanup step learns the version before the alias could move"


def test_the_pre_traffic_check_invokes_the_new_version_not_the_alias(
    aws: dict[str, str], moto_endpoint: str, tmp_path: Path, function: Function, alarms: Alarms, serving: Any
) -> None:
    recorded = Recorded()
    with faulty_endpoint(moto_endpoint, invoke=serving.handler, recorded=recorded) as endpoint:
        arguments = canary_arguments(function, alarms, "0", "--all-at-once")
        result = run_rollout(aws, tmp_path, *arguments, endpoint=endpoint)

    assert result.exit_code == 0, result.stderr
    invoked = [path for method, path, _ in recorded.requests if method == "POST" and path.endswith("/invocations")]
    assert invoked
    assert all(path.endswith(f"/functions/{function.name}/invocations") for path in invoked)
    # The health route once (the probes are built from it), then every other probe of every route.
    assert len(invoked) == len(rollout.pre_traffic_check(serving.handler)[1])


def test_update_alias_sends_the_revision_id_it_read(
    aws: dict[str, str], moto_endpoint: str, tmp_path: Path, lambda_client: Any, function: Function,
    alarms: Alarms, serving: Any,
) -> None:  # fmt: skip
    revision = lambda_client.get_alias(FunctionName=function.name, Name=function.alias)["RevisionId"]
    recorded = Recorded()
    api = CanaryApi(lambda_client, boto3.client("cloudwatch"), function.name, serving.handler)
    with (
        faulty_endpoint(moto_endpoint, invoke=serving.handler, recorded=recorded) as endpoint,
        serving_api(api) as url,
    ):
        arguments = canary_arguments(function, alarms, "0.05", "--endpoint-url", url, *TRAFFIC)
        result = run_rollout(aws, tmp_path, *arguments, endpoint=endpoint)

    assert result.exit_code == 0, result.stderr
    updates = recorded.bodies(*UPDATE_ALIAS)
    assert len(updates) == 2  # the canary, then all of the traffic
    assert updates[0]["RevisionId"] == revision
    assert all(update.get("RevisionId") for update in updates)


def test_an_alias_changed_by_someone_else_stops_the_release_and_is_not_overwritten(
    aws: dict[str, str], moto_endpoint: str, tmp_path: Path, lambda_client: Any, function: Function,
    alarms: Alarms, serving: Any,
) -> None:  # fmt: skip
    # moto ignores RevisionId; real Lambda answers a stale one with 412 PreconditionFailedException.
    stale = Fault(*UPDATE_ALIAS, error=(412, "PreconditionFailedException"))
    recorded = Recorded()
    with faulty_endpoint(moto_endpoint, stale, invoke=serving.handler, recorded=recorded) as endpoint:
        result = run_rollout(aws, tmp_path, *canary_arguments(function, alarms, "0.01"), endpoint=endpoint)

    assert result.exit_code == 3, result.stderr
    assert "changed by someone else" in result.outcome["error"]
    assert len(recorded.bodies(*UPDATE_ALIAS)) == 1, "no second write over the other change"
    assert "alias not moved" not in result.stderr, "it is left as the other party set it, not untouched"
    assert routing(lambda_client, function) == ("1", {})


def test_a_release_does_not_start_while_an_alarm_fires(
    aws: dict[str, str], tmp_path: Path, lambda_client: Any, function: Function, alarms: Alarms, lambda_endpoint: str
) -> None:
    alarms.fire(alarms.names[0])

    result = run_rollout(aws, tmp_path, *canary_arguments(function, alarms, "0.01"), endpoint=lambda_endpoint)

    assert result.exit_code == 3
    assert "already firing" in result.outcome["error"]
    assert published_versions(lambda_client, function) == ["1"]


def test_a_missing_alarm_name_is_an_error_before_anything_changes(
    aws: dict[str, str], tmp_path: Path, lambda_client: Any, function: Function, lambda_endpoint: str
) -> None:
    result = run_rollout(
        aws, tmp_path, "deploy", "--function", function.name, "--image-uri", function.image("z"),
        "--alarm", "no-such-alarm", endpoint=lambda_endpoint,
    )  # fmt: skip

    assert result.exit_code == 3
    assert "no-such-alarm" in result.outcome["error"]
    assert latest_image(lambda_client, function) == function.first_image


def test_the_cleanup_rollback_ends_a_canary_left_behind(
    aws: dict[str, str], tmp_path: Path, lambda_client: Any, function: Function
) -> None:
    # What a SIGKILLed release leaves: version 2 published and weighted in, version 1 primary.
    lambda_client.update_function_code(FunctionName=function.name, ImageUri=function.image("killed"))
    lambda_client.publish_version(FunctionName=function.name)
    lambda_client.update_alias(
        FunctionName=function.name, Name=function.alias, RoutingConfig={"AdditionalVersionWeights": {"2": 0.1}}
    )

    result = run_rollout(aws, tmp_path, "rollback", "--function", function.name, "--from-version", "2")
    again = run_rollout(aws, tmp_path, "rollback", "--function", function.name, "--from-version", "2")

    assert result.exit_code == 0, result.stderr
    assert routing(lambda_client, function) == ("1", {})
    assert (again.exit_code, again.outcome["rolled_back_from"]) == (0, ""), "nothing left to undo"


# -------------------------------------------------------------- the pre-traffic check in-process, no AWS


def test_the_pre_traffic_check_passes_the_real_handler(serving: Any) -> None:
    assert rollout.pre_traffic_check(serving.handler)[0] == serving.model.get().version


def test_the_pre_traffic_check_calls_every_route_of_the_route_table(serving: Any) -> None:
    sent: list[tuple[str, str]] = []

    def recording(event: dict[str, Any]) -> dict[str, Any]:
        sent.append((event["httpMethod"], event["path"]))
        return serving.handler(event)

    rollout.pre_traffic_check(recording)

    assert set(sent) == {(method, path) for path, methods in ROUTES.items() for method in methods}


def test_the_pre_traffic_check_fails_on_a_broken_root_route(serving: Any) -> None:
    # The rehearsal's "failing release": POST / raises, /predict and /health still answer.
    def broken_root(event: dict[str, Any]) -> dict[str, Any]:
        if event["path"] == "/":
            return {"statusCode": 502, "headers": {}, "body": json.dumps({"message": "Internal server error"})}
        return serving.handler(event)

    with pytest.raises(rollout.PreTrafficFailure, match="POST / answered 502"):
        rollout.pre_traffic_check(broken_root)


def test_a_version_that_raises_on_a_route_is_named_with_that_route(serving: Any) -> None:
    def raising_root(event: dict[str, Any]) -> dict[str, Any]:
        if event["path"] == "/":
            raise rollout.PreTrafficFailure("version 3 raised: RuntimeError")
        return serving.handler(event)

    with pytest.raises(rollout.PreTrafficFailure, match=r"^POST /: version 3 raised: RuntimeError$"):
        rollout.pre_traffic_check(raising_root)


def test_a_route_without_probes_is_refused_not_skipped(serving: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    def unprobed(request: Any, model: Any) -> Any:
        raise AssertionError("never called: the check refuses before it")

    monkeypatch.setitem(ROUTES, "/explain", {"POST": unprobed})

    with pytest.raises(rollout.PreTrafficFailure, match="POST /explain is served by unprobed, which has no probes"):
        rollout.pre_traffic_check(serving.handler)


def test_the_pre_traffic_check_builds_its_requests_from_the_served_signature(cancer_serving: Any) -> None:
    sent: list[dict[str, Any]] = []

    def recording(event: dict[str, Any]) -> dict[str, Any]:
        sent.append(event)
        return cancer_serving.handler(event)

    assert rollout.pre_traffic_check(recording)[0] == cancer_serving.model.get().version
    single = json.loads(sent[1]["body"])
    assert single == cancer_serving.model.get().signature.example_record()
    assert "worst_fractal_dimension" not in json.loads(sent[3]["body"])


@pytest.mark.parametrize(
    ("breakage", "message"),
    [
        (lambda event, answer: {**answer, "statusCode": 502}, "GET /health answered 502"),
        (
            lambda event, answer: (
                {**answer, "body": json.dumps({"prediction": {"label": "rose", "probability": 0.9}})}
                if event["path"] == "/predict" and event["httpMethod"] == "POST"
                else answer
            ),
            "not one of the model's classes",
        ),
        (
            lambda event, answer: (
                {**answer, "statusCode": 200} if "petal_width" not in (event.get("body") or "petal_width") else answer
            ),
            "answered 200, expected 400",
        ),
    ],
    ids=["health-fails", "unknown-label", "accepts-a-missing-feature"],
)
def test_the_pre_traffic_check_rejects_a_version_that_breaks_the_contract(
    serving: Any, breakage: Callable[[dict[str, Any], dict[str, Any]], dict[str, Any]], message: str
) -> None:
    def broken(event: dict[str, Any]) -> dict[str, Any]:
        return breakage(event, serving.handler(event))

    with pytest.raises(rollout.PreTrafficFailure, match=message):
        rollout.pre_traffic_check(broken)
