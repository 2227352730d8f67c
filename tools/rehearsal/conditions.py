"""The part of GitHub's expression language the workflows use in `if:`, `with:` and `env:`: status
functions, `format()`, `==`/`!=` between context values and string literals (ignoring case, as GitHub
does), `&&` and `||` (which, as on GitHub, give one of their operands, so `a && b || c` picks a value), `!`
and parentheses. Anything else is refused rather than guessed."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

TOKEN = re.compile(r"\s*(\(|\)|,|&&|\|\||==|!=|!|'(?:[^']|'')*'|[A-Za-z_]\w*\(|[A-Za-z_][\w.-]*)")
STATUS_FUNCTIONS = ("success", "failure", "cancelled", "always")
FORMAT_FIELD = re.compile(r"\{(\d+)\}")


class UnsupportedExpression(ValueError):
    pass


@dataclass(frozen=True)
class JobStatus:
    failed: bool = False
    cancelled: bool = False

    def call(self, function: str) -> bool:
        return {
            "success": not self.failed and not self.cancelled,
            "failure": self.failed,
            "cancelled": self.cancelled,
            "always": True,
        }[function]


def tokens(expression: str) -> list[str]:
    found, position = [], 0
    expression = expression.strip()
    while position < len(expression):
        match = TOKEN.match(expression, position)
        if not match:
            raise UnsupportedExpression(f"cannot read {expression[position:]!r} in {expression!r}")
        found.append(match.group(1))
        position = match.end()
    return found


class _Parser:
    def __init__(self, expression: str, context: Mapping[str, str], status: JobStatus) -> None:
        self.expression, self.tokens, self.context, self.status = expression, tokens(expression), context, status
        self.uses_status = False

    def peek(self) -> str | None:
        return self.tokens[0] if self.tokens else None

    def take(self) -> str:
        if not self.tokens:
            raise UnsupportedExpression(f"unexpected end of {self.expression!r}")
        return self.tokens.pop(0)

    def disjunction(self) -> bool | str:
        left = self.conjunction()
        while self.peek() == "||":
            self.take()
            right = self.conjunction()
            left = left if truthy(left) else right
        return left

    def conjunction(self) -> bool | str:
        left = self.comparison()
        while self.peek() == "&&":
            self.take()
            right = self.comparison()
            left = right if truthy(left) else left
        return left

    def comparison(self) -> bool | str:
        left = self.unary()
        if self.peek() in ("==", "!="):
            operator = self.take()
            right = self.unary()
            # GitHub ignores case when it compares strings.
            return (text(left).casefold() == text(right).casefold()) == (operator == "==")
        return left

    def unary(self) -> bool | str:
        token = self.take()
        if token == "!":  # noqa: S105 (an expression token, not a secret)
            return not truthy(self.unary())
        if token == "(":  # noqa: S105
            value = self.disjunction()
            if self.take() != ")":
                raise UnsupportedExpression(f"unbalanced parentheses in {self.expression!r}")
            return value
        if token.endswith("("):
            return self.call(token[:-1], self.arguments())
        if token.startswith("'"):
            return token[1:-1].replace("''", "'")
        if token in ("true", "false"):
            return token
        return self.context.get(token, "")

    def arguments(self) -> list[bool | str]:
        values: list[bool | str] = []
        if self.peek() == ")":
            self.take()
            return values
        while True:
            values.append(self.disjunction())
            separator = self.take()
            if separator == ")":
                return values
            if separator != ",":
                raise UnsupportedExpression(f"expected , or ) in {self.expression!r}, not {separator!r}")

    def call(self, function: str, arguments: list[bool | str]) -> bool | str:
        if function in STATUS_FUNCTIONS and not arguments:
            self.uses_status = True
            return self.status.call(function)
        if function == "format" and arguments:
            template, *values = (text(argument) for argument in arguments)
            return FORMAT_FIELD.sub(lambda field: values[int(field.group(1))], template)
        raise UnsupportedExpression(f"{function}() is not supported (in {self.expression!r})")


def truthy(value: bool | str) -> bool:
    """GitHub's truthiness for the values contexts hold here: booleans arrive as the text GitHub prints."""
    return value not in ("", False, "false")


def text(value: bool | str) -> str:
    """A value as GitHub writes it into a string."""
    return str(value).lower() if isinstance(value, bool) else value


def evaluate_expression(expression: str, context: Mapping[str, str], status: JobStatus | None = None) -> str:
    """The value of one `${{ }}` expression, as text."""
    parser = _Parser(expression, context, status or JobStatus())
    value = parser.disjunction()
    if parser.tokens:
        raise UnsupportedExpression(f"unexpected {parser.tokens[0]!r} in {expression!r}")
    return text(value)


def evaluate_condition(condition: str | bool | None, context: Mapping[str, str], status: JobStatus) -> bool:
    """Whether a step with this `if:` runs. Without a status function GitHub adds `success() &&`."""
    if condition is None:
        return status.call("success")
    text = str(condition).strip()
    if text.startswith("${{") and text.endswith("}}"):
        text = text[3:-2]
    parser = _Parser(text, context, status)
    value = parser.disjunction()
    if parser.tokens:
        raise UnsupportedExpression(f"unexpected {parser.tokens[0]!r} in {text!r}")
    result = truthy(value)
    return result if parser.uses_status else result and status.call("success")
