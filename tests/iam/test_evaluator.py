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


# ------------------------------------------------------------- cases the AWS docs decide (IAM User Guide)


def decide(condition: dict, context: dict, resource: str = "x") -> Decision:
    return evaluate(Request("s3:GetObject", resource, context), [policy(allow("s3:GetObject", Condition=condition))])


SOURCE = "aws:SourceArn"


@pytest.mark.parametrize("operator", ["ArnEquals", "ArnLike"])
def test_arn_operators_match_part_by_part_with_wildcards(operator: str) -> None:
    # "ArnEquals, ArnLike: Case-sensitive matching of the ARN. Each of the six colon-delimited components
    # of the ARN is checked separately and each can include multi-character match wildcards (*) or
    # single-character match wildcards (?)."
    rule = {operator: {SOURCE: "arn:aws:sns:*:123456789012:topic-?"}}
    assert decide(rule, {SOURCE: "arn:aws:sns:eu-central-1:123456789012:topic-a"}) is Decision.ALLOWED
    # A wildcard in one part cannot take in the next part's colon.
    assert decide(rule, {SOURCE: "arn:aws:sns:eu:central:123456789012:topic-a"}) is Decision.IMPLICIT_DENY
    spanning = {operator: {SOURCE: "arn:aws:*:123456789012:topic"}}
    assert decide(spanning, {SOURCE: "arn:aws:sns:eu-central-1:123456789012:topic"}) is Decision.IMPLICIT_DENY
    # The resource part may itself hold colons (function:name:alias).
    function = {operator: {SOURCE: "arn:aws:lambda:*:123456789012:function:model*"}}
    assert decide(function, {SOURCE: "arn:aws:lambda:r:123456789012:function:model:live"}) is Decision.ALLOWED


def test_arn_not_equals_is_the_negation_of_the_wildcard_match() -> None:
    rule = {"ArnNotEquals": {SOURCE: "arn:aws:sns:*:123456789012:*"}}
    assert decide(rule, {SOURCE: "arn:aws:sns:r:123456789012:t"}) is Decision.IMPLICIT_DENY
    assert decide(rule, {SOURCE: "arn:aws:sns:r:999999999999:t"}) is Decision.ALLOWED


@pytest.mark.parametrize("operator", ["NotIpAddress", "NumericNotEquals", "DateGreaterThan", "ForAllValues:IpAddress"])
def test_an_unimplemented_operator_is_refused_even_when_the_key_is_absent(operator: str) -> None:
    with pytest.raises(UnsupportedCondition):
        decide({operator: {"k": "1"}}, {})


def test_for_all_values_holds_for_an_absent_key_and_for_any_value_does_not() -> None:
    # "ForAllValues ... returns true if there are no keys in the request, or if the key values resolve
    # to a null data set"; ForAnyValue needs at least one value that matches.
    tags = "aws:TagKeys"
    all_values = {"ForAllValues:StringEquals": {tags: ["Project", "Environment"]}}
    assert decide(all_values, {}) is Decision.ALLOWED
    assert decide(all_values, {tags: ["Project"]}) is Decision.ALLOWED
    assert decide(all_values, {tags: ["Project", "Owner"]}) is Decision.IMPLICIT_DENY
    any_value = {"ForAnyValue:StringEquals": {tags: ["Project"]}}
    assert decide(any_value, {}) is Decision.IMPLICIT_DENY
    assert decide(any_value, {tags: ["Owner", "Project"]}) is Decision.ALLOWED
    none_of = {"ForAllValues:StringNotLike": {tags: ["aws:*"]}}
    assert decide(none_of, {tags: ["Project"]}) is Decision.ALLOWED
    assert decide(none_of, {tags: ["Project", "aws:cloudformation:stack"]}) is Decision.IMPLICIT_DENY


def test_policy_variables_are_filled_from_the_request() -> None:
    # The User Guide's home-folder example: Resource arn:aws:s3:::bucket/home/${aws:username}/*.
    home = policy(allow("s3:GetObject", "arn:aws:s3:::bucket/home/${aws:username}/*"))
    alice = {"aws:username": "alice"}

    def get(key: str, context: dict) -> Decision:
        return evaluate(Request("s3:GetObject", f"arn:aws:s3:::bucket/{key}", context), [home])

    assert get("home/alice/notes", alice) is Decision.ALLOWED
    assert get("home/bob/notes", alice) is Decision.IMPLICIT_DENY
    assert get("home/${aws:username}/notes", alice) is Decision.IMPLICIT_DENY  # not matched as literal text
    assert get("home/alice/notes", {}) is Decision.IMPLICIT_DENY  # an absent key matches nothing
    # A value is text, not a pattern: a user named "*" owns only the folder "*".
    assert get("home/bob/notes", {"aws:username": "*"}) is Decision.IMPLICIT_DENY
    assert get("home/*/notes", {"aws:username": "*"}) is Decision.ALLOWED
    owner = {"StringEquals": {"aws:ResourceTag/Owner": "${aws:username}"}}
    assert decide(owner, {"aws:ResourceTag/Owner": "alice", **alice}) is Decision.ALLOWED
    assert decide(owner, {"aws:ResourceTag/Owner": "bob", **alice}) is Decision.IMPLICIT_DENY


