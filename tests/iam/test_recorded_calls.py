"""Every AWS call of both stages' terraform runs and releases, retraining, the gate, promotion, rollback, serving
and the monitor, recorded by moto and evaluated against the role that makes it in the workflows: each stage's
plan role plans (pull requests: staging only; drift), its deploy role applies, destroys, rolls out and rolls back
against its own state key; staging's pushes the image and marks it `-staged`, production's only reads the image
and promotes the model; the train role trains and gates, each stage's function serves, the monitor role reads
the served model's metrics. And the other direction: the staging roles' recorded attempts on production's alias,
REST API and state, and the production role's on the image repository, are denied.

moto enforces no IAM; its recorder gives the exact requests, botocore's model and the Service Authorization
Reference turn them into IAM requests (API Gateway's with the tags the recorded resources carry), and the
evaluator decides them under the rendered policy. Every grant is used by a recorded call, or carries its reason
next to it in the bootstrap's source.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from iam_check.apigateway_tags import ResourceTags
from iam_check.evaluator import Decision, Request
from iam_check.reasons import read_reasons
from iam_check.recording import RecordedCall, Recorder
from iam_check.rendered import BootstrapPolicies
from iam_check.report import AttemptReport, RoleReport, attempts_table, check_attempts, check_role, stale_reasons, table
from iam_check.service_calls import Observed, iam_requests
from rehearsal import servers as processes
from rehearsal.emf_metrics import EmfMetrics, is_get_metric_data
from rehearsal.proxy import ProxiedRequest, Reply, json_reply, proxy_to
from tests.iam.conftest import (
    ACCOUNT,
    MODEL_BUCKET_NAME,
    PRODUCTION,
    REGION,
    REPOSITORY,
    STAGES,
    STAGING,
    STATE_BUCKET,
    Stage,
)
from tests.iam.stack_run import (
    REPOSITORY_URL,
    StackCalls,
    create_registry,
    record_stack,
    stack_api_id,
)
from tests.support import servers
from tests.terraform.conftest import TERRAFORM_DIR, Terraform
from tests.terraform.test_moto_apply import client, push_fake_image

# Why a grant no recorded call uses is there anyway: a `# unused offline:` comment next to it in the source.
IAM_SOURCES = sorted((TERRAFORM_DIR / "bootstrap").glob("*.tf"))
ALIAS = "live"
STORE = f"s3://{MODEL_BUCKET_NAME}/models"


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


def staging_attempts_on(endpoint: str, recorder: Recorder, production: Stage) -> list[RecordedCall]:
    """The staging roles reaching for production while it is deployed: move its alias, change its REST API,
    read and overwrite its state. Each call changes nothing (the same version, description and state bytes),
    so the destroy after it finds the stack as the apply left it; moto, enforcing no IAM, lets each through."""
    s3, functions, apis = (client(endpoint, name) for name in ("s3", "lambda", "apigateway"))
    state = s3.get_object(Bucket=STATE_BUCKET, Key=production.state_key)["Body"].read()
    version = functions.get_alias(FunctionName=production.stack, Name=ALIAS)["FunctionVersion"]
    api_id = stack_api_id(endpoint, production)
    description = apis.get_rest_api(restApiId=api_id)["description"]
    recorder.start()
    functions.update_alias(FunctionName=production.stack, Name=ALIAS, FunctionVersion=version)
    apis.update_rest_api(
        restApiId=api_id, patchOperations=[{"op": "replace", "path": "/description", "value": description}]
    )
    s3.get_object(Bucket=STATE_BUCKET, Key=production.state_key)
    s3.put_object(Bucket=STATE_BUCKET, Key=production.state_key, Body=state)
    return recorder.stop()


@pytest.fixture(scope="module")
def stack_calls(
    terraform: Terraform, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, Future[StackCalls]]]:
    """Both stages' terraform runs, in the background, each on a recording server of its own: they spend most
    of their time in the provider's waits, long enough for every other scenario to run meanwhile on
    `recording_moto`. Production's server also records the staging roles' attempts on it."""
    # The pool's exit waits for the runs, then the servers stop: no terraform is left talking to nothing.
    # As the rehearsal runs it: the model bucket's TLS-only policy must not deny the plain-HTTP calls to moto.
    with contextlib.ExitStack() as running, ThreadPoolExecutor(max_workers=len(STAGES)) as pool:
        futures = {}
        for stage in STAGES:
            directory = tmp_path_factory.mktemp(f"stack-{stage.key}")
            endpoint = running.enter_context(recording_server(directory, processes.MOTO_OVER_HTTPS))
            attempts = staging_attempts_on if stage == PRODUCTION else None
            futures[stage.key] = pool.submit(
                record_stack, terraform, endpoint, Recorder(endpoint), directory, stage, STATE_BUCKET, attempts
            )
        yield futures


def cli(endpoint: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, **servers.aws_env(endpoint, REGION)}
    return subprocess.run(
        [sys.executable, "-m", "lambda_model", *args], env=env, capture_output=True, text=True, timeout=120
    )


def per_call(calls: Sequence[RecordedCall], apigateway: ResourceTags | None = None) -> list[list[Request]]:
    """In recording order: a call's conditions may read what an earlier one set (a boundary, tags). API Gateway
    calls are judged with the recorded resources' tags; a recording without them has none to judge."""
    observed = Observed(apigateway=apigateway)
    return [list(iam_requests(call, ACCOUNT, observed)) for call in calls]


