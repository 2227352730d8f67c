"""moto_server with one correction for the rehearsal: every request stands in for an HTTPS one.

The buckets' policies deny `aws:SecureTransport = false`. moto cannot evaluate that condition and applies
the Deny to every object call; on AWS the workflows always use HTTPS, so the statement never applies to
them. The policy is evaluated here as AWS would for an HTTPS request: without those statements."""

from __future__ import annotations

import json
import sys

from moto import server
from moto.s3.models import FakeBucket

_get_permission = FakeBucket.get_permission


def insecure_transport_only(statement: dict) -> bool:
    return statement.get("Effect") == "Deny" and statement.get("Condition") == {
        "Bool": {"aws:SecureTransport": "false"}
    }


def get_permission_over_https(self: FakeBucket, action: str, resource: str):
    if self.policy is None:
        return _get_permission(self, action, resource)
    policy = json.loads(self.policy)
    statements = policy.get("Statement", [])
    statements = [statements] if isinstance(statements, dict) else statements
    kept = [statement for statement in statements if not insecure_transport_only(statement)]
    original = self.policy
    try:
        self.policy = json.dumps({**policy, "Statement": kept}).encode() if kept else None
        return _get_permission(self, action, resource)
    finally:
        self.policy = original


FakeBucket.get_permission = get_permission_over_https

if __name__ == "__main__":
    server.main(sys.argv[1:])
