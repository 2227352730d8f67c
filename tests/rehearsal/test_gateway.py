"""The API Gateway stand-in: which resource a path reaches, the proxy event the function gets, and the
answers API Gateway gives itself (403 without a route or key, 502 for a failed or malformed function)."""

from __future__ import annotations

import io
import json
from typing import Any

import pytest
import requests

from rehearsal.gateway import Api, ApiNotDeployable, Route, allowed, serving

FUNCTION = "arn:aws:lambda:eu-central-1:123456789012:function:model:live"
ROUTES = (
    Route("/", FUNCTION, api_key_required=True),
    Route("/predict", FUNCTION, api_key_required=True),
    Route("/health", FUNCTION, api_key_required=False),
    Route("/{proxy+}", FUNCTION, api_key_required=True),
)


class FakeLambda:
    """Answers Invoke with what `answer` returns for the event; keeps the events."""

    def __init__(self, answer: Any, function_error: bool = False) -> None:
        self.answer, self.function_error, self.events = answer, function_error, []

    def invoke(self, FunctionName: str, Payload: str) -> dict[str, Any]:
        event = json.loads(Payload)
        self.events.append((FunctionName, event))
        body = self.answer(event) if callable(self.answer) else self.answer
        response = {"Payload": io.BytesIO(json.dumps(body).encode() if not isinstance(body, bytes) else body)}
        return {**response, "FunctionError": "Unhandled"} if self.function_error else response


def echo(event: dict[str, Any]) -> dict[str, Any]:
    return {
        "statusCode": 200,
        "headers": {"Content-Type": "application/json"},
        "body": json.dumps({"seen": event["path"]}),
    }


@pytest.mark.parametrize(
    ("path", "resource"),
    [("/", "/"), ("/predict", "/predict"), ("/health", "/health"), ("/predict/x", "/{proxy+}"), ("/nope", "/{proxy+}")],
)
def test_a_path_reaches_its_own_resource_before_the_catch_all(path, resource):
    api = Api("abc123", "live", ROUTES, frozenset())
    assert api.route(path).path == resource


def test_without_a_catch_all_an_unknown_path_has_no_route():
    assert Api("abc123", "live", ROUTES[:3], frozenset()).route("/nope") is None


def test_the_function_gets_the_proxy_event_of_its_resource():
    function = FakeLambda(echo)
    with serving(Api("abc123", "live", ROUTES, frozenset({"key-1"})), function) as url:
        response = requests.post(f"{url}/predict/extra?x=1", json={"a": 1}, headers={"x-api-key": "key-1"}, timeout=10)
    assert (response.status_code, response.json()) == (200, {"seen": "/predict/extra"})
    name, event = function.events[0]
    assert name == FUNCTION
    assert (event["resource"], event["path"], event["pathParameters"]) == (
        "/{proxy+}",
        "/predict/extra",
        {"proxy": "predict/extra"},
    )
    assert event["requestContext"]["stage"] == "live"
    assert event["requestContext"]["path"] == "/live/predict/extra"
    assert event["queryStringParameters"] == {"x": "1"}
    assert json.loads(event["body"]) == {"a": 1}


@pytest.mark.parametrize(
    ("path", "headers", "status"),
    [
        ("/live/predict", {}, 403),  # the key is required
        ("/live/predict", {"x-api-key": "wrong"}, 403),
        ("/live/health", {}, 200),  # public
        ("/other-stage/health", {}, 403),
    ],
)
def test_api_gateway_answers_itself_for_a_missing_key_or_stage(path, headers, status):
    with serving(Api("abc123", "live", ROUTES, frozenset({"key-1"})), FakeLambda(echo)) as url:
        response = requests.get(url.removesuffix("/live") + path, headers=headers, timeout=10)
    assert response.status_code == status


@pytest.mark.parametrize(
    ("answer", "function_error"),
    [({"errorMessage": "boom"}, True), (b"not json", False), ({"body": "no status code"}, False)],
)
def test_a_failed_or_malformed_function_answer_is_a_502(answer, function_error):
    with serving(Api("abc123", "live", ROUTES, frozenset()), FakeLambda(answer, function_error)) as url:
        response = requests.get(f"{url}/health", timeout=10)
    assert (response.status_code, response.json()) == (502, {"message": "Internal server error"})


class FakePolicy:
    def __init__(self, source_arn: str) -> None:
        self.source_arn, self.asked = source_arn, []

    def get_policy(self, **arguments: str) -> dict[str, str]:
        self.asked.append(arguments)
        statement = {
            "Effect": "Allow",
            "Principal": {"Service": "apigateway.amazonaws.com"},
            "Action": "lambda:InvokeFunction",
            "Condition": {"ArnLike": {"AWS:SourceArn": self.source_arn}},
        }
        return {"Policy": json.dumps({"Statement": [statement]})}


def test_the_function_must_let_this_stage_invoke_it():
    policy = FakePolicy("arn:aws:execute-api:eu-central-1:123456789012:abc123/live/*")
    allowed(policy, FUNCTION, "abc123", "live")
    assert policy.asked == [{"FunctionName": FUNCTION.removesuffix(":live"), "Qualifier": "live"}]
    with pytest.raises(ApiNotDeployable, match="does not allow API Gateway"):
        allowed(policy, FUNCTION, "abc123", "other")
    with pytest.raises(ApiNotDeployable):
        allowed(FakePolicy("arn:aws:execute-api:eu-central-1:123456789012:zzz999/live/*"), FUNCTION, "abc123", "live")


def test_an_invoke_url_names_the_api_and_stage():
    with pytest.raises(ApiNotDeployable, match="invoke URL"):
        Api.read(None, None, "http://localhost/live")
