"""Recorded calls of one role against that role's policy: the per-role table, denials and unused grants."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from tools.iam_check.evaluator import Decision, Policy, Request, evaluate, granted_actions, matches


@dataclass(frozen=True)
class RoleReport:
    role: str
    calls: int
    requests: tuple[Request, ...]
    denied: tuple[Request, ...]
    # Granted action patterns no recorded request used and no reason explains; None when the role's
    # scenarios are only partly recorded, so "unused" would mean nothing.
    unused: tuple[str, ...] | None

    @property
    def actions(self) -> set[str]:
        return {r.action for r in self.requests}


def check_role(
    role: str, calls: int, requests: Sequence[Request], policy: Policy, reasons: Mapping[str, str] | None
) -> RoleReport:
    """`reasons`: granted action → why it is granted though no recorded scenario needs it (e.g. destroy-only);
    None skips the reverse check for a role whose scenarios are not all recorded."""
    denied = tuple(r for r in requests if evaluate(r, [policy]) is not Decision.ALLOWED)
    if reasons is None:
        return RoleReport(role, calls, tuple(requests), denied, None)
    used = {r.action for r in requests}
    unused = tuple(
        pattern
        for pattern in granted_actions(policy)
        if pattern not in reasons and not any(matches(pattern, action, case_sensitive=False) for action in used)
    )
    return RoleReport(role, calls, tuple(requests), denied, unused)


def table(reports: Iterable[RoleReport]) -> str:
    header = ("role", "calls recorded", "distinct actions", "allowed", "denied", "granted but unused")
    rows = [
        (
            r.role,
            str(r.calls),
            str(len(r.actions)),
            str(len(r.requests) - len(r.denied)),
            str(len(r.denied)),
            "not checked" if r.unused is None else str(len(r.unused)),
        )
        for r in reports
    ]
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]
    lines = [" | ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)) for row in [header, *rows]]
    lines.insert(1, "-+-".join("-" * w for w in widths))
    return "\n".join(lines)
