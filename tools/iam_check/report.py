"""Recorded calls of one role against that role's policy: the per-role table, denials and unused grants.

A grant is an action pattern of one Allow statement. It is used when some recorded request matches that
statement (action, resource and conditions), so an action granted on the wrong resource, or only on a
resource no call touches, shows as unused even if another statement covers the call.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from iam_check.evaluator import Decision, Policy, Request, as_list, evaluate, matches, statement_applies, statements

# (statement Sid, action pattern as written).
Grant = tuple[str, str]


@dataclass(frozen=True)
class RoleReport:
    role: str
    calls: int
    requests: tuple[Request, ...]
    denied: tuple[Request, ...]
    # Grants no recorded request used, split by whether a reason explains them.
    explained: tuple[Grant, ...]
    unused: tuple[Grant, ...]

    @property
    def actions(self) -> set[str]:
        return {r.action for r in self.requests}


def grants(policy: Policy) -> list[Grant]:
    """Every (Sid, action pattern) of the policy's Allow statements."""
    return sorted(
        {
            (statement.get("Sid", ""), action)
            for statement in statements([policy])
            if statement.get("Effect") == "Allow"
            for action in as_list(statement.get("Action"))
        }
    )


def unused_grants(policy: Policy, requests: Sequence[Request]) -> list[Grant]:
    used: set[Grant] = set()
    for statement in statements([policy]):
        if statement.get("Effect") != "Allow":
            continue
        for request in requests:
            if statement_applies(statement, request):
                sid = statement.get("Sid", "")
                used |= {
                    (sid, a)
                    for a in as_list(statement.get("Action"))
                    if matches(a, request.action, case_sensitive=False)
                }
    return [grant for grant in grants(policy) if grant not in used]


def check_role(
    role: str,
    calls: int,
    requests: Sequence[Request],
    policy: Policy,
    reasons: Mapping[Grant, str],
    inline: Policy | None = None,
) -> RoleReport:
    """`reasons`: (Sid, action) → why it is granted though no recorded call needs it (e.g. docker push).

    With `inline`, `policy` is the role's permissions boundary and `inline` its own policy: a request must
    pass both, as AWS evaluates them; unused grants are the boundary's (the most the role may ever do)."""
    denied = tuple(
        r
        for r in requests
        if (evaluate(r, [policy]) if inline is None else evaluate(r, [inline], boundary=policy)) is not Decision.ALLOWED
    )
    unused = unused_grants(policy, requests)
    return RoleReport(
        role,
        calls,
        tuple(requests),
        denied,
        explained=tuple(g for g in unused if g in reasons),
        unused=tuple(g for g in unused if g not in reasons),
    )


def stale_reasons(reasons: Mapping[Grant, str], policies: Mapping[str, Policy], reports: Iterable[RoleReport]) -> list:
    """Reasons that explain nothing: their grant is in no policy, or every role holding it uses it. A stale
    reason would hide the next unused grant of that name."""
    explained = {grant for report in reports for grant in report.explained}
    granted = {grant for policy in policies.values() for grant in grants(policy)}
    return sorted(
        (grant, "not granted" if grant not in granted else "used") for grant in reasons if grant not in explained
    )


def table(reports: Iterable[RoleReport]) -> str:
    header = (
        "role",
        "calls recorded",
        "distinct actions",
        "allowed",
        "denied",
        "unused, explained",
        "granted but unused",
    )
    rows = [
        (
            r.role,
            str(r.calls),
            str(len(r.actions)),
            str(len(r.requests) - len(r.denied)),
            str(len(r.denied)),
            str(len(r.explained)),
            str(len(r.unused)),
        )
        for r in reports
    ]
    return _aligned(header, rows)


def _aligned(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]
    lines = [" | ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)) for row in [header, *rows]]
    lines.insert(1, "-+-".join("-" * w for w in widths))
    return "\n".join(lines)


@dataclass(frozen=True)
class AttemptReport:
    """Calls a role must not be able to make, each judged by its own request: the first one its mapping yields
    (the others are what it implies, e.g. S3's 404-or-403 ListBucket of a GetObject, which the call does not
    need to succeed)."""

    role: str
    attempts: tuple[tuple[Request, Decision], ...]

    @property
    def allowed(self) -> list[Request]:
        return [request for request, decision in self.attempts if decision is Decision.ALLOWED]


def check_attempts(role: str, calls: Sequence[Sequence[Request]], policy: Policy) -> AttemptReport:
    if any(not requests for requests in calls):
        raise ValueError(f"{role}: an attempted call needs no permission, so it cannot show a denial")
    return AttemptReport(role, tuple((requests[0], evaluate(requests[0], [policy])) for requests in calls))


def attempts_table(reports: Iterable[AttemptReport]) -> str:
    """One line per attempted call: the role, the action and resource, and the decision."""
    rows = [
        (report.role, request.action, request.resource, decision.value)
        for report in reports
        for request, decision in report.attempts
    ]
    return _aligned(("role", "attempted action", "on", "decision"), rows)
