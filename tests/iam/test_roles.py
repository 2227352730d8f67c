"""The pipeline roles' rendered policies against the requests that broke, or could abuse, them.

Each request is what AWS evaluates for a call of the pipeline (action, resource ARN, condition keys), and
each names the defect it guards against; the decisions come from the evaluator, not from string checks. The
stage roles are checked for each stage against its own resources, and against the other stage's.
"""

from __future__ import annotations

import pytest

from iam_check.evaluator import Decision, Request, evaluate
from iam_check.rendered import BootstrapPolicies
from tests.iam.conftest import (
    ACCOUNT,
    MODEL_BUCKET,
    NAME_PREFIX,
    PRODUCTION,
    REGION,
    REPOSITORY,
    STAGES,
    STAGING,
    STATE_BUCKET,
    Stage,
)

REPOSITORY_ARN = f"arn:aws:ecr:{REGION}:{ACCOUNT}:repository/{REPOSITORY}"
EXECUTION_LOGS = f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:API-Gateway-Execution-Logs_a1b2c3/predict"
API = f"arn:aws:apigateway:{REGION}::"
STATE = f"arn:aws:s3:::{STATE_BUCKET}"


def tags(prefix: str, values: dict[str, str]) -> dict[str, str]:
    return {f"aws:{prefix}/{key}": value for key, value in values.items()}


def stack_tags(stage: Stage) -> dict[str, str]:
    """The tags the stack's provider puts on every resource (default_tags)."""
    return {"Project": NAME_PREFIX, "Environment": stage.environment}


def function_role(stage: Stage) -> str:
    return f"arn:aws:iam::{ACCOUNT}:role/{stage.stack}-function"


def boundary(stage: Stage) -> str:
    return f"arn:aws:iam::{ACCOUNT}:policy/{stage.stack}-function-boundary"


def function(stage: Stage, qualifier: str = "") -> str:
    return f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{stage.stack}" + (f":{qualifier}" if qualifier else "")


def decide(bootstrap: BootstrapPolicies, role: str, request: Request) -> Decision:
    return evaluate(request, [bootstrap.roles[role]])


def other(stage: Stage) -> Stage:
    return PRODUCTION if stage == STAGING else STAGING


