"""The per-role check: denials, grants neither used nor explained, and reasons that explain nothing."""

from __future__ import annotations

from iam_check.evaluator import Request
from iam_check.report import check_role, stale_reasons, table

POLICY = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Sid": "Objects",
            "Effect": "Allow",
            "Action": ["s3:GetObject", "s3:DeleteObjectVersion"],
            "Resource": "arn:aws:s3:::b/*",
        },
        {"Sid": "Buckets", "Effect": "Allow", "Action": "s3:List*", "Resource": "arn:aws:s3:::b"},
        {"Sid": "Other", "Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::other/*"},
    ],
}
GET = Request("s3:GetObject", "arn:aws:s3:::b/k")


def test_denied_and_unused_grants() -> None:
    requests = [GET, Request("s3:PutObject", "arn:aws:s3:::b/k")]
    report = check_role("r", 2, requests, POLICY, {})
    assert report.denied == (requests[1],)
    assert report.unused == (("Buckets", "s3:List*"), ("Objects", "s3:DeleteObjectVersion"), ("Other", "s3:GetObject"))


def test_a_grant_is_used_only_by_a_request_its_own_statement_matches() -> None:
    # s3:GetObject of b/k uses the Objects statement's grant, not the same action granted on another bucket.
    report = check_role("r", 1, [GET], POLICY, {})
    assert ("Other", "s3:GetObject") in report.unused
    assert ("Objects", "s3:GetObject") not in report.unused


def test_a_wildcard_grant_counts_as_used_and_a_reason_explains_the_rest() -> None:
    requests = [GET, Request("s3:ListBucket", "arn:aws:s3:::b")]
    reasons = {("Objects", "s3:DeleteObjectVersion"): "destroy-only", ("Other", "s3:GetObject"): "elsewhere"}
    report = check_role("r", 2, requests, POLICY, reasons)
    assert (report.denied, report.unused) == ((), ())
    assert report.explained == (("Objects", "s3:DeleteObjectVersion"), ("Other", "s3:GetObject"))
    row = [cell.strip() for cell in table([report]).splitlines()[2].split("|")]
    assert row == ["r", "2", "2", "2", "0", "2", "0"]


def test_a_reason_for_a_used_or_absent_grant_is_stale() -> None:
    reasons = {
        ("Objects", "s3:GetObject"): "used by GET",
        ("Objects", "s3:PutObject"): "not granted",
        ("Objects", "s3:DeleteObjectVersion"): "needed",
    }
    report = check_role("r", 1, [GET], POLICY, reasons)
    assert stale_reasons(reasons, {"r": POLICY}, [report]) == [
        (("Objects", "s3:GetObject"), "used"),
        (("Objects", "s3:PutObject"), "not granted"),
    ]