def test_special_characters_are_literal_in_patterns() -> None:
    # ${*}, ${?}, ${$} stand for the characters themselves.
    literal = policy(allow("s3:GetObject", "arn:aws:s3:::bucket/${*}/x"))
    assert evaluate(Request("s3:GetObject", "arn:aws:s3:::bucket/*/x"), [literal]) is Decision.ALLOWED
    assert evaluate(Request("s3:GetObject", "arn:aws:s3:::bucket/a/x"), [literal]) is Decision.IMPLICIT_DENY
    assert decide({"StringEquals": {"k": "cost${$}"}}, {"k": "cost$"}) is Decision.ALLOWED


def test_a_deny_in_the_boundary_is_an_explicit_deny() -> None:
    boundary = policy(allow("*"), {"Effect": "Deny", "Action": "iam:*", "Resource": "*"})
    only_s3 = [policy(allow("s3:*"))]
    # The identity policy only implicitly denies iam:CreateRole; the boundary's Deny makes it explicit.
    assert evaluate(Request("iam:CreateRole", "arn:aws:iam::1:role/x"), only_s3, boundary) is Decision.EXPLICIT_DENY
    assert evaluate(Request("s3:GetObject", "arn:aws:s3:::b/k"), only_s3, boundary) is Decision.ALLOWED


# ------------------------------------------------- API Gateway's tag examples (API Gateway developer guide)


def api_request(method: str, tags: dict[str, str], prefix: str = "ResourceTag") -> Request:
    context = {f"aws:{prefix}/{key}": value for key, value in tags.items()}
    return Request(f"apigateway:{method}", "arn:aws:apigateway:eu-central-1::/restapis/a1", context)


def test_limit_actions_based_on_resource_tags() -> None:
    # "grants users permission to perform all actions on all resources, as long as those resources don't have
    # the tag Environment with a value of prod": the Deny holds for a prod-tagged resource only; an untagged
    # one (the key absent) matches no StringEquals, so the Allow decides.
    policies = [
        policy(
            allow("apigateway:*"),
            {
                "Effect": "Deny",
                "Action": ["apigateway:*"],
                "Resource": "*",
                "Condition": {"StringEquals": {"aws:ResourceTag/Environment": "prod"}},
            },
        )
    ]
    assert evaluate(api_request("PATCH", {"Environment": "prod"}), policies) is Decision.EXPLICIT_DENY
    assert evaluate(api_request("PATCH", {"Environment": "staging"}), policies) is Decision.ALLOWED
    assert evaluate(api_request("PATCH", {}), policies) is Decision.ALLOWED


def test_allow_actions_based_on_resource_tags_and_deny_changing_the_tag() -> None:
    # "allows users to perform all actions on API Gateway resources, as long as the resources have the tag
    # Environment with a value of Development. The Deny statement prevents the users from changing the value
    # of the Environment tag."
    policies = [
        policy(
            allow("apigateway:*", Condition={"StringEquals": {"aws:ResourceTag/Environment": "Development"}}),
            {
                "Effect": "Deny",
                "Action": "apigateway:*",
                "Resource": "*",
                "Condition": {"ForAnyValue:StringEquals": {"aws:TagKeys": "Environment"}},
            },
        )
    ]
    development = {"aws:ResourceTag/Environment": "Development"}
    get = Request("apigateway:GET", "arn:aws:apigateway:eu-central-1::/restapis/a1", development)
    assert evaluate(get, policies) is Decision.ALLOWED
    # The tag key absent from the resource: no Allow; the key production: no Allow either.
    assert evaluate(api_request("GET", {}), policies) is Decision.IMPLICIT_DENY
    assert evaluate(api_request("GET", {"Environment": "Production"}), policies) is Decision.IMPLICIT_DENY
    retag = Request(
        "apigateway:PUT",
        "arn:aws:apigateway:eu-central-1::/tags/x",
        {**development, "aws:TagKeys": ["Environment"], "aws:RequestTag/Environment": "Production"},
    )
    assert evaluate(retag, policies) is Decision.EXPLICIT_DENY
    # Tagging with another key: ForAnyValue finds no Environment among the keys, the Allow decides.
    owner = Request(
        "apigateway:PUT", "arn:aws:apigateway:eu-central-1::/tags/x", {**development, "aws:TagKeys": ["Owner"]}
    )
    assert evaluate(owner, policies) is Decision.ALLOWED


def test_a_deny_listing_several_values_holds_for_any_of_them() -> None:
    # The values of one key are OR'ed: the bootstrap's Deny lists every other stage's environment.
    deny = {
        "Effect": "Deny",
        "Action": "apigateway:*",
        "Resource": "*",
        "Condition": {"StringEquals": {"aws:ResourceTag/Environment": ["prod", "live"]}},
    }
    policies = [policy(allow("apigateway:*"), deny)]
    assert evaluate(api_request("GET", {"Environment": "live"}), policies) is Decision.EXPLICIT_DENY
    assert evaluate(api_request("GET", {"Environment": "staging"}), policies) is Decision.ALLOWED
