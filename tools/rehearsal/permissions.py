"""Every AWS call the rehearsed workflows make, judged against the policies of the role that made it.

moto enforces no IAM. The proxy in front of it sees each request; its SigV4 access key names the session
the job's configure-aws-credentials step assumed, so the call belongs to that role. The role's policies
are read back from moto as the bootstrap applied them (inline, attached, and the permissions boundary),
each request is mapped to IAM actions and resources by iam_check (botocore's models, the Service
Authorization Reference), and the evaluator decides it. Calls signed with other keys (the rehearsal's own
admin calls, the API Gateway stand-in's invokes) are not a pipeline role's and are not judged.
"""

from __future__ import annotations

import json
import threading
from collections import Counter
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote

from iam_check.apigateway_tags import ResourceTags
from iam_check.evaluator import Decision, Policy, Request, evaluate
from iam_check.recording import RecordedCall
from iam_check.service_calls import Observed, iam_requests
from rehearsal.proxy import ProxiedRequest


@dataclass(frozen=True)
class Denial:
    role: str
    action: str
    resource: str
    call: str  # METHOD path, as sent

    def __str__(self) -> str:
        return f"{self.role}: {self.action} on {self.resource} ({self.call}) is denied"


@dataclass
class RoleAudit:
    """The calls recorded at the proxy, judged a stage at a time."""

    iam: Any  # a boto3 IAM client talking to moto directly
    account: str
    endpoint: str  # the proxy's URL, to turn a request target back into the URL the caller used
    # An API Gateway client talking to moto directly: API Gateway requests name resources by generated IDs, so
    # their tags (which the stages' isolation conditions read) come from what moto holds when they are judged.
    apigateway: Any = None
    sessions: dict[str, str] = field(default_factory=dict)  # access key id -> role name
    calls: list[tuple[str, RecordedCall]] = field(default_factory=list)
    judged: int = 0
    observed: Observed = field(default_factory=Observed)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def session(self, access_key_id: str, role_name: str) -> None:
        self.sessions[access_key_id] = role_name

    def record(self, request: ProxiedRequest) -> None:
        """Called by the proxy for every request (from its threads)."""
        call = RecordedCall(request.method, f"{self.endpoint}{request.target}", request.headers, request.body)
        key = access_key(call.headers)
        with self.lock:
            self.calls.append((key, call))

    def mark(self) -> int:
        """A point in the recording, for roles_since."""
        with self.lock:
            return len(self.calls)

    def roles_since(self, mark: int) -> set[str]:
        """The pipeline roles that made calls since `mark` (e.g. "did production's role act meanwhile?")."""
        with self.lock:
            keys = {key for key, _ in self.calls[mark:]}
        return {self.sessions[key] for key in keys if key in self.sessions}

    def judge(self) -> tuple[Counter, list[Denial]]:
        """The requests of the calls recorded since the last judgement, per role, and those denied."""
        with self.lock:
            calls, self.judged = self.calls[self.judged :], len(self.calls)
        if self.apigateway is not None:
            self.observed.apigateway = ResourceTags.read(self.apigateway)
        counted: Counter = Counter()
        denied: list[Denial] = []
        policies: dict[str, tuple[list[Policy], Policy | None]] = {}
        for key, call in calls:
            role = self.sessions.get(key)
            if role is None:
                continue
            if role not in policies:
                policies[role] = role_policies(self.iam, role)
            identity, boundary = policies[role]
            for request in iam_requests(call, self.account, self.observed):
                counted[role] += 1
                if evaluate(request, identity, boundary) is not Decision.ALLOWED:
                    denied.append(denial(role, request, call))
        return counted, sorted(set(denied), key=str)


def denial(role: str, request: Request, call: RecordedCall) -> Denial:
    return Denial(role, request.action, request.resource, f"{call.method} {call.url.split('/', 3)[-1][:120]}")


def access_key(headers: dict[str, str]) -> str:
    """The access key id of a SigV4 request (Authorization: ... Credential=<key>/<scope>, ...)."""
    authorization = next((value for name, value in headers.items() if name.lower() == "authorization"), "")
    return authorization.partition("Credential=")[2].split("/", 1)[0]


def role_policies(iam: Any, role_name: str) -> tuple[list[Policy], Policy | None]:
    """A role's identity policies and permissions boundary as applied (moto keeps them as written)."""
    identity = [
        document(iam.get_role_policy(RoleName=role_name, PolicyName=name)["PolicyDocument"])
        for name in iam.list_role_policies(RoleName=role_name)["PolicyNames"]
    ]
    identity += [
        managed_policy(iam, attached["PolicyArn"])
        for attached in iam.list_attached_role_policies(RoleName=role_name)["AttachedPolicies"]
    ]
    boundary_arn = (iam.get_role(RoleName=role_name)["Role"].get("PermissionsBoundary") or {}).get(
        "PermissionsBoundaryArn"
    )
    return identity, managed_policy(iam, boundary_arn) if boundary_arn else None


def managed_policy(iam: Any, arn: str) -> Policy:
    version = iam.get_policy(PolicyArn=arn)["Policy"]["DefaultVersionId"]
    return document(iam.get_policy_version(PolicyArn=arn, VersionId=version)["PolicyVersion"]["Document"])


def document(value: Any) -> Policy:
    """IAM returns policy documents URL-encoded; boto3 decodes some and not others."""
    return value if isinstance(value, dict) else json.loads(unquote(value))