def aws_requests(calls: Sequence[RecordedCall], apigateway: ResourceTags | None = None) -> list[Request]:
    return [request for requests in per_call(calls, apigateway) for request in requests]


def s3_requests(calls: list[RecordedCall]) -> list[Request]:
    assert {call.service for call in calls} <= {"s3"}, sorted({call.service for call in calls})
    return aws_requests(calls)


def canary_alarms(stage: Stage) -> list[str]:
    """The alarms `terraform output canary_alarm_names` lists, which the release passes as --alarm."""
    kinds = ("canary-errors", "canary-duration", "function-throttles", "api-5xx")
    return [f"{stage.stack}-{kind}" for kind in (*kinds, "emf-validation-errors", "emf-parsing-errors")]


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


def stack_function(endpoint: str, stage: Stage, image_uri: str) -> None:
    """What the stage's terraform apply leaves: an image function whose `live` alias serves version 1 (running
    `image_uri`), and its alarms."""
    iam, functions, cloudwatch = (client(endpoint, name) for name in ("iam", "lambda", "cloudwatch"))
    trust = {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}
        ],
    }
    role = iam.create_role(RoleName=f"{stage.stack}-function", AssumeRolePolicyDocument=json.dumps(trust))
    functions.create_function(
        FunctionName=stage.stack,
        Role=role["Role"]["Arn"],
        PackageType="Image",
        Code={"ImageUri": image_uri},
    )
    functions.publish_version(FunctionName=stage.stack)
    functions.create_alias(FunctionName=stage.stack, Name=ALIAS, FunctionVersion="1")
    for name in canary_alarms(stage):
        cloudwatch.put_metric_alarm(
            AlarmName=name,
            Namespace="AWS/Lambda",
            MetricName="Errors",
            Statistic="Sum",
            Period=60,
            EvaluationPeriods=1,
            Threshold=1,
            ComparisonOperator="GreaterThanOrEqualToThreshold",
        )
        cloudwatch.set_alarm_state(AlarmName=name, StateValue="OK", StateReason="quiet")


def canary_traffic(endpoint: str, stage: Stage) -> None:
    """What Lambda would publish for the canary's traffic to version 2 (moto runs no image function and
    publishes no Lambda metrics): the rollout's GetMetricData finds the invocations its canary needs. Put just
    before each stage's rollout, outside the recording. The canary reads from the minute it began, which can be
    the next one when the rollout's first steps cross a minute boundary: one datapoint this minute and one the
    next, so either way its window holds one."""
    now = datetime.now(UTC)
    version_2 = [
        {"Name": "FunctionName", "Value": stage.stack},
        {"Name": "Resource", "Value": f"{stage.stack}:{ALIAS}"},
        {"Name": "ExecutedVersion", "Value": "2"},
    ]
    client(endpoint, "cloudwatch").put_metric_data(
        Namespace="AWS/Lambda",
        MetricData=[
            {"MetricName": "Invocations", "Dimensions": version_2, "Timestamp": at, "Value": 1.0}
            for at in (now, now + timedelta(minutes=1))
        ],
    )


