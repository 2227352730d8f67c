"""The pipeline roles' rendered policies against the requests that broke, or could abuse, them.

Each request is what AWS evaluates for a call of the pipeline (action, resource ARN, condition keys), and
each names the defect it guards against; the decisions come from the evaluator, not from string checks.
"""

from __future__ import annotations

import pytest

from iam_check.evaluator import Decision, Request, evaluate
from iam_check.rendered import BootstrapPolicies
from tests.iam.conftest import ACCOUNT, MODEL_BUCKET, REGION, STACK

FUNCTION_ROLE = f"arn:aws:iam::{ACCOUNT}:role/{STACK}-function"
BOUNDARY = f"arn:aws:iam::{ACCOUNT}:policy/{STACK}-function-boundary"
EXECUTION_LOGS = f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:API-Gateway-Execution-Logs_a1b2c3/predict"
STACK_TAGS = {"Project": "lambda-model", "Environment": "prod"}


def tags(prefix: str, values: dict[str, str]) -> dict[str, str]:
    return {f"aws:{prefix}/{key}": value for key, value in values.items()}


def decide(bootstrap: BootstrapPolicies, role: str, request: Request) -> Decision:
    return evaluate(request, [bootstrap.roles[role]])


NEEDED = [
    # DescribeLogGroups is evaluated against log-group::log-stream:, whatever log group the refresh reads.
    ("plan", Request("logs:DescribeLogGroups", f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group::log-stream:")),
    ("deploy", Request("logs:DescribeLogGroups", f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group::log-stream:")),
    # A GetObject of a missing models/current answers 404 only if ListBucket holds without s3:prefix.
    ("train", Request("s3:ListBucket", MODEL_BUCKET)),
    ("train", Request("s3:GetObject", f"{MODEL_BUCKET}/models/current")),
    ("train", Request("s3:PutObject", f"{MODEL_BUCKET}/models/versions/20260101T000000Z/model.onnx")),
    # Destroying the KMS-encrypted repository retires ECR's grant on the caller's behalf.
    (
        "deploy",
        Request(
            "kms:RetireGrant",
            f"arn:aws:kms:{REGION}:{ACCOUNT}:key/k",
            {"kms:ViaService": f"ecr.{REGION}.amazonaws.com"},
        ),
    ),
    (
        "deploy",
        Request(
            "kms:CreateGrant",
            f"arn:aws:kms:{REGION}:{ACCOUNT}:key/k",
            {"kms:ViaService": f"ecr.{REGION}.amazonaws.com"},
        ),
    ),
    # force_destroy of the versioned model bucket.
    ("deploy", Request("s3:ListBucketVersions", MODEL_BUCKET)),
    ("deploy", Request("s3:DeleteObjectVersion", f"{MODEL_BUCKET}/models/current")),
    # This stack's execution log group, created with and then carrying the stack's tags.
    ("deploy", Request("logs:CreateLogGroup", EXECUTION_LOGS, tags("RequestTag", STACK_TAGS))),
    ("deploy", Request("logs:PutRetentionPolicy", EXECUTION_LOGS, tags("ResourceTag", STACK_TAGS))),
    ("deploy", Request("logs:DeleteLogGroup", EXECUTION_LOGS, tags("ResourceTag", STACK_TAGS))),
    # The rollout: pre-traffic invoke of the version, canary alarms and the new version's metrics, weighted alias.
    ("deploy", Request("lambda:InvokeFunction", f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{STACK}:7")),
    ("deploy", Request("cloudwatch:DescribeAlarms", f"arn:aws:cloudwatch:{REGION}:{ACCOUNT}:alarm:{STACK}-errors")),
    ("deploy", Request("cloudwatch:GetMetricData", "*")),
    ("deploy", Request("lambda:UpdateAlias", f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{STACK}:live")),
    # Apply creates the function role only inside the boundary, and passes it to Lambda only.
    ("deploy", Request("iam:CreateRole", FUNCTION_ROLE, {"iam:PermissionsBoundary": BOUNDARY})),
    ("deploy", Request("iam:PutRolePolicy", FUNCTION_ROLE, {"iam:PermissionsBoundary": BOUNDARY})),
    ("deploy", Request("iam:PassRole", FUNCTION_ROLE, {"iam:PassedToService": "lambda.amazonaws.com"})),
    ("deploy", Request("iam:PutRolePermissionsBoundary", FUNCTION_ROLE, {"iam:PermissionsBoundary": BOUNDARY})),
    # The monitor: the served version, its baseline, its metrics (GetMetricData is evaluated against *).
    ("monitor", Request("s3:GetObject", f"{MODEL_BUCKET}/models/current")),
    ("monitor", Request("s3:GetObject", f"{MODEL_BUCKET}/models/versions/20260101T000000Z-abc/metadata.json")),
    ("monitor", Request("s3:ListBucket", MODEL_BUCKET)),
    ("monitor", Request("cloudwatch:GetMetricData", "*")),
]

REFUSED = [
    # Escalation: rewrite the function role's trust to name the deploy role, then give it *:*.
    ("deploy", Request("iam:UpdateAssumeRolePolicy", FUNCTION_ROLE)),
    ("deploy", Request("iam:PutRolePolicy", FUNCTION_ROLE)),  # a role without the boundary
    ("deploy", Request("iam:CreateRole", FUNCTION_ROLE)),  # recreate it without the boundary
    ("deploy", Request("iam:DeleteRolePermissionsBoundary", FUNCTION_ROLE)),
    (
        "deploy",
        Request(
            "iam:PutRolePermissionsBoundary",
            FUNCTION_ROLE,
            {"iam:PermissionsBoundary": "arn:aws:iam::aws:policy/AdministratorAccess"},
        ),
    ),
    ("deploy", Request("iam:CreatePolicyVersion", BOUNDARY)),
    ("deploy", Request("iam:PassRole", FUNCTION_ROLE, {"iam:PassedToService": "ec2.amazonaws.com"})),
    # A pipeline role widening itself or a sibling.
    (
        "deploy",
        Request(
            "iam:PutRolePolicy",
            f"arn:aws:iam::{ACCOUNT}:role/{STACK}-github-deploy",
            {"iam:PermissionsBoundary": BOUNDARY},
        ),
    ),
    ("deploy", Request("iam:UpdateAssumeRolePolicy", f"arn:aws:iam::{ACCOUNT}:role/{STACK}-github-train")),
    ("plan", Request("iam:PutRolePolicy", f"arn:aws:iam::{ACCOUNT}:role/{STACK}-github-plan")),
    # Another API's execution logs, or the same stage name under another stack's tags.
    (
        "deploy",
        Request(
            "logs:DeleteLogGroup", f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:API-Gateway-Execution-Logs_zz99/prod"
        ),
    ),
    (
        "deploy",
        Request(
            "logs:DeleteLogGroup", EXECUTION_LOGS, tags("ResourceTag", {"Project": "other", "Environment": "prod"})
        ),
    ),
    ("deploy", Request("logs:CreateLogGroup", EXECUTION_LOGS)),
    # KMS only through ECR.
    ("deploy", Request("kms:CreateGrant", f"arn:aws:kms:{REGION}:{ACCOUNT}:key/k")),
    # Training never moves the pointer nor rewrites a version.
    ("train", Request("s3:PutObject", f"{MODEL_BUCKET}/models/current")),
    ("train", Request("s3:DeleteObject", f"{MODEL_BUCKET}/models/versions/v1/model.onnx")),
    ("plan", Request("s3:GetObject", f"{MODEL_BUCKET}/models/current")),
    # The monitor reads no model file, no data and no reference set, and writes nothing.
    ("monitor", Request("s3:GetObject", f"{MODEL_BUCKET}/models/versions/v1/model.onnx")),
    ("monitor", Request("s3:GetObject", f"{MODEL_BUCKET}/data/iris.csv")),
    ("monitor", Request("s3:GetObject", f"{MODEL_BUCKET}/models/reference/v1.csv")),
    ("monitor", Request("s3:PutObject", f"{MODEL_BUCKET}/models/current")),
    ("monitor", Request("cloudwatch:PutMetricData", "*")),
    ("monitor", Request("cloudwatch:DescribeAlarms", f"arn:aws:cloudwatch:{REGION}:{ACCOUNT}:alarm:{STACK}-errors")),
]


@pytest.mark.parametrize(("role", "request_"), NEEDED, ids=[f"{r}-{q.action}" for r, q in NEEDED])
def test_needed_call_is_allowed(bootstrap: BootstrapPolicies, role: str, request_: Request) -> None:
    assert decide(bootstrap, role, request_) is Decision.ALLOWED, request_


@pytest.mark.parametrize(("role", "request_"), REFUSED, ids=[f"{r}-{q.action}" for r, q in REFUSED])
def test_escalation_or_overreach_is_denied(bootstrap: BootstrapPolicies, role: str, request_: Request) -> None:
    assert decide(bootstrap, role, request_) is not Decision.ALLOWED, request_


def test_a_rewritten_function_role_stays_inside_the_boundary(bootstrap: BootstrapPolicies) -> None:
    """The escalation's last step: even with `*:*` written into the function role, the boundary caps it."""
    rewritten = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}
    boundary = bootstrap.function_boundary
    assert evaluate(Request("iam:CreateRole", "arn:aws:iam::1:role/x"), [rewritten], boundary) is Decision.IMPLICIT_DENY
    assert (
        evaluate(Request("s3:PutObject", f"{MODEL_BUCKET}/models/current"), [rewritten], boundary)
        is Decision.IMPLICIT_DENY
    )
    serving = [
        Request("s3:GetObject", f"{MODEL_BUCKET}/models/current"),
        Request("s3:ListBucket", MODEL_BUCKET, {"s3:prefix": "models/"}),
        Request("logs:PutLogEvents", f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:/aws/lambda/{STACK}:log-stream:s"),
        Request("xray:PutTraceSegments", "*"),
    ]
    for request in serving:
        assert evaluate(request, [rewritten], boundary) is Decision.ALLOWED, request


def test_every_role_carries_the_escalation_guard(bootstrap: BootstrapPolicies) -> None:
    assert set(bootstrap.roles) == {"plan", "deploy", "train", "monitor"}
    for role in bootstrap.roles:
        guard = Request("iam:DeleteRolePermissionsBoundary", f"arn:aws:iam::{ACCOUNT}:role/{STACK}-github-{role}")
        assert decide(bootstrap, role, guard) is Decision.EXPLICIT_DENY
