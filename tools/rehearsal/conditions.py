"""The part of GitHub's expression language the workflows use in `if:`, `with:` and `env:`: status
functions, `format()`, `fromJSON()` / `toJSON()` with property access on their values (`.name`, `[expr]`),
`==`/`!=` between context values and string literals (ignoring case, as GitHub does), `&&` and `||` (which,
as on GitHub, give one of their operands, so `a && b || c` picks a value), `!` and parentheses. Anything
else is refused rather than guessed."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

# `.name` follows a call or an index only: a context name's own dots are part of the name (the context is flat).
TOKEN = re.compile(
    r"\s*(\(|\)|\[|\]|,|&&|\|\||==|!=|!|'(?:[^']|'')*'|-?\d+(?:\.\d+)?|[A-Za-z_]\w*\(|\.[A-Za-z_][\w-]*|[A-Za-z_][\w.-]*)"
)
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

    def disjunction(self) -> Value:
        left = self.conjunction()
        while self.peek() == "||":
            self.take()
            right = self.conjunction()
            left = left if truthy(left) else right
        return left

    def conjunction(self) -> Value:
        left = self.comparison()
        while self.peek() == "&&":
            self.take()
            right = self.comparison()
            left = right if truthy(left) else left
        return left

    def comparison(self) -> Value:
        left = self.unary()
        if self.peek() in ("==", "!="):
            operator = self.take()
            right = self.unary()
            # GitHub ignores case when it compares strings.
            return (text(left).casefold() == text(right).casefold()) == (operator == "==")
        return left

    def unary(self) -> Value:
        token = self.take()
        if token == "!":  # noqa: S105 (an expression token, not a secret)
            return not truthy(self.unary())
        if token == "(":  # noqa: S105
            value = self.disjunction()
            if self.take() != ")":
                raise UnsupportedExpression(f"unbalanced parentheses in {self.expression!r}")
            return self.members(value)
        if token.endswith("("):
            return self.members(self.call(token[:-1], self.arguments()))
        if token.startswith("'"):
            return token[1:-1].replace("''", "'")
        if token in ("true", "false"):
            return token
        if token == "null":  # noqa: S105
            return None
        if token[0].isdigit() or token[0] == "-":
            return float(token) if "." in token else int(token)
        return self.context.get(token, "")

    def members(self, value: Value) -> Value:
        """`value.name` and `value[expr]` after a call or parentheses. As on GitHub, a property of anything
        but an object (or an index past a list's end) is null, not an error."""
        while self.peek() is not None and (self.peek() == "[" or str(self.peek()).startswith(".")):
            token = self.take()
            if token == "[":  # noqa: S105
                key = self.disjunction()
                if self.take() != "]":
                    raise UnsupportedExpression(f"unbalanced brackets in {self.expression!r}")
            else:
                key = token[1:]
            value = member(value, key)
        return value

    def arguments(self) -> list[Value]:
        values: list[Value] = []
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

    def call(self, function: str, arguments: list[Value]) -> Value:
        if function in STATUS_FUNCTIONS and not arguments:
            self.uses_status = True
            return self.status.call(function)
        if function == "format" and arguments:
            template, *values = (text(argument) for argument in arguments)
            return FORMAT_FIELD.sub(lambda field: values[int(field.group(1))], template)
        # Case-insensitive names, as GitHub's (the workflows write fromJSON, the docs also fromJson).
        if function.casefold() == "fromjson" and len(arguments) == 1:
            try:
                return json.loads(text(arguments[0]))
            except json.JSONDecodeError as error:  # GitHub fails the step; so does the rehearsal
                raise UnsupportedExpression(
                    f"fromJSON() of {text(arguments[0])[:80]!r} is not JSON ({error}) in {self.expression!r}"
                ) from None
        if function.casefold() == "tojson" and len(arguments) == 1:
            return json.dumps(arguments[0], indent=2)
        raise UnsupportedExpression(f"{function}() is not supported (in {self.expression!r})")


# What an expression yields: text from the contexts (booleans as GitHub prints them), the booleans of
# comparisons and status functions, and whatever fromJSON() read (objects, lists, numbers, null).
Value = Any


def member(value: Value, key: Value) -> Value:
    """`value[key]`: an object's property (GitHub ignores its case), a list's item, else null."""
    if isinstance(value, dict):
        wanted = text(key).casefold()
        return next((item for name, item in value.items() if name.casefold() == wanted), None)
    if isinstance(value, list) and not isinstance(key, bool):
        try:
            index = int(float(text(key)))
        except ValueError:
            return None
        return value[index] if 0 <= index < len(value) else None
    return None


def truthy(value: Value) -> bool:
    """GitHub's truthiness: booleans arrive as the text GitHub prints; null, 0 and '' are false; objects and
    lists are true."""
    if isinstance(value, bool):
        return value
    if value is None or (isinstance(value, int | float) and value == 0):
        return False
    return value not in ("", "false")


def text(value: Value) -> str:
    """A value as GitHub writes it into a string: null as '', objects and lists as JSON."""
    if isinstance(value, bool):
        return str(value).lower()
    if value is None:
        return ""
    if isinstance(value, dict | list):
        return json.dumps(value, indent=2)
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


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