def rollout_calls(recording_moto: str, recorder: Recorder, model_dir: Path, stage: Stage, image_uri: str) -> list:
    """The release's deploy (pre-traffic check, canary under the alarms, verification) and the rollback
    workflow's rollback, both made by the stage's deploy role."""
    canary_traffic(recording_moto, stage)
    invoked: list[RecordedCall] = []
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MODEL_URI", str(model_dir))
        from lambda_model.serving import handler

        handler.model.reset()
        recorder.start()
        with invoking_proxy(recording_moto, handler.handler, invoked) as endpoint:
            alarms = [argument for name in canary_alarms(stage) for argument in ("--alarm", name)]
            deployed = release(
                endpoint, "deploy", "--function", stage.stack, "--alias", ALIAS, "--image-uri", image_uri,
                "--canary-share", "0.2", "--canary-minutes", "0.02", *alarms, "--min-canary-invocations", "1",
                "--alarm-poll-interval", "0.05", "--poll-interval", "0.05", "--", sys.executable, "-c", "pass",
            )  # fmt: skip
            assert deployed.returncode == 0, deployed.stdout + deployed.stderr
            rolled_back = release(endpoint, "rollback", "--function", stage.stack, "--alias", ALIAS)
            assert rolled_back.returncode == 0, rolled_back.stdout + rolled_back.stderr
        calls = recorder.stop()
        handler.model.reset()
    return calls + invoked


@dataclass(frozen=True)
class Releases:
    """Both stages' release calls, by the role that makes them, and the production role's denied attempts."""

    staging: list[RecordedCall]
    production: list[RecordedCall]
    production_attempts: list[RecordedCall]


def head_commit() -> str:
    """This checkout's commit: the release tags name commits, and check-newer-code asks git about them."""
    return subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True, check=True).stdout.strip()


def pushed(ecr: Any, tag: str) -> str:
    """Push an image (docker push's last call, the manifest's PutImage) and look its digest up, as the build
    does: the release deploys, marks and checks the image by digest."""
    push_fake_image(ecr, REPOSITORY, tag)
    details = ecr.describe_images(repositoryName=REPOSITORY, imageIds=[{"imageTag": tag}])["imageDetails"][0]
    return f"{REPOSITORY_URL}@{details['imageDigest']}"


def release_both_stages(
    recording_moto: str, recorder: Recorder, model_dir: Path, work: Path, version: dict
) -> Releases:
    """A merge through both stages: staging chooses the model, builds and pushes the image once, deploys it,
    rolls back and marks the digest staged; production checks that mark, that models/current did not move and
    that its live image holds no newer code, deploys the same digest, promotes the model and rolls back; then
    tries to push and to mark an image itself."""
    ecr, s3 = client(recording_moto, "ecr"), client(recording_moto, "s3")
    commit = head_commit()
    # What both stages serve before this merge: an earlier release, by digest, tagged with its commit.
    live_image = pushed(ecr, f"{commit}-v0")
    for stage in STAGES:
        stack_function(recording_moto, stage, live_image)

    recorder.start()
    listed = cli(recording_moto, "versions", "--store", STORE)
    assert listed.returncode == 0, listed.stderr
    exported = cli(recording_moto, "export", "--model", version["uri"], "--to", str(work / "image-model"))
    assert exported.returncode == 0, exported.stderr
    image_uri = pushed(ecr, f"{commit}-{version['version']}")
    staging = recorder.stop()
    staging += rollout_calls(recording_moto, recorder, model_dir, STAGING, image_uri)
    recorder.start()
    marked = release(recording_moto, "mark-staged", "--image-uri", image_uri)
    assert marked.returncode == 0, marked.stdout + marked.stderr
    staging += recorder.stop()

    recorder.start()
    # The guards: the digest carries a -staged tag, models/current is what staging built with, and the live
    # image's commit is this run's or an ancestor of it.
    checked = release(recording_moto, "check-staged", "--image-uri", image_uri)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    s3.get_object(Bucket=MODEL_BUCKET_NAME, Key="models/current")
    newer = release(recording_moto, "check-newer-code", "--function", PRODUCTION.stack, "--alias", ALIAS,
                    "--commit", commit)  # fmt: skip
    assert newer.returncode == 0, newer.stdout + newer.stderr
    production = recorder.stop()
    production += rollout_calls(recording_moto, recorder, model_dir, PRODUCTION, image_uri)
    recorder.start()
    promoted = cli(recording_moto, "promote", "--store", STORE, "--version", version["version"])
    assert promoted.returncode == 0, promoted.stderr
    production += recorder.stop()

    # The production role trying staging's part: push an image of its own, and mark one staged.
    recorder.start()
    refused_mark = release(recording_moto, "mark-staged", "--image-uri", pushed(ecr, f"{commit}-unmarked"))
    assert refused_mark.returncode == 0, refused_mark.stdout + refused_mark.stderr
    attempts = recorder.stop()
    # Judged by their PutImage calls (what pushes and tags); the reads around them are production's anyway.
    attempts = [call for call in attempts if target(call).endswith(".PutImage")]
    return Releases(staging, production, attempts)


