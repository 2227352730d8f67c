"""One table of requests and the answer each must get, driven through every layer that answers them.

tests/unit/test_handler.py sends each case to the Lambda handler as the local API's proxy event;
tests/robustness/test_contract.py sends the same case over HTTP to the running local API and checks
the answer against docs/openapi.yaml. A new request rule is one new row here, seen by both layers.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

import pytest

from lambda_model.serving.request import MAX_BATCH_SIZE, MAX_BODY_BYTES

SEED = {"sepal_length": 5.9, "sepal_width": 3, "petal_length": 5.1, "petal_width": 1.8}
IMPUTED = {"sepal_length": 5.4, "sepal_width": 3, "petal_length": None, "petal_width": 0.2}
LONGEST_MESSAGE = 300
"""No error message grows with what the client sent: paths and values are cut short when echoed."""
PYTHON_TYPE_NAMES = re.compile(r"\b(NoneType|dict|list|tuple|str|int|float|bool)\b")
"""A message speaks JSON ("null", "an array"), never the Python type a value was decoded into."""


@dataclass(frozen=True)
class RequestCase:
    id: str
    method: str
    path: str
    body: bytes | None
    status: int
    code: str | None = None
    message_contains: str | None = None
    allow: str | None = None
    """The exact Allow header of a 405."""

    def param(self) -> Any:
        return pytest.param(self, id=self.id)


def _json(value: Any) -> bytes:
    return json.dumps(value).encode()


def _with(**changes: Any) -> bytes:
    return _json({**SEED, **changes})


def _text(text: str) -> bytes:
    return text.encode()


_WITHOUT_PETAL_WIDTH = {name: value for name, value in SEED.items() if name != "petal_width"}

CASES = [
    RequestCase("the seed record", "POST", "/predict", _json(SEED), 200),
    RequestCase("the seed record at the stage root", "POST", "/", _json(SEED), 200),
    RequestCase("a null is imputed, trailing slash", "POST", "/predict/", _json(IMPUTED), 200),
    RequestCase("a batch", "POST", "/predict", _json([SEED, IMPUTED]), 200),
    RequestCase("a full batch", "POST", "/predict", _json([SEED] * MAX_BATCH_SIZE), 200),
    RequestCase("health", "GET", "/health", None, 200),
    RequestCase(
        "a missing feature", "POST", "/predict", _json(_WITHOUT_PETAL_WIDTH), 400, "missing_feature", "petal_width"
    ),
    RequestCase("an unknown feature", "POST", "/", _with(colour="blue"), 400, "unknown_feature", "'colour'"),
    RequestCase(
        "a string value", "POST", "/predict", _with(sepal_length="5.9"), 400, "invalid_feature_value", "not a string"
    ),
    RequestCase(
        "a boolean value", "POST", "/predict", _with(petal_width=True), 400, "invalid_feature_value", "not a boolean"
    ),
    RequestCase(
        "an array value", "POST", "/predict", _with(petal_width=[1.8]), 400, "invalid_feature_value", "not an array"
    ),
    RequestCase(
        "an object value", "POST", "/predict", _with(petal_width={}), 400, "invalid_feature_value", "not an object"
    ),
    RequestCase("a null body", "POST", "/predict", b"null", 400, "invalid_body", "not null"),
    RequestCase("a number body", "POST", "/predict", b"12", 400, "invalid_body", "not a number"),
    RequestCase("a string body", "POST", "/predict", b'"a string"', 400, "invalid_body", "not a string"),
    RequestCase("a number in a batch", "POST", "/predict", _json([SEED, 3]), 400, "invalid_body", "[1] must be"),
    RequestCase(
        "beyond float32", "POST", "/predict", _with(petal_width=1e39), 400, "value_out_of_range", "petal_width"
    ),
    RequestCase(
        "beyond any double",
        "POST",
        "/predict",
        _text(_with().decode().replace("1.8", "1e400")),
        400,
        "value_out_of_range",
        "petal_width",
    ),
    RequestCase(
        "an integer beyond any double", "POST", "/predict", _with(petal_width=10**400), 400, "value_out_of_range"
    ),
    RequestCase("NaN", "POST", "/predict", _text('{"sepal_length": NaN}'), 400, "non_finite_value"),
    RequestCase("Infinity", "POST", "/predict", _with(petal_width=float("inf")), 400, "non_finite_value"),
    RequestCase("truncated JSON", "POST", "/predict", b'{"sepal_length": 5.1,', 400, "invalid_json"),
    RequestCase("not UTF-8", "POST", "/predict", b"\xff\xfe", 400, "invalid_json"),
    RequestCase("a duplicated key", "POST", "/predict", b'{"a": 1, "a": 2}', 400, "duplicate_key", "'a'"),
    RequestCase("an empty body", "POST", "/predict", b"", 400, "empty_body"),
    RequestCase("a blank body", "POST", "/predict", b"   ", 400, "empty_body"),
    RequestCase("an empty batch", "POST", "/predict", b"[]", 400, "empty_batch"),
    RequestCase("a batch too large", "POST", "/predict", _json([SEED] * (MAX_BATCH_SIZE + 1)), 413, "batch_too_large"),
    RequestCase(
        "a body too large",
        "POST",
        "/predict",
        b" " * MAX_BODY_BYTES + b"{}",
        413,
        "payload_too_large",
        "the body is 65,538 bytes; the limit is 65,536",  # the same words from the handler and the local server
    ),
    RequestCase("GET on predict", "GET", "/predict", None, 405, "method_not_allowed", allow="POST"),
    RequestCase("DELETE on the stage root", "DELETE", "/", None, 405, "method_not_allowed", allow="POST"),
    RequestCase("POST on health", "POST", "/health", b"{}", 405, "method_not_allowed", allow="GET, HEAD"),
    RequestCase("TRACE", "TRACE", "/predict", None, 405, "method_not_allowed", allow="POST"),
    RequestCase("an invented method", "BREW", "/health", None, 405, "method_not_allowed", allow="GET, HEAD"),
    RequestCase(
        "a wrong method on a huge path", "GET", "/predict" + "/" * 5000, None, 405, "method_not_allowed", allow="POST"
    ),
    RequestCase("an unknown route", "GET", "/nowhere", None, 404, "not_found"),
    RequestCase("a route from another API version", "POST", "/v2/predict", _json(SEED), 404, "not_found"),
    RequestCase("a huge unknown path", "GET", "/x" * 3000, None, 404, "not_found"),
]


def check_answer(case: RequestCase, status: int, headers: Any, body: dict[str, Any]) -> None:
    """What every layer must agree on: status, error code, the named field, Allow, and a short plain message."""
    assert status == case.status, body
    if status == 200:
        assert "error" not in body
        return
    assert body["error"]["code"] == case.code
    message = body["error"]["message"]
    if case.message_contains:
        assert case.message_contains in message
    assert len(message) <= LONGEST_MESSAGE, message
    assert not PYTHON_TYPE_NAMES.search(message), message
    if case.allow is not None:
        assert headers["Allow"] == case.allow
