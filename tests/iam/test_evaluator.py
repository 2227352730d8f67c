"""The evaluator against the IAM evaluation rules it claims to implement."""

from __future__ import annotations

import pytest

from iam_check.evaluator import Decision, Request, UnsupportedCondition, evaluate, matches


def policy(*statements: dict) -> dict:
    return {"Version": "2012-10-17", "Statement": list(statements)}


def allow(action: object, resource: object = "*", **extra: object) -> dict:
    return {"Effect": "Allow", "Action": action, "Resource": resource, **extra}


@pytest.mark.parametrize(
    ("pattern", "value", "expected"),
    [
        ("arn:aws:s3:::bucket/models/*", "arn:aws:s3:::bucket/models/versions/a", True),
        ("arn:aws:s3:::bucket/models/*", "arn:aws:s3:::bucket/data/x", False),
        (
            "arn:aws:logs:r:1:log-group:API-Gateway-Execution-Logs_*/predict",
            "arn:aws:logs:r:1:log-group:API-Gateway-Execution-Logs_ab12/predict",
            True,
        ),
        (
            "arn:aws:logs:r:1:log-group:API-Gateway-Execution-Logs_*/predict",
            "arn:aws:logs:r:1:log-group:API-Gateway-Execution-Logs_ab12/other",
            False,
        ),
        ("a?c", "abc", True),
        ("a?c", "abbc", False),
        ("a.c", "abc", False),  # regex characters are literal
    ],
)
def test_wildcards(pattern: str, value: str, expected: bool) -> None:
    assert matches(pattern, value) is expected


def test_actions_are_case_insensitive_and_globbed() -> None:
    assert (
        evaluate(Request("S3:GetBucketTagging", "arn:aws:s3:::b"), [policy(allow("s3:GetBucket*"))]) is Decision.ALLOWED
    )
    assert (
        evaluate(Request("s3:PutBucketTagging", "arn:aws:s3:::b"), [policy(allow("s3:GetBucket*"))])
        is Decision.IMPLICIT_DENY
    )


def test_explicit_deny_beats_allow() -> None:
    policies = [
        policy(allow("iam:*"), {"Effect": "Deny", "Action": "iam:PutRolePolicy", "Resource": "arn:aws:iam::1:role/x-*"})
    ]
    assert evaluate(Request("iam:PutRolePolicy", "arn:aws:iam::1:role/x-deploy"), policies) is Decision.EXPLICIT_DENY
    assert evaluate(Request("iam:PutRolePolicy", "arn:aws:iam::1:role/y"), policies) is Decision.ALLOWED


def test_not_action_and_not_resource() -> None:
    policies = [policy({"Effect": "Allow", "NotAction": "iam:*", "NotResource": "arn:aws:s3:::secret/*"})]
    assert evaluate(Request("s3:GetObject", "arn:aws:s3:::open/k"), policies) is Decision.ALLOWED
    assert evaluate(Request("s3:GetObject", "arn:aws:s3:::secret/k"), policies) is Decision.IMPLICIT_DENY
    assert evaluate(Request("iam:GetRole", "arn:aws:iam::1:role/r"), policies) is Decision.IMPLICIT_DENY


def test_s3_prefix_condition_and_the_404_check() -> None:
    listed = [
        policy(
            allow("s3:ListBucket", "arn:aws:s3:::b", Condition={"StringLike": {"s3:prefix": ["models", "models/*"]}})
        )
    ]
    assert (
        evaluate(Request("s3:ListBucket", "arn:aws:s3:::b", {"s3:prefix": "models/versions/"}), listed)
        is Decision.ALLOWED
    )
    assert (
        evaluate(Request("s3:ListBucket", "arn:aws:s3:::b", {"s3:prefix": "data/"}), listed) is Decision.IMPLICIT_DENY
    )
    # S3's "may this caller learn the key is missing" check carries no s3:prefix: the condition fails.
    assert evaluate(Request("s3:ListBucket", "arn:aws:s3:::b"), listed) is Decision.IMPLICIT_DENY


def test_passed_to_service() -> None:
    passing = [
        policy(
            allow(
                "iam:PassRole",
                "arn:aws:iam::1:role/f",
                Condition={"StringEquals": {"iam:PassedToService": "lambda.amazonaws.com"}},
            )
        )
    ]
    assert (
        evaluate(
            Request("iam:PassRole", "arn:aws:iam::1:role/f", {"iam:PassedToService": "lambda.amazonaws.com"}), passing
        )
        is Decision.ALLOWED
    )
    assert (
        evaluate(
            Request("iam:PassRole", "arn:aws:iam::1:role/f", {"iam:PassedToService": "ec2.amazonaws.com"}), passing
        )
        is Decision.IMPLICIT_DENY
    )
    assert evaluate(Request("iam:PassRole", "arn:aws:iam::1:role/f"), passing) is Decision.IMPLICIT_DENY


def test_condition_blocks_are_anded_and_values_ored() -> None:
    tagged = [
        policy(
            allow(
                "logs:DeleteLogGroup",
                Condition={
                    "StringEquals": {"aws:ResourceTag/Project": ["a", "b"], "aws:ResourceTag/Environment": "prod"}
                },
            )
        )
    ]
    both = {"aws:ResourceTag/Project": "b", "aws:resourcetag/environment": "prod"}
    assert evaluate(Request("logs:DeleteLogGroup", "x", both), tagged) is Decision.ALLOWED
    assert (
        evaluate(Request("logs:DeleteLogGroup", "x", {"aws:ResourceTag/Project": "b"}), tagged)
        is Decision.IMPLICIT_DENY
    )


def test_negated_if_exists_and_null_operators() -> None:
    def decide(condition: dict, context: dict) -> Decision:
        return evaluate(Request("s3:GetObject", "x", context), [policy(allow("s3:GetObject", Condition=condition))])

    assert decide({"StringNotEquals": {"k": "v"}}, {}) is Decision.ALLOWED
    assert decide({"StringNotEquals": {"k": "v"}}, {"k": "v"}) is Decision.IMPLICIT_DENY
    assert decide({"StringLikeIfExists": {"k": "v*"}}, {}) is Decision.ALLOWED
    assert decide({"StringLikeIfExists": {"k": "v*"}}, {"k": "w"}) is Decision.IMPLICIT_DENY
    assert decide({"Null": {"k": "true"}}, {}) is Decision.ALLOWED
    assert decide({"Null": {"k": "false"}}, {}) is Decision.IMPLICIT_DENY
    assert decide({"Bool": {"aws:SecureTransport": "true"}}, {"aws:SecureTransport": "true"}) is Decision.ALLOWED
    with pytest.raises(UnsupportedCondition):
        decide({"NumericLessThan": {"k": "3"}}, {"k": "2"})


def test_boundary_caps_the_identity_policy() -> None:
    admin = [policy(allow("*"))]
    boundary = policy(allow("s3:GetObject", "arn:aws:s3:::b/models/*"))
    assert evaluate(Request("s3:GetObject", "arn:aws:s3:::b/models/current"), admin, boundary) is Decision.ALLOWED
    assert evaluate(Request("iam:CreateRole", "arn:aws:iam::1:role/x"), admin, boundary) is Decision.IMPLICIT_DENY
