"""An IAM policy evaluator for identity policies and permissions boundaries.

What AWS does for one principal in one account (no resource policies, SCPs or session policies): an
explicit Deny in any statement wins, otherwise some Allow must match, otherwise the request is implicitly
denied. A permissions boundary caps the identity policy: both must allow. Supported: Action/NotAction,
Resource/NotResource with `*` and `?` wildcards, and the condition operators the pipeline's policies use
(String*, Arn*, Bool, Null), each with the IfExists suffix.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import Enum
from functools import lru_cache
from typing import Any

ContextValue = str | Sequence[str]
Policy = Mapping[str, Any]


class Decision(Enum):
    ALLOWED = "allowed"
    EXPLICIT_DENY = "explicit deny"
    IMPLICIT_DENY = "implicit deny"


@dataclass(frozen=True)
class Request:
    """One authorization request: the IAM action, the resource ARN AWS evaluates, and the condition keys."""

    action: str
    resource: str
    context: Mapping[str, ContextValue] = field(default_factory=dict)


@lru_cache(maxsize=4096)
def _glob(pattern: str, case_sensitive: bool) -> re.Pattern[str]:
    # IAM wildcards: `*` any run of characters (also across `/` and `:`), `?` exactly one; nothing else is special.
    regex = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.compile(f"^{regex}$", 0 if case_sensitive else re.IGNORECASE)


def matches(pattern: str, value: str, *, case_sensitive: bool = True) -> bool:
    return bool(_glob(pattern, case_sensitive).match(value))


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return list(value) if isinstance(value, list | tuple) else [value]


def _string_equals(pattern: str, value: str) -> bool:
    return pattern == value


def _string_equals_ignore_case(pattern: str, value: str) -> bool:
    return pattern.lower() == value.lower()


def _string_like(pattern: str, value: str) -> bool:
    return matches(pattern, value)


def _bool(pattern: str, value: str) -> bool:
    return pattern.lower() == value.lower()


# Positive operators; the `Not` forms are their negation (true when no policy value matches).
_OPERATORS: dict[str, Callable[[str, str], bool]] = {
    "StringEquals": _string_equals,
    "StringEqualsIgnoreCase": _string_equals_ignore_case,
    "StringLike": _string_like,
    "ArnEquals": _string_equals,
    "ArnLike": _string_like,
    "Bool": _bool,
}
_NEGATED = {
    "StringNotEquals": "StringEquals",
    "StringNotEqualsIgnoreCase": "StringEqualsIgnoreCase",
    "StringNotLike": "StringLike",
    "ArnNotEquals": "ArnEquals",
    "ArnNotLike": "ArnLike",
}


class UnsupportedCondition(ValueError):
    """A condition operator this evaluator does not implement: refusing beats guessing."""


def _condition_holds(operator: str, key: str, expected: Any, context: Mapping[str, ContextValue]) -> bool:
    if_exists = operator.endswith("IfExists")
    base = operator.removesuffix("IfExists")
    present = _lookup(context, key)
    if base == "Null":
        # Null: "true" means the key must be absent, "false" that it must be present.
        return any((present is None) == (str(flag).lower() == "true") for flag in _as_list(expected))
    if present is None:
        # A missing key matches no value: positive operators fail, negated ones hold; IfExists makes both hold.
        return if_exists or base in _NEGATED
    negated = base in _NEGATED
    compare = _OPERATORS.get(_NEGATED.get(base, base))
    if compare is None:
        raise UnsupportedCondition(operator)
    values = _as_list(present)
    hit = any(compare(str(pattern), str(value)) for pattern in _as_list(expected) for value in values)
    return not hit if negated else hit


def _lookup(context: Mapping[str, ContextValue], key: str) -> ContextValue | None:
    # Condition keys are case-insensitive; tag values behind them are not.
    lowered = key.lower()
    for name, value in context.items():
        if name.lower() == lowered:
            return value
    return None


def conditions_hold(conditions: Mapping[str, Mapping[str, Any]], context: Mapping[str, ContextValue]) -> bool:
    """Every operator block, and every key inside it, must hold (AND); the values of one key are OR'ed."""
    return all(
        _condition_holds(operator, key, expected, context)
        for operator, block in conditions.items()
        for key, expected in block.items()
    )


def _action_matches(statement: Mapping[str, Any], action: str) -> bool:
    if "NotAction" in statement:
        return not any(matches(p, action, case_sensitive=False) for p in _as_list(statement["NotAction"]))
    return any(matches(p, action, case_sensitive=False) for p in _as_list(statement.get("Action")))


def _resource_matches(statement: Mapping[str, Any], resource: str) -> bool:
    if "NotResource" in statement:
        return not any(matches(p, resource) for p in _as_list(statement["NotResource"]))
    return any(matches(p, resource) for p in _as_list(statement.get("Resource")))


def statement_applies(statement: Mapping[str, Any], request: Request) -> bool:
    return (
        _action_matches(statement, request.action)
        and _resource_matches(statement, request.resource)
        and conditions_hold(statement.get("Condition", {}), request.context)
    )


def statements(policies: Iterable[Policy]) -> list[Mapping[str, Any]]:
    return [s for policy in policies for s in _as_list(policy.get("Statement"))]


def evaluate(request: Request, policies: Iterable[Policy], boundary: Policy | None = None) -> Decision:
    """The decision for `request` under the identity `policies`, capped by `boundary` when one is attached."""
    identity = _decide(request, statements(policies))
    if identity is not Decision.ALLOWED or boundary is None:
        return identity
    return _decide(request, statements([boundary]))


def _decide(request: Request, candidates: Sequence[Mapping[str, Any]]) -> Decision:
    applying = [s for s in candidates if statement_applies(s, request)]
    if any(s.get("Effect") == "Deny" for s in applying):
        return Decision.EXPLICIT_DENY
    if any(s.get("Effect") == "Allow" for s in applying):
        return Decision.ALLOWED
    return Decision.IMPLICIT_DENY


def granted_actions(policy: Policy) -> list[str]:
    """The Allow statements' action patterns, as written (wildcards unexpanded)."""
    return sorted({a for s in statements([policy]) if s.get("Effect") == "Allow" for a in _as_list(s.get("Action"))})


__all__ = ["Decision", "Request", "UnsupportedCondition", "evaluate", "granted_actions", "matches"]