def target(call: RecordedCall) -> str:
    """The X-Amz-Target header of a JSON-protocol call (the operation), whatever its case."""
    return next((value for key, value in call.headers.items() if key.lower() == "x-amz-target"), "")


def monitor_calls(upstream: str, recorder: Recorder, handler_log: str) -> list[RecordedCall]:
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
        judged = cli(endpoint, "monitor", "--store", STORE, "--min-records", "1")
    calls = recorder.stop()
    assert judged.returncode in (0, 1), judged.stdout + judged.stderr
    assert "## Model monitor: model" in judged.stdout
    assert stand_in.take_notes(), "the monitor's GetMetricData did not reach the stand-in"
    return calls + answered


@dataclass(frozen=True)
class Checked:
    """Normal use, one report per role (and per stage's function), and the attempts that must be denied."""

    roles: dict[str, RoleReport]
    attempts: dict[str, AttemptReport]


@pytest.fixture(scope="module")
def checked(
    recording_moto: str,
    stack_calls: dict[str, Future[StackCalls]],
    bootstrap: BootstrapPolicies,
    tmp_path_factory: pytest.TempPathFactory,
    model_dir: Path,
) -> Checked:
    from lambda_model.training.data import load_dataset
    from lambda_model.training.reference import reference_csv

    work = tmp_path_factory.mktemp("scenario")
    create_registry(recording_moto)
    client(recording_moto, "s3").put_object(
        Bucket=MODEL_BUCKET_NAME, Key="data/iris.csv", Body=reference_csv(load_dataset(None))
    )
    recorder = Recorder(recording_moto)

    def retrain(run: str) -> dict:
        """The retrain job's train and gate steps."""
        summary = work / f"summary-{run}.json"
        trained = cli(recording_moto, "train", "--data", f"s3://{MODEL_BUCKET_NAME}/data/iris.csv", "--store", STORE,
                      "--no-promote", "--summary-json", str(summary))  # fmt: skip
        assert trained.returncode == 0, trained.stderr
        candidate = json.loads(summary.read_text())
        gated = cli(
            recording_moto, "gate", "--candidate", candidate["uri"], "--baseline", STORE, "--min-accuracy", "0.8"
        )
        assert gated.returncode == 0, gated.stdout + gated.stderr
        return candidate

    event = str(Path(__file__).parents[1] / "events" / "direct_invoke.json")
    # A function started before the first model was promoted: models/current is missing, and S3 says so
    # (404, "no model yet") only to a role allowed the unprefixed s3:ListBucket; to others it answers 403.
    recorder.start()
    unserved = cli(recording_moto, "invoke", event, "--model", STORE)
    assert "model_unavailable" in unserved.stdout + unserved.stderr, unserved.stdout + unserved.stderr
    serving_calls = recorder.stop()

    recorder.start()
    version = retrain("first")  # no production yet
    train_calls = recorder.stop()
    # The model an earlier release promoted: the one this merge ships (outside the recording, which is a merge's).
    earlier = cli(recording_moto, "promote", "--store", STORE, "--version", version["version"])
    assert earlier.returncode == 0, earlier.stderr
    releases = release_both_stages(recording_moto, recorder, model_dir, work, version)

    # A retrain once production exists: its gate scores production too, on the frozen reference set that the
    # first such gate writes under models/reference/.
    recorder.start()
    retrain("second")
    train_calls += recorder.stop()

    recorder.start()
    # MODEL_URI of the function (terraform/lambda.tf): the store, whose models/current names the version.
    served = cli(recording_moto, "invoke", event, "--model", STORE)
    assert served.returncode == 0, served.stdout + served.stderr
    serving_calls += recorder.stop()

    monitor = monitor_calls(recording_moto, recorder, served.stderr)

    stacks = {key: future.result() for key, future in stack_calls.items()}
    staging, production = stacks[STAGING.key], stacks[PRODUCTION.key]
    roles = bootstrap.roles
    reasons = read_reasons(*IAM_SOURCES)
    # (report name, calls, requests, policy, the inline policy a boundary caps)
    normal_use: list[tuple[str, list[RecordedCall], list[Request], dict, dict | None]] = []
    for stack, stage_release in ((staging, releases.staging), (production, releases.production)):
        stage = stack.stage
        deploy_calls = stack.deploy + stage_release
        normal_use += [
            (stage.plan_role, stack.plan, aws_requests(stack.plan, stack.apigateway), roles[stage.plan_role], None),
            (
                stage.deploy_role,
                deploy_calls,
                aws_requests(stack.deploy, stack.apigateway) + aws_requests(stage_release),
                roles[stage.deploy_role],
                None,
            ),
            # The function role's inline policy is the stack's (terraform/iam.tf, as the apply wrote it); the
            # stage's boundary, rendered here, caps it: serving must pass both, as AWS evaluates them.
            (
                f"{stage.key} function (inline policy within its boundary)",
                serving_calls,
                s3_requests(serving_calls),
                bootstrap.function_boundaries[stage.key],
                stack.function_policy,
            ),
        ]
    normal_use += [
        ("train", train_calls, s3_requests(train_calls), roles["train"], None),
        ("monitor", monitor, aws_requests(monitor), roles["monitor"], None),
    ]
    reports = {
        name: check_role(name, len(calls), requests, policy, reasons, inline=inline)
        for name, calls, requests, policy, inline in normal_use
    }
    staging_attempts = per_call(production.attempts, production.apigateway)
    attempts = {
        role: check_attempts(role, calls, roles[role])
        for role, calls in (
            (STAGING.deploy_role, staging_attempts),
            (STAGING.plan_role, staging_attempts),
            (PRODUCTION.deploy_role, per_call(releases.production_attempts)),
        )
    }
    print("\n" + table(reports.values()))
    print("\nAttempts on another stage's resources, or beyond a role's part (each must be denied):")
    print(attempts_table(attempts.values()))
    return Checked(reports, attempts)


