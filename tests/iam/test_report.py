"""The per-role check: denials, and grants neither used nor explained."""

from __future__ import annotations

from tools.iam_check.evaluator import Request
from tools.iam_check.report import check_role, table

POLICY = {
    "Version": "2012-10-17",
    "Statement": [
        {"Effect": "Allow", "Action": ["s3:GetObject", "s3:DeleteObjectVersion"], "Resource": "arn:aws:s3:::b/*"},
        {"Effect": "Allow", "Action": "s3:List*", "Resource": "arn:aws:s3:::b"},
    ],
}


def test_denied_and_unused_grants() -> None:
    requests = [Request("s3:GetObject", "arn:aws:s3:::b/k"), Request("s3:PutObject", "arn:aws:s3:::b/k")]
    report = check_role("r", 2, requests, POLICY, {})
    assert report.denied == (requests[1],)
    assert report.unused == ("s3:DeleteObjectVersion", "s3:List*")


def test_a_wildcard_grant_counts_as_used_and_a_reason_explains_the_rest() -> None:
    requests = [Request("s3:GetObject", "arn:aws:s3:::b/k"), Request("s3:ListBucket", "arn:aws:s3:::b")]
    report = check_role("r", 2, requests, POLICY, {"s3:DeleteObjectVersion": "destroy-only"})
    assert (report.denied, report.unused) == ((), ())
    assert [cell.strip() for cell in table([report]).splitlines()[2].split("|")] == ["r", "2", "2", "2", "0", "0"]
