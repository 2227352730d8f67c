"""The S3 request → IAM request rules, one case per rule."""

from __future__ import annotations

import pytest

from iam_check.evaluator import Request
from iam_check.s3_calls import UnknownOperation, iam_requests

B = "arn:aws:s3:::b"


def mapped(method: str, url: str, headers: dict[str, str] | None = None) -> list[Request]:
    return list(iam_requests(method, url, headers or {}))


@pytest.mark.parametrize(
    ("method", "url", "expected"),
    [
        (
            "PUT",
            "http://h/b/models/v1/model.onnx?x-id=PutObject",
            [Request("s3:PutObject", f"{B}/models/v1/model.onnx")],
        ),
        ("GET", "http://h/b?list-type=2&prefix=models%2F", [Request("s3:ListBucket", B, {"s3:prefix": "models/"})]),
        ("GET", "http://h/b?versions", [Request("s3:ListBucketVersions", B)]),
        ("GET", "http://h/b?versioning", [Request("s3:GetBucketVersioning", B)]),
        ("DELETE", "http://h/b?lifecycle", [Request("s3:PutLifecycleConfiguration", B)]),
        ("DELETE", "http://h/b?encryption", [Request("s3:PutEncryptionConfiguration", B)]),
        ("DELETE", "http://h/b/k?x-id=DeleteObject", [Request("s3:DeleteObject", f"{B}/k")]),
        ("POST", "http://h/b/k?uploads", [Request("s3:PutObject", f"{B}/k")]),
        ("PUT", "http://h/b/k?partNumber=1&uploadId=u&x-id=UploadPart", [Request("s3:PutObject", f"{B}/k")]),
    ],
)
def test_operation_to_action_and_resource(method: str, url: str, expected: list[Request]) -> None:
    assert mapped(method, url) == expected


def test_reads_also_need_list_bucket_so_a_missing_key_is_a_404() -> None:
    for method in ("GET", "HEAD"):
        assert mapped(method, "http://h/b/models/current") == [
            Request("s3:GetObject", f"{B}/models/current"),
            Request("s3:ListBucket", B),
        ]


def test_copy_reads_the_source_and_writes_the_destination() -> None:
    assert mapped("PUT", "http://h/b/models/current?x-id=CopyObject", {"X-Amz-Copy-Source": "b/models/v1/m"}) == [
        Request("s3:PutObject", f"{B}/models/current"),
        Request("s3:GetObject", f"{B}/models/v1/m"),
    ]


def test_an_operation_without_a_rule_is_refused_not_guessed() -> None:
    with pytest.raises(UnknownOperation):
        mapped("POST", "http://h/b?delete")  # DeleteObjects without its body: no keys to authorize
    with pytest.raises(UnknownOperation):
        mapped("PATCH", "http://h/b")


def test_delete_objects_is_authorized_per_key_and_version() -> None:
    body = (
        b'<Delete xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Object><Key>a</Key></Object>'
        b"<Object><Key>m/b</Key><VersionId>v1</VersionId></Object><Quiet>true</Quiet></Delete>"
    )
    assert list(iam_requests("POST", "http://h/b?delete=", {}, body)) == [
        Request("s3:DeleteObject", f"{B}/a"),
        Request("s3:DeleteObjectVersion", f"{B}/m/b"),
    ]


@pytest.mark.parametrize(
    ("query", "action"),
    [
        # GetBucketLifecycle (deprecated) and GetBucketLifecycleConfiguration share the route and the action.
        ("lifecycle=", "s3:GetLifecycleConfiguration"),
        ("object-lock=", "s3:GetBucketObjectLockConfiguration"),
        ("replication=", "s3:GetReplicationConfiguration"),
        ("accelerate=", "s3:GetAccelerateConfiguration"),
    ],
)
def test_bucket_configuration_reads_under_their_action_names(query: str, action: str) -> None:
    assert mapped("GET", f"http://h/b?{query}") == [Request(action, B)]
