"""What a job's GITHUB_TOKEN and OIDC token may do, as GitHub decides it from the `permissions:` blocks.

A job's own block wins over its workflow's; a job with neither gets the repository's default (a workflow
started by an event) or, in a called workflow, what its caller job was granted. A called workflow can only
narrow what its caller grants: each scope is the lower of the two. The rehearsal asks this before it hands
out what GitHub would refuse: an OIDC token without `id-token: write`, a checkout without `contents: read`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

Grants = dict[str, str]

LEVELS = ("none", "read", "write")
SCOPES = (
    "actions", "attestations", "checks", "contents", "deployments", "discussions", "id-token", "issues",
    "models", "packages", "pages", "pull-requests", "repository-projects", "security-events", "statuses",
)  # fmt: skip
# A repository's "restricted" default (GitHub's for new repositories and organisations).
REPOSITORY_DEFAULT: Grants = {scope: "none" for scope in SCOPES} | {"contents": "read", "packages": "read"}


class PermissionsError(ValueError):
    """A `permissions:` block GitHub would refuse."""


class MissingGrant(AssertionError):
    """A step needs a token scope its job is not granted: on GitHub that step would fail."""


def declared(block: Any) -> Grants | None:
    """The grants a `permissions:` value spells out; None when there is no block."""
    if block is None:
        return None
    if block in ("read-all", "write-all"):
        level = block.removesuffix("-all")
        # id-token has no read level: read-all leaves it at none.
        return {scope: "none" if (scope, level) == ("id-token", "read") else level for scope in SCOPES}
    if not isinstance(block, Mapping):
        raise PermissionsError(f"permissions must be read-all, write-all or a mapping, not {block!r}")
    unknown = sorted(set(block) - set(SCOPES))
    if unknown:
        raise PermissionsError(f"unknown permission scope(s) {', '.join(unknown)}")
    bad = {scope: level for scope, level in block.items() if level not in LEVELS}
    if bad or block.get("id-token") == "read":
        raise PermissionsError(f"unusable permission level(s) {bad or {'id-token': 'read'}}")
    return {scope: block.get(scope, "none") for scope in SCOPES}


def effective(job: Mapping[str, Any], workflow: Mapping[str, Any], caller: Grants | None = None) -> Grants:
    """The job's grants: its own block, else its workflow's, else the caller's or the default; capped by the caller."""
    own = declared(job.get("permissions"))
    if own is None:
        own = declared(workflow.get("permissions"))
    if own is None:
        own = dict(caller if caller is not None else REPOSITORY_DEFAULT)
    if caller is None:
        return own
    return {scope: min(own[scope], caller[scope], key=LEVELS.index) for scope in SCOPES}


def allows(grants: Grants, scope: str, level: str) -> bool:
    return LEVELS.index(grants[scope]) >= LEVELS.index(level)


def require(grants: Grants, scope: str, level: str, job_id: str, consequence: str) -> None:
    if not allows(grants, scope, level):
        raise MissingGrant(
            f"{job_id}: its effective permissions (its own block, narrowed by its caller's) grant "
            f"{scope}: {grants[scope]}, not {level}, so {consequence}"
        )
