"""Lambda Invoke for the rehearsal's images, against moto: the version an Invoke runs (a number, an alias
and its traffic weights), the handler run from that version's image, and Lambda's answer shapes."""

from __future__ import annotations

import json
import textwrap
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from lambda_release import rollout
from rehearsal.emf_metrics import EmfMetrics
from rehearsal.image import TaskRoot
from rehearsal.lambda_service import Container, LambdaService, image_manifest, split_qualifier
from rehearsal.proxy import proxy_to
from rehearsal.servers import local_client

REGION = "eu-central-1"
HANDLER = """
import os
LOADED = os.environ["IMAGE_NAME"]  # read once per container, like the model
def handler(event, context):
    if event.get("fail"):
        raise ValueError("asked to fail")
    if event.get("sleep"):
        import time
        time.sleep(event["sleep"])
    return {"image": LOADED, "version": context.function_version, "event": event}
"""


def task_root(folder: Path, name: str, source: str = HANDLER) -> TaskRoot:
    folder.mkdir()
    (folder / "app.py").write_text(textwrap.dedent(source))
    return TaskRoot(folder, {"IMAGE_NAME": name}, "app.handler")


@pytest.fixture
def function(rehearsal_moto: str, tmp_path: Path, request: pytest.FixtureRequest):
    """A function with versions 1 (image one) and 2 (image two), and an image moto has that was never built."""
    name = f"svc-{request.node.name[-40:].replace('[', '-').replace(']', '')}"[:60]
    lambda_, ecr, iam = (local_client(rehearsal_moto, service) for service in ("lambda", "ecr", "iam"))
    service = LambdaService(lambda_, ecr, tmp_path / "logs")
    repository = ecr.create_repository(repositoryName=name)["repository"]["repositoryUri"]
    role = iam.create_role(RoleName=name, AssumeRolePolicyDocument="{}")["Role"]["Arn"]
    one = service.push(name, "one", task_root(tmp_path / "one", "one"))
    two = service.push(name, "two", task_root(tmp_path / "two", "two"))
    lambda_.create_function(FunctionName=name, Role=role, PackageType="Image", Code={"ImageUri": f"{repository}@{one}"})
    lambda_.publish_version(FunctionName=name)
    lambda_.update_function_code(FunctionName=name, ImageUri=f"{repository}@{two}")
    lambda_.publish_version(FunctionName=name)
    lambda_.create_alias(FunctionName=name, Name="live", FunctionVersion="1")
    with proxy_to(rehearsal_moto, service.handle) as endpoint:
        yield name, local_client(endpoint, "lambda"), lambda_, service
    service.stop()


def invoke(lambda_: Any, name: str, event: dict, **qualifier: str) -> tuple[dict, dict]:
    response = lambda_.invoke(FunctionName=name, Payload=json.dumps(event), **qualifier)
    return response, json.loads(response["Payload"].read())


def test_each_version_runs_the_image_it_was_published_with(function):
    name, lambda_, _, service = function
    for version, image in (("1", "one"), ("2", "two"), ("$LATEST", "two")):
        response, payload = invoke(lambda_, name, {"n": 1}, Qualifier=version)
        assert (payload["image"], payload["event"]) == (image, {"n": 1})
        assert response["ExecutedVersion"] == version
    assert invoke(lambda_, f"{name}:live", {})[1]["image"] == "one"  # the qualifier inside the name
    assert len({id(container) for container in service.containers.values()}) == 3


def test_a_version_runs_with_its_configured_environment_over_the_images(function):
    """As in Lambda: the function's variables (METRICS_NAMESPACE, set by Terraform) override the image's ENV."""
    name, lambda_, admin, _ = function
    admin.update_function_configuration(FunctionName=name, Environment={"Variables": {"IMAGE_NAME": "configured"}})
    version = admin.publish_version(FunctionName=name)["Version"]
    assert invoke(lambda_, name, {}, Qualifier=version)[1]["image"] == "configured"
    assert invoke(lambda_, name, {}, Qualifier="1")[1]["image"] == "one"


def test_an_alias_routes_by_its_weights(function, monkeypatch):
    name, lambda_, admin, _ = function
    admin.update_alias(FunctionName=name, Name="live", RoutingConfig={"AdditionalVersionWeights": {"2": 0.25}})
    monkeypatch.setattr("rehearsal.lambda_service.random.random", lambda: 0.2)
    assert invoke(lambda_, name, {}, Qualifier="live")[1]["image"] == "two"
    monkeypatch.setattr("rehearsal.lambda_service.random.random", lambda: 0.3)
    assert invoke(lambda_, name, {}, Qualifier="live")[1]["image"] == "one"