def listing(findings: dict[str, Sequence[Any]]) -> str:
    """One line per finding, under its role: pytest's diff of two dicts cuts a long list short."""
    return "\n".join(f"{name}: {finding}" for name, found in findings.items() for finding in found)


def test_no_recorded_call_of_normal_use_is_denied(checked: Checked) -> None:
    denied = {name: sorted({(q.action, q.resource) for q in r.denied}) for name, r in checked.roles.items()}
    assert not any(denied.values()), listing(denied)


def test_every_role_of_both_stages_is_judged(checked: Checked, bootstrap: BootstrapPolicies) -> None:
    stage_roles = {role for stage in STAGES for role in (stage.plan_role, stage.deploy_role)}
    assert set(bootstrap.roles) == stage_roles | {"train", "monitor"}
    assert set(bootstrap.roles) <= set(checked.roles)
    assert set(bootstrap.function_boundaries) == {stage.key for stage in STAGES}


def test_the_staging_roles_cannot_touch_production(checked: Checked) -> None:
    """Production's alias, its REST API (by its tags: API Gateway ARNs carry IDs, not names) and its state."""
    prod = PRODUCTION
    expected = {
        ("lambda:UpdateAlias", f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{prod.stack}:{ALIAS}"),
        ("s3:GetObject", f"arn:aws:s3:::{STATE_BUCKET}/{prod.state_key}"),
        ("s3:PutObject", f"arn:aws:s3:::{STATE_BUCKET}/{prod.state_key}"),
    }
    for role in (STAGING.deploy_role, STAGING.plan_role):
        report = checked.attempts[role]
        assert report.allowed == [], role
        attempted = {(request.action, request.resource) for request, _ in report.attempts}
        assert expected < attempted, attempted
        (api_patch,) = [(q, d) for q, d in report.attempts if q.action == "apigateway:PATCH"]
        # Judged with the API's real tags, and refused by the explicit Deny on production's Environment tag.
        assert api_patch[0].context.get("aws:ResourceTag/Environment") == prod.environment, api_patch
        if role == STAGING.deploy_role:
            assert api_patch[1] is Decision.EXPLICIT_DENY, api_patch


def test_the_production_role_can_neither_push_nor_mark_an_image_staged(checked: Checked) -> None:
    report = checked.attempts[PRODUCTION.deploy_role]
    assert [request.action for request, _ in report.attempts] == ["ecr:PutImage", "ecr:PutImage"]
    assert report.allowed == []


def test_the_scenarios_made_the_calls_they_are_meant_to_check(checked: Checked) -> None:
    reports = checked.roles
    for stage in STAGES:
        plan, deploy = reports[stage.plan_role], reports[stage.deploy_role]
        # The plan locks the state (use_lockfile) and refreshes every kind of stack resource.
        assert {
            "s3:PutObject",
            "s3:DeleteObject",
            "apigateway:GET",
            "logs:DescribeLogGroups",
            "iam:GetRole",
            "cloudwatch:GetDashboard",
            "logs:DescribeQueryDefinitions",
        } <= plan.actions, stage
        assert not {a for a in plan.actions if a.split(":")[1].startswith(("Create", "Put", "Delete"))} - {
            "s3:PutObject",
            "s3:DeleteObject",
        }
        # Each role's state calls are its own stage's key (and lock) only.
        state_keys = {
            q.resource.removeprefix(f"arn:aws:s3:::{STATE_BUCKET}/")
            for q in (*plan.requests, *deploy.requests)
            if q.resource.startswith(f"arn:aws:s3:::{STATE_BUCKET}/")
        }
        assert state_keys == {stage.state_key, f"{stage.state_key}.tflock"}, state_keys
        # apply and destroy, down to the role passed to Lambda; the rollout and the rollback.
        assert {
            "apigateway:POST",
            "apigateway:PATCH",
            "apigateway:DELETE",
            "iam:CreateRole",
            "iam:PassRole",
            "lambda:CreateFunction",
            "cloudwatch:PutDashboard",
            "cloudwatch:DeleteDashboards",
            "logs:PutQueryDefinition",
            "logs:DeleteQueryDefinition",
            "lambda:UpdateFunctionCode",
            "lambda:PublishVersion",
            "lambda:UpdateAlias",
            "lambda:InvokeFunction",
            "cloudwatch:DescribeAlarms",
            "cloudwatch:GetMetricData",
        } <= deploy.actions, stage
    staging, production = reports[STAGING.deploy_role], reports[PRODUCTION.deploy_role]
    # Staging reads models, pushes and tags; production reads the image, reads and moves models/current.
    assert {"ecr:PutImage", "ecr:BatchGetImage", "ecr:DescribeImages", "s3:GetObject"} <= staging.actions
    assert "ecr:PutImage" not in production.actions
    assert "ecr:DescribeImages" in production.actions
    promoted = {q.resource for q in production.requests if q.action == "s3:PutObject"}
    assert f"arn:aws:s3:::{MODEL_BUCKET_NAME}/models/current" in promoted
    assert not any(q.resource.startswith(f"arn:aws:s3:::{MODEL_BUCKET_NAME}/") for q in staging.requests if
                   q.action == "s3:PutObject")  # fmt: skip
    train, monitor = reports["train"], reports["monitor"]
    assert {"s3:GetObject", "s3:PutObject", "s3:ListBucket"} <= train.actions
    for stage in STAGES:
        function = reports[f"{stage.key} function (inline policy within its boundary)"]
        assert {"s3:GetObject", "s3:ListBucket"} <= function.actions  # ListBucket: the 404 of "no model yet"
    # The monitor reads the pointer and one metadata.json (ListBucket: S3's 404-or-403 check), then metrics.
    assert monitor.actions == {"s3:GetObject", "s3:ListBucket", "cloudwatch:GetMetricData"}
    assert {q.resource.rsplit("/", 1)[1] for q in monitor.requests if q.action == "s3:GetObject"} == {
        "current",
        "metadata.json",
    }


def test_every_grant_is_used_or_explained(checked: Checked) -> None:
    """The reverse direction: a grant no recorded call needs carries its reason next to it in the source."""
    unused = {name: r.unused for name, r in checked.roles.items()}
    assert not any(unused.values()), listing(unused)


def test_no_reason_explains_a_used_or_absent_grant(checked: Checked, bootstrap: BootstrapPolicies) -> None:
    """A stale reason would hide the next unused grant of that name."""
    boundaries = {f"{key} function boundary": policy for key, policy in bootstrap.function_boundaries.items()}
    policies = {**bootstrap.roles, **boundaries}
    assert stale_reasons(read_reasons(*IAM_SOURCES), policies, checked.roles.values()) == []
