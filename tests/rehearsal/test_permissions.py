"""The rehearsal's IAM judgement: calls recorded at the proxy, attributed to the role whose session signed
them, and evaluated against that role's policies as moto holds them (inline, attached, boundary)."""

from __future__ import annotations

import json
from urllib.parse import quote

import boto3
import pytest

from rehearsal.permissions import RoleAudit, access_key, document
from rehearsal.proxy import proxy_to
from rehearsal.servers import local_client

BUCKET = "permissions-audit"


def policy(*statements: dict) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


def allow(action: str, resource: str) -> dict:
    return {"Effect": "Allow", "Action": action, "Resource": resource}


@pytest.fixture(scope="module")
def roles(rehearsal_moto: str) -> str:
    """Both roles: inline GetObject on a/*, attached GetObject on b/*; `bounded` has a boundary that only
    allows a/*. ListBucket on the bucket for both: S3 asks for it on every GetObject (404 or 403)."""
    iam, s3 = local_client(rehearsal_moto, "iam"), local_client(rehearsal_moto, "s3")
    s3.create_bucket(Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": "eu-central-1"})
    for key in ("a/x", "b/x", "c/x"):
        s3.put_object(Bucket=BUCKET, Key=key, Body=b"v")
    bucket, objects = f"arn:aws:s3:::{BUCKET}", f"arn:aws:s3:::{BUCKET}/"
    read_b = policy(allow("s3:GetObject", f"{objects}b/*"))
    read_a = policy(allow("s3:GetObject", f"{objects}a/*"), allow("s3:ListBucket", bucket))
    attached = iam.create_policy(PolicyName="read-b", PolicyDocument=read_b)["Policy"]["Arn"]
    bound = policy(allow("s3:*", f"{objects}a/*"), allow("s3:ListBucket", bucket))
    boundary = iam.create_policy(PolicyName="bound", PolicyDocument=bound)
    for name, extra in (("reader", {}), ("bounded", {"PermissionsBoundary": boundary["Policy"]["Arn"]})):
        iam.create_role(RoleName=name, AssumeRolePolicyDocument="{}", **extra)
        iam.put_role_policy(RoleName=name, PolicyName="read-a", PolicyDocument=read_a)
        iam.attach_role_policy(RoleName=name, PolicyArn=attached)
    return rehearsal_moto


def read_through_proxy(endpoint: str, audit: RoleAudit, key_id: str, keys: tuple[str, ...]) -> None:
    with proxy_to(endpoint, lambda request, ask: (audit.record(request), ask())[1]) as url:
        audit.endpoint = url
        s3 = boto3.client("s3", endpoint_url=url, region_name="eu-central-1", aws_access_key_id=key_id,
                          aws_secret_access_key="secret")  # fmt: skip
        for key in keys:
            s3.get_object(Bucket=BUCKET, Key=key)


def test_each_call_is_judged_by_the_policies_of_the_role_that_signed_it(roles: str):
    audit = RoleAudit(local_client(roles, "iam"), "123456789012", endpoint="")
    audit.session("AKIDREADER", "reader")
    start = audit.mark()
    read_through_proxy(roles, audit, "AKIDREADER", ("a/x", "b/x", "c/x"))
    middle = audit.mark()
    read_through_proxy(roles, audit, "ADMIN", ("c/x",))  # not a pipeline role's: not judged
    assert (audit.roles_since(start), audit.roles_since(middle)) == ({"reader"}, set())
    counted, denied = audit.judge()
    assert counted == {"reader": 6}  # GetObject and ListBucket each
    denials = [(denial.role, denial.action, denial.resource) for denial in denied]
    assert denials == [("reader", "s3:GetObject", f"arn:aws:s3:::{BUCKET}/c/x")]
    assert audit.judge() == ({}, [])  # each call is judged once


def test_a_permissions_boundary_caps_what_the_policies_allow(roles: str):
    audit = RoleAudit(local_client(roles, "iam"), "123456789012", endpoint="")
    audit.session("AKIDBOUNDED", "bounded")
    read_through_proxy(roles, audit, "AKIDBOUNDED", ("a/x", "b/x"))
    _, denied = audit.judge()
    assert [d.resource for d in denied] == [f"arn:aws:s3:::{BUCKET}/b/x"]  # attached allows it, the boundary not


def test_the_access_key_comes_from_the_sigv4_credential():
    header = "AWS4-HMAC-SHA256 Credential=ASIAEXAMPLE/20261202/eu-central-1/s3/aws4_request, SignedHeaders=host"
    assert access_key({"Authorization": header}) == "ASIAEXAMPLE"
    assert access_key({}) == ""


def test_policy_documents_may_come_url_encoded():
    text = policy(allow("s3:GetObject", "*"))
    assert document(quote(text)) == document(json.loads(text)) == json.loads(text)