def test_a_handler_error_is_an_unhandled_function_error(function):
    name, lambda_, _, _ = function
    response, payload = invoke(lambda_, name, {"fail": True}, Qualifier="1")
    assert response["FunctionError"] == "Unhandled"
    assert (payload["errorType"], payload["errorMessage"]) == ("ValueError", "asked to fail")
    assert invoke(lambda_, name, {}, Qualifier="1")[1]["image"] == "one"  # the container survives it


def test_an_import_error_fails_every_invoke(tmp_path):
    broken = task_root(tmp_path / "broken", "broken", "raise RuntimeError('no model')\n")
    container = Container(broken, tmp_path / "broken.log")
    try:
        answer = container.invoke({"event": {}, "request_id": "r", "function_name": "f", "version": "1",
                                   "invoked_arn": "arn", "memory": 128, "timeout": 3, "deadline": 0})  # fmt: skip
    finally:
        container.stop()
    assert answer["error"]["errorType"] == "Runtime.ImportModuleError"


def test_an_image_the_rehearsal_did_not_build_cannot_run(function):
    name, lambda_, _, service = function
    service.images.clear()
    with pytest.raises(lambda_.exceptions.ClientError, match="did not build"):
        lambda_.invoke(FunctionName=name, Qualifier="1", Payload=b"{}")
    with pytest.raises(lambda_.exceptions.ResourceNotFoundException):
        lambda_.invoke(FunctionName=f"{name}-missing", Payload=b"{}")


def test_every_build_gets_its_own_digest(tmp_path):
    root = task_root(tmp_path / "root", "root")
    assert image_manifest(root, "t1") != image_manifest(root, "t2")
    assert json.loads(image_manifest(root, "t1"))["config"]["size"] > 0


@pytest.mark.parametrize(
    ("function", "qualifier", "expected"),
    [
        ("name", "", ("name", "")),
        ("name:live", "", ("name", "live")),
        ("name", "3", ("name", "3")),
        (
            "arn:aws:lambda:eu-central-1:123456789012:function:name",
            "",
            ("arn:aws:lambda:eu-central-1:123456789012:function:name", ""),
        ),
        (
            "arn:aws:lambda:eu-central-1:123456789012:function:name:live",
            "",
            ("arn:aws:lambda:eu-central-1:123456789012:function:name", "live"),
        ),
    ],
)
def test_the_qualifier_may_come_with_the_name(function, qualifier, expected):
    assert split_qualifier(function, qualifier) == expected


def test_an_answer_later_than_the_timeout_is_a_timeout_and_a_new_container(tmp_path):
    container = Container(task_root(tmp_path / "slow", "slow"), tmp_path / "slow.log")
    request = {"request_id": "r", "function_name": "f", "version": "1", "invoked_arn": "arn", "memory": 128,
               "timeout": 0.5, "deadline": 0}  # fmt: skip
    try:
        assert container.invoke({**request, "event": {}})["payload"]["image"] == "slow"  # init does not count
        first = container.process
        answer = container.invoke({**request, "event": {"sleep": 5}})
        assert answer["error"] == {"errorMessage": "Task timed out after 0.50 seconds", "errorType": "Sandbox.Timedout"}
        assert container.invoke({**request, "event": {}})["payload"]["image"] == "slow"
        assert container.process is not first
    finally:
        container.stop()


def test_invocations_through_the_alias_are_counted_by_executed_version_for_the_canary(function, monkeypatch):
    """What the release's canary reads (Invocations and per-version data by ExecutedVersion), answered by the
    EMF stand-in from the Lambda stand-in's counts: moto publishes no Lambda metrics."""
    name, lambda_, admin, service = function
    since = datetime.now(UTC)
    admin.update_alias(FunctionName=name, Name="live", RoutingConfig={"AdditionalVersionWeights": {"2": 0.5}})
    draws = iter([0.2, 0.7, 0.1])  # version 2, 1, 2
    monkeypatch.setattr("rehearsal.lambda_service.random.random", lambda: next(draws))
    for _ in range(3):
        invoke(lambda_, name, {}, Qualifier="live")
    invoke(lambda_, name, {"fail": True}, Qualifier="2")  # a pre-traffic call: by number, not through the alias
    stand_in = EmfMetrics(lambda: (), lambda_metrics=service.lambda_metrics)
    errors = rollout.VersionMetric("AWS/Lambda", "Errors", (("FunctionName", name), ("Resource", f"{name}:live")), "e")

    with proxy_to(lambda_.meta.endpoint_url, stand_in.handle) as endpoint:
        cloudwatch = local_client(endpoint, "cloudwatch")
        evidence = {
            version: rollout.canary_evidence(cloudwatch, rollout.Target(name, "live"), version, since, [errors])
            for version in ("1", "2", "3")
        }

    assert evidence == {
        "1": rollout.Evidence(1, ()),
        "2": rollout.Evidence(2, ()),
        "3": rollout.Evidence(0, ("e",)),
    }
    assert "Lambda stand-in's" in stand_in.take_notes()[0]