def needed(stage: Stage) -> list[tuple[str, Request]]:
    """What each stage's roles must be allowed on its own stack."""
    own = stack_tags(stage)
    plan, deploy = stage.plan_role, stage.deploy_role
    return [
        # DescribeLogGroups is evaluated against log-group::log-stream:, whatever log group the refresh reads.
        (plan, Request("logs:DescribeLogGroups", f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group::log-stream:")),
        (plan, Request("s3:GetObject", f"{STATE}/{stage.state_key}")),
        (deploy, Request("s3:PutObject", f"{STATE}/{stage.state_key}")),
        # This stack's execution log group, created with and then carrying the stack's tags.
        (deploy, Request("logs:CreateLogGroup", EXECUTION_LOGS, tags("RequestTag", own))),
        (deploy, Request("logs:PutRetentionPolicy", EXECUTION_LOGS, tags("ResourceTag", own))),
        (deploy, Request("logs:DeleteLogGroup", EXECUTION_LOGS, tags("ResourceTag", own))),
        # The stack's API: created with its tags, then changed, deployed and read by them (inherited or own).
        (deploy, Request("apigateway:POST", f"{API}/restapis", tags("RequestTag", own))),
        (deploy, Request("apigateway:PATCH", f"{API}/restapis/a1/stages/predict", tags("ResourceTag", own))),
        (deploy, Request("apigateway:POST", f"{API}/restapis/a1/deployments", tags("ResourceTag", own))),
        (plan, Request("apigateway:GET", f"{API}/apikeys/k1", tags("ResourceTag", own))),
        # The rollout: pre-traffic invoke of the version, canary alarms and the new version's metrics, weighted alias.
        (deploy, Request("lambda:InvokeFunction", function(stage, "7"))),
        (
            deploy,
            Request("cloudwatch:DescribeAlarms", f"arn:aws:cloudwatch:{REGION}:{ACCOUNT}:alarm:{stage.stack}-errors"),
        ),
        (deploy, Request("cloudwatch:GetMetricData", "*")),
        (deploy, Request("lambda:UpdateAlias", function(stage, "live"))),
        # Apply creates the function role only inside the stage's boundary, and passes it to Lambda only.
        (deploy, Request("iam:CreateRole", function_role(stage), {"iam:PermissionsBoundary": boundary(stage)})),
        (deploy, Request("iam:PutRolePolicy", function_role(stage), {"iam:PermissionsBoundary": boundary(stage)})),
        (deploy, Request("iam:PassRole", function_role(stage), {"iam:PassedToService": "lambda.amazonaws.com"})),
        # Both deploy the one image and read the models.
        (deploy, Request("ecr:DescribeImages", REPOSITORY_ARN)),
        (deploy, Request("ecr:BatchGetImage", REPOSITORY_ARN)),
        (deploy, Request("s3:GetObject", f"{MODEL_BUCKET}/models/current")),
    ]


def refused(stage: Stage) -> list[tuple[str, Request]]:
    """What each stage's roles must not do: escalate, reach the other stage, or own the shared registry."""
    theirs, own = other(stage), stack_tags(stage)
    plan, deploy = stage.plan_role, stage.deploy_role
    return [
        # Escalation: rewrite the function role's trust to name the deploy role, then give it *:*.
        (deploy, Request("iam:UpdateAssumeRolePolicy", function_role(stage))),
        (deploy, Request("iam:PutRolePolicy", function_role(stage))),  # a role without the boundary
        (deploy, Request("iam:CreateRole", function_role(stage))),  # recreate it without the boundary
        (deploy, Request("iam:DeleteRolePermissionsBoundary", function_role(stage))),
        (
            deploy,
            Request(
                "iam:PutRolePermissionsBoundary",
                function_role(stage),
                {"iam:PermissionsBoundary": "arn:aws:iam::aws:policy/AdministratorAccess"},
            ),
        ),
        (deploy, Request("iam:CreatePolicyVersion", boundary(stage))),
        (deploy, Request("iam:PassRole", function_role(stage), {"iam:PassedToService": "ec2.amazonaws.com"})),
        # The other stage's boundary is no way out either: a role created within it is not this stage's.
        (
            deploy,
            Request("iam:CreateRole", function_role(stage), {"iam:PermissionsBoundary": boundary(theirs)}),
        ),
        # A pipeline role widening itself or a sibling, of either stage.
        (
            deploy,
            Request(
                "iam:PutRolePolicy",
                f"arn:aws:iam::{ACCOUNT}:role/{stage.stack}-github-deploy",
                {"iam:PermissionsBoundary": boundary(stage)},
            ),
        ),
        (deploy, Request("iam:UpdateAssumeRolePolicy", f"arn:aws:iam::{ACCOUNT}:role/{theirs.stack}-github-deploy")),
        (plan, Request("iam:PutRolePolicy", f"arn:aws:iam::{ACCOUNT}:role/{stage.stack}-github-plan")),
        # The other stage's stack: its alias, function, role, state, alarms, dashboard.
        (deploy, Request("lambda:UpdateAlias", function(theirs, "live"))),
        (deploy, Request("lambda:UpdateFunctionCode", function(theirs))),
        (deploy, Request("lambda:InvokeFunction", function(theirs, "7"))),
        (
            deploy,
            Request("iam:CreateRole", function_role(theirs), {"iam:PermissionsBoundary": boundary(theirs)}),
        ),
        (deploy, Request("s3:PutObject", f"{STATE}/{theirs.state_key}")),
        (plan, Request("s3:GetObject", f"{STATE}/{theirs.state_key}")),
        (
            deploy,
            Request("cloudwatch:DeleteAlarms", f"arn:aws:cloudwatch:{REGION}:{ACCOUNT}:alarm:{theirs.stack}-errors"),
        ),
        (deploy, Request("cloudwatch:PutDashboard", f"arn:aws:cloudwatch::{ACCOUNT}:dashboard/{theirs.stack}")),
        # The other stage's API Gateway resources, told apart by their tags only; nor one created as theirs, nor
        # an API of no stage (untagged: another project's).
        (deploy, Request("apigateway:PATCH", f"{API}/restapis/b2", tags("ResourceTag", stack_tags(theirs)))),
        (deploy, Request("apigateway:DELETE", f"{API}/usageplans/u2", tags("ResourceTag", stack_tags(theirs)))),
        (plan, Request("apigateway:GET", f"{API}/apikeys/k2", tags("ResourceTag", stack_tags(theirs)))),
        (deploy, Request("apigateway:POST", f"{API}/restapis", tags("RequestTag", stack_tags(theirs)))),
        (deploy, Request("apigateway:PATCH", f"{API}/restapis/c3")),
        (deploy, Request("apigateway:POST", f"{API}/restapis")),
        # Retagging its own API as the other stage's, which would hand it over.
        (
            deploy,
            Request(
                "apigateway:PUT",
                f"{API}/tags/{API}/restapis/a1",
                {**tags("ResourceTag", own), **tags("RequestTag", {"Environment": theirs.environment})},
            ),
        ),
        # Another API's execution logs, or the same stage name under the other stack's tags.
        (
            deploy,
            Request(
                "logs:DeleteLogGroup", f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:API-Gateway-Execution-Logs_zz99/prod"
            ),
        ),
        (deploy, Request("logs:DeleteLogGroup", EXECUTION_LOGS, tags("ResourceTag", stack_tags(theirs)))),
        (deploy, Request("logs:CreateLogGroup", EXECUTION_LOGS)),
        # The registry is the bootstrap's: no deploy role creates, deletes or configures it.
        (deploy, Request("ecr:DeleteRepository", REPOSITORY_ARN)),
        (deploy, Request("ecr:SetRepositoryPolicy", REPOSITORY_ARN)),
        (deploy, Request("ecr:PutImageTagMutability", REPOSITORY_ARN)),
        (deploy, Request("ecr:BatchDeleteImage", REPOSITORY_ARN)),
        (deploy, Request("s3:DeleteBucket", MODEL_BUCKET)),
        (deploy, Request("s3:PutBucketPolicy", MODEL_BUCKET)),
        (deploy, Request("s3:DeleteObjectVersion", f"{MODEL_BUCKET}/models/current")),
        (plan, Request("s3:GetObject", f"{MODEL_BUCKET}/models/current")),
    ]


SHARED_REFUSED = [
    # Only staging pushes and marks; only production moves the pointer.
    (PRODUCTION.deploy_role, Request("ecr:PutImage", REPOSITORY_ARN)),
    (PRODUCTION.deploy_role, Request("ecr:InitiateLayerUpload", REPOSITORY_ARN)),
    (STAGING.deploy_role, Request("s3:PutObject", f"{MODEL_BUCKET}/models/current")),
    # Training never moves the pointer nor rewrites a version.
    ("train", Request("s3:PutObject", f"{MODEL_BUCKET}/models/current")),
    ("train", Request("s3:DeleteObject", f"{MODEL_BUCKET}/models/versions/v1/model.onnx")),
    # The monitor reads no model file, no data and no reference set, and writes nothing.
    ("monitor", Request("s3:GetObject", f"{MODEL_BUCKET}/models/versions/v1/model.onnx")),
    ("monitor", Request("s3:GetObject", f"{MODEL_BUCKET}/data/iris.csv")),
    ("monitor", Request("s3:GetObject", f"{MODEL_BUCKET}/models/reference/v1.csv")),
    ("monitor", Request("s3:PutObject", f"{MODEL_BUCKET}/models/current")),
    ("monitor", Request("cloudwatch:PutMetricData", "*")),
    (
        "monitor",
        Request("cloudwatch:DescribeAlarms", f"arn:aws:cloudwatch:{REGION}:{ACCOUNT}:alarm:{PRODUCTION.stack}-errors"),
    ),
]
SHARED_NEEDED = [
    (STAGING.deploy_role, Request("ecr:PutImage", REPOSITORY_ARN)),
    (PRODUCTION.deploy_role, Request("s3:PutObject", f"{MODEL_BUCKET}/models/current")),
    # A GetObject of a missing models/current answers 404 only if ListBucket holds without s3:prefix.
    ("train", Request("s3:ListBucket", MODEL_BUCKET)),
    ("train", Request("s3:GetObject", f"{MODEL_BUCKET}/models/current")),
    ("train", Request("s3:PutObject", f"{MODEL_BUCKET}/models/versions/20260101T000000Z/model.onnx")),
    # The monitor: the served version, its baseline, its metrics (GetMetricData is evaluated against *).
    ("monitor", Request("s3:GetObject", f"{MODEL_BUCKET}/models/current")),
    ("monitor", Request("s3:GetObject", f"{MODEL_BUCKET}/models/versions/20260101T000000Z-abc/metadata.json")),
    ("monitor", Request("s3:ListBucket", MODEL_BUCKET)),
    ("monitor", Request("cloudwatch:GetMetricData", "*")),
]
NEEDED = [case for stage in STAGES for case in needed(stage)] + SHARED_NEEDED
REFUSED = [case for stage in STAGES for case in refused(stage)] + SHARED_REFUSED


def case_id(role: str, request: Request) -> str:
    return f"{role}-{request.action}-{request.resource.rsplit(':', 1)[-1]}"


@pytest.mark.parametrize(("role", "request_"), NEEDED, ids=[case_id(r, q) for r, q in NEEDED])
def test_needed_call_is_allowed(bootstrap: BootstrapPolicies, role: str, request_: Request) -> None:
    assert decide(bootstrap, role, request_) is Decision.ALLOWED, request_


@pytest.mark.parametrize(("role", "request_"), REFUSED, ids=[case_id(r, q) for r, q in REFUSED])
def test_escalation_or_overreach_is_denied(bootstrap: BootstrapPolicies, role: str, request_: Request) -> None:
    assert decide(bootstrap, role, request_) is not Decision.ALLOWED, request_


@pytest.mark.parametrize("stage", STAGES, ids=[stage.key for stage in STAGES])
def test_the_other_stages_api_is_denied_explicitly(bootstrap: BootstrapPolicies, stage: Stage) -> None:
    """Not only left out of an Allow: the explicit Deny on the other stage's tag holds whatever is added later."""
    theirs = tags("ResourceTag", stack_tags(other(stage)))
    for role in (stage.plan_role, stage.deploy_role):
        request = Request("apigateway:GET", f"{API}/restapis/b2", theirs)
        assert decide(bootstrap, role, request) is Decision.EXPLICIT_DENY, role


@pytest.mark.parametrize("stage", STAGES, ids=[stage.key for stage in STAGES])
def test_a_rewritten_function_role_stays_inside_the_boundary(bootstrap: BootstrapPolicies, stage: Stage) -> None:
    """The escalation's last step: even with `*:*` written into the function role, the boundary caps it."""
    rewritten = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}
    cap = bootstrap.function_boundaries[stage.key]
    assert evaluate(Request("iam:CreateRole", "arn:aws:iam::1:role/x"), [rewritten], cap) is Decision.IMPLICIT_DENY
    assert (
        evaluate(Request("s3:PutObject", f"{MODEL_BUCKET}/models/current"), [rewritten], cap) is Decision.IMPLICIT_DENY
    )
    logs = f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:/aws/lambda/{stage.stack}:log-stream:s"
    serving = [
        Request("s3:GetObject", f"{MODEL_BUCKET}/models/current"),
        Request("s3:ListBucket", MODEL_BUCKET, {"s3:prefix": "models/"}),
        Request("logs:PutLogEvents", logs),
        Request("xray:PutTraceSegments", "*"),
    ]
    for request in serving:
        assert evaluate(request, [rewritten], cap) is Decision.ALLOWED, request
    theirs = f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:/aws/lambda/{other(stage).stack}:log-stream:s"
    assert evaluate(Request("logs:PutLogEvents", theirs), [rewritten], cap) is Decision.IMPLICIT_DENY


def test_every_role_carries_the_escalation_guard(bootstrap: BootstrapPolicies) -> None:
    role_names = {
        **{role: f"{stage.stack}-github-{role.rsplit('-', 1)[1]}" for stage in STAGES for role in
           (stage.plan_role, stage.deploy_role)},
        "train": f"{PRODUCTION.stack}-github-train",
        "monitor": f"{PRODUCTION.stack}-github-monitor",
    }  # fmt: skip
    assert set(bootstrap.roles) == set(role_names)
    for role in bootstrap.roles:
        for target in role_names.values():
            guard = Request("iam:DeleteRolePermissionsBoundary", f"arn:aws:iam::{ACCOUNT}:role/{target}")
            assert decide(bootstrap, role, guard) is Decision.EXPLICIT_DENY, (role, target)
