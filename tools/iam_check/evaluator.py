"""An IAM policy evaluator for identity policies and permissions boundaries.

What AWS does for one principal in one account (no resource policies, SCPs or session policies): an
explicit Deny in any policy (a boundary's included) wins, otherwise some Allow must match, otherwise the
request is implicitly denied. A permissions boundary caps the identity policy: both must allow.
Supported: Action/NotAction, Resource/NotResource with `*` and `?` wildcards and policy variables
(`${aws:username}`, `${*}`, `${?}`, `${$}`), and the condition operators the pipeline's policies use
(String*, Arn* (compared ARN part by ARN part, as AWS does), Bool, Null), each with the IfExists suffix and
the ForAllValues:/ForAnyValue: set qualifiers. Any other operator is refused, key present or not.
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


# `${key}` (a policy variable) or `${*}`, `${?}`, `${$}` (the characters themselves, not wildcards).
_VARIABLE = re.compile(r"\$\{([^}]*)\}")
_LITERAL_VARIABLES = ("*", "?", "$")
ARN_PARTS = 6  # arn:partition:service:region:account:resource (the resource may hold more colons)


@lru_cache(maxsize=4096)
def _glob(pattern: str, case_sensitive: bool) -> re.Pattern[str]:
    # IAM wildcards: `*` any run of characters (also across `/` and `:`), `?` exactly one; nothing else is special.
    regex = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.compile(f"^{regex}$", 0 if case_sensitive else re.IGNORECASE)


def matches(pattern: str, value: str, *, case_sensitive: bool = True) -> bool:
    return bool(_glob(pattern, case_sensitive).match(value))


def with_variables(pattern: str, context: Mapping[str, ContextValue]) -> str | None:
    """`pattern` with its policy variables filled in from the request; None when one names an absent key
    (AWS: the element then matches nothing). `${*}`, `${?}`, `${$}` stay literal: a literal `*` or `?`
    is written as `${*}`/`${?}` again, which only `_literal_aware_glob` reads."""
    failed = False

    def fill(match: re.Match[str]) -> str:
        nonlocal failed
        name = match.group(1).strip()
        if name in _LITERAL_VARIABLES:
            return match.group(0)
        value = _lookup(context, name)
        if value is None or not isinstance(value, str):
            failed = True
            return ""
        return value.replace("*", "${*}").replace("?", "${?}")

    filled = _VARIABLE.sub(fill, pattern)
    return None if failed else filled


@lru_cache(maxsize=4096)
def _literal_aware_glob(pattern: str, case_sensitive: bool) -> re.Pattern[str]:
    parts = re.split(r"(\$\{[*?$]\})", pattern)
    regex = "".join(
        re.escape(part[2]) if _VARIABLE.fullmatch(part) else _glob(part, case_sensitive).pattern[1:-1]
        for part in parts
        if part
    )
    return re.compile(f"^{regex}$", 0 if case_sensitive else re.IGNORECASE)


def matches_with_variables(
    pattern: str, value: str, context: Mapping[str, ContextValue], *, case_sensitive: bool = True
) -> bool:
    filled = with_variables(pattern, context)
    return filled is not None and bool(_literal_aware_glob(filled, case_sensitive).match(value))


def as_list(value: Any) -> list[Any]:
    """A policy element that may be one value or a list of them, as a list."""
    if value is None:
        return []
    return list(value) if isinstance(value, list | tuple) else [value]


Compare = Callable[[str, str, Mapping[str, ContextValue]], bool]


def _string_equals(pattern: str, value: str, context: Mapping[str, ContextValue]) -> bool:
    filled = with_variables(pattern, context)
    return filled is not None and _unescape(filled) == value


def _string_equals_ignore_case(pattern: str, value: str, context: Mapping[str, ContextValue]) -> bool:
    filled = with_variables(pattern, context)
    return filled is not None and _unescape(filled).lower() == value.lower()


def _unescape(filled: str) -> str:
    return _VARIABLE.sub(
        lambda match: match.group(1) if match.group(1) in _LITERAL_VARIABLES else match.group(0), filled
    )


def _string_like(pattern: str, value: str, context: Mapping[str, ContextValue]) -> bool:
    return matches_with_variables(pattern, value, context)


def _arn_like(pattern: str, value: str, context: Mapping[str, ContextValue]) -> bool:
    """AWS compares an ARN part by part: a wildcard matches within one of the six parts, never across them."""
    pattern_parts, value_parts = pattern.split(":", ARN_PARTS - 1), value.split(":", ARN_PARTS - 1)
    if len(pattern_parts) != ARN_PARTS or len(value_parts) != ARN_PARTS:
        return False
    return all(
        matches_with_variables(part, given, context) for part, given in zip(pattern_parts, value_parts, strict=True)
    )


def _bool(pattern: str, value: str, context: Mapping[str, ContextValue]) -> bool:
    return pattern.lower() == value.lower()


# Positive operators; the `Not` forms are their negation (true when no policy value matches).
# ArnEquals is ArnLike: AWS documents both as the same part-by-part match, wildcards included.
_OPERATORS: dict[str, Compare] = {
    "StringEquals": _string_equals,
    "StringEqualsIgnoreCase": _string_equals_ignore_case,
    "StringLike": _string_like,
    "ArnEquals": _arn_like,
    "ArnLike": _arn_like,
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


_SET_QUALIFIERS = ("ForAllValues:", "ForAnyValue:")


def _condition_holds(operator: str, key: str, expected: Any, context: Mapping[str, ContextValue]) -> bool:
    qualifier = next((prefix for prefix in _SET_QUALIFIERS if operator.startswith(prefix)), "")
    unqualified = operator.removeprefix(qualifier)
    if_exists = unqualified.endswith("IfExists")
    base = unqualified.removesuffix("IfExists")
    present = _lookup(context, key)
    if base == "Null" and not qualifier:
        # Null: "true" means the key must be absent, "false" that it must be present.
        return any((present is None) == (str(flag).lower() == "true") for flag in as_list(expected))
    negated = base in _NEGATED
    compare = _OPERATORS.get(_NEGATED.get(base, base))
    if compare is None:
        # Refused before the key is looked at: an absent key must not decide an operator nobody implemented.
        raise UnsupportedCondition(operator)
    patterns = [str(pattern) for pattern in as_list(expected)]

    def holds_for(value: str) -> bool:
        hit = any(compare(pattern, value, context) for pattern in patterns)
        return not hit if negated else hit

    values = [str(value) for value in as_list(present)]
    if qualifier == "ForAllValues:":
        # Every value the request carries must match; none (the key absent or empty) is vacuously true.
        return all(holds_for(value) for value in values)
    if qualifier == "ForAnyValue:":
        return any(holds_for(value) for value in values)
    if present is None:
        # A missing key matches no value: positive operators fail, negated ones hold; IfExists makes both hold.
        return if_exists or negated
    if negated:
        # A negated operator holds when no value of the key matches any of the policy's values.
        return not any(compare(pattern, value, context) for pattern in patterns for value in values)
    return any(holds_for(value) for value in values)


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
        return not any(matches(p, action, case_sensitive=False) for p in as_list(statement["NotAction"]))
    return any(matches(p, action, case_sensitive=False) for p in as_list(statement.get("Action")))


def _resource_matches(statement: Mapping[str, Any], request: Request) -> bool:
    def hit(patterns: Any) -> bool:
        return any(matches_with_variables(p, request.resource, request.context) for p in as_list(patterns))

    if "NotResource" in statement:
        return not hit(statement["NotResource"])
    return hit(statement.get("Resource"))


def statement_applies(statement: Mapping[str, Any], request: Request) -> bool:
    return (
        _action_matches(statement, request.action)
        and _resource_matches(statement, request)
        and conditions_hold(statement.get("Condition", {}), request.context)
    )


def statements(policies: Iterable[Policy]) -> list[Mapping[str, Any]]:
    return [s for policy in policies for s in as_list(policy.get("Statement"))]


def evaluate(request: Request, policies: Iterable[Policy], boundary: Policy | None = None) -> Decision:
    """The decision for `request` under the identity `policies`, capped by `boundary` when one is attached.

    An explicit Deny in either wins, even where the other only implicitly denies."""
    decisions = [_decide(request, statements(policies))]
    if boundary is not None:
        decisions.append(_decide(request, statements([boundary])))
    if Decision.EXPLICIT_DENY in decisions:
        return Decision.EXPLICIT_DENY
    return Decision.ALLOWED if all(d is Decision.ALLOWED for d in decisions) else Decision.IMPLICIT_DENY


def _decide(request: Request, candidates: Sequence[Mapping[str, Any]]) -> Decision:
    applying = [s for s in candidates if statement_applies(s, request)]
    if any(s.get("Effect") == "Deny" for s in applying):
        return Decision.EXPLICIT_DENY
    if any(s.get("Effect") == "Allow" for s in applying):
        return Decision.ALLOWED
    return Decision.IMPLICIT_DENY


__all__ = ["Decision", "Request", "UnsupportedCondition", "as_list", "evaluate", "matches"]
