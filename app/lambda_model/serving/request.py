"""Request parsing and validation: the limits a request must respect, and the parsing that enforces them.

Everything a client sends passes through here before the model sees it. A value reaches the
model only as a finite float32 number or as None (a null, imputed by the model).

Two steps, because the second needs the model: read_records() checks the body's shape (JSON, one
object or a batch within the limits) and needs nothing; parse_rows() checks each record against the
loaded model's feature names, the only list of them there is.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
from collections.abc import Sequence
from typing import Any

from lambda_model.contract import FLOAT32_MAX

MAX_BATCH_SIZE = 100
"""Most records one request may carry as a JSON array."""
MAX_BODY_BYTES = 64 * 1024
"""Largest accepted request body; a full batch of records needs well under 16 KiB."""

Row = tuple[float | None, ...]


class _OverflowedNumber(float):
    """A JSON number too large for a double (`1e400`): out of range, unlike the literal `Infinity`."""


def _parse_float(text: str) -> float:
    number = float(text)
    return _OverflowedNumber(number) if math.isinf(number) else number


class RequestError(Exception):
    """A problem with what the client sent: answered with a 4xx JSON error, never a 500."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


def _reject_constant(name: str) -> Any:
    raise RequestError(400, "non_finite_value", f"{name} is not a number JSON allows; send a finite number")


def _object_without_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    record: dict[str, Any] = {}
    for key, value in pairs:
        if key in record:
            raise RequestError(400, "duplicate_key", f"key {key!r} appears more than once")
        record[key] = value
    return record


def decode_body(body: Any, is_base64: bool = False) -> Any:
    """Turn an event body (JSON text, bytes, base64 text, or an already-decoded value) into a value."""
    if isinstance(body, dict | list):
        return body
    if body is None:
        raise RequestError(400, "empty_body", "the request has no body; send a JSON object of features")
    if not isinstance(body, str | bytes):
        raise RequestError(400, "invalid_body", "the body must be JSON text or a JSON object")
    raw = body.encode("utf-8", "surrogatepass") if isinstance(body, str) else body
    if is_base64:
        try:
            raw = base64.b64decode(raw, validate=True)
        except (binascii.Error, ValueError):
            raise RequestError(
                400, "invalid_body", "the body is marked base64-encoded but is not valid base64"
            ) from None
    if len(raw) > MAX_BODY_BYTES:
        raise RequestError(413, "payload_too_large", f"the body is {len(raw):,} bytes; the limit is {MAX_BODY_BYTES:,}")
    if not raw.strip():
        raise RequestError(400, "empty_body", "the request body is empty; send a JSON object of features")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise RequestError(400, "invalid_json", "the body is not valid UTF-8 text") from None
    try:
        return json.loads(
            text,
            parse_constant=_reject_constant,
            parse_float=_parse_float,
            object_pairs_hook=_object_without_duplicates,
        )
    except json.JSONDecodeError as error:
        raise RequestError(
            400, "invalid_json", f"the body is not valid JSON: {error.msg} at position {error.pos}"
        ) from None
    except RecursionError:
        raise RequestError(400, "invalid_json", "the body is nested too deeply") from None
    except ValueError:  # an integer longer than Python's int/str conversion limit (4,300 digits)
        raise RequestError(400, "value_out_of_range", "the body holds a number with too many digits") from None


def _feature_value(value: Any, where: str) -> float | None:
    if value is None:
        return None
    # bool is a subclass of int in Python, but true/false are not measurements.
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise RequestError(400, "invalid_feature_value", f"{where} must be a number or null, not {describe(value)}")
    out_of_range = RequestError(400, "value_out_of_range", f"{where} is outside the model's float32 range")
    try:
        number = float(value)
    except OverflowError:  # an integer beyond any double
        raise out_of_range from None
    if isinstance(value, _OverflowedNumber) or (math.isfinite(number) and abs(number) > FLOAT32_MAX):
        raise out_of_range
    if not math.isfinite(number):
        raise RequestError(400, "non_finite_value", f"{where} must be a finite number")
    return number


def describe(value: Any) -> str:
    """The JSON kind of a decoded value, in the words a client knows: "null", "a string", "an array"."""
    if value is None:
        return "null"
    if isinstance(value, bool):  # before int: bool is a subclass of int in Python
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    return {str: "a string", list: "an array", dict: "an object"}.get(type(value), "a value JSON cannot hold")


def read_records(payload: Any) -> tuple[list[dict[str, Any]], bool]:
    """The records of a decoded body: one object, or a JSON array of them. Returns (records, is_batch)."""
    if isinstance(payload, list):
        if not payload:
            raise RequestError(400, "empty_batch", "the batch is an empty array; send at least one record")
        if len(payload) > MAX_BATCH_SIZE:
            raise RequestError(
                413, "batch_too_large", f"the batch has {len(payload)} records; the limit is {MAX_BATCH_SIZE}"
            )
        for index, record in enumerate(payload):
            _require_object(record, f"[{index}]")
        return payload, True
    _require_object(payload, "the body")
    return [payload], False


def _require_object(record: Any, where: str) -> None:
    if not isinstance(record, dict):
        raise RequestError(400, "invalid_body", f"{where} must be a JSON object of features, not {describe(record)}")


def parse_record(record: dict[str, Any], features: Sequence[str], prefix: str = "") -> Row:
    """Validate one object of features and return its values in the order of `features`."""
    unknown = sorted(set(record) - set(features))
    if unknown:
        raise RequestError(
            400,
            "unknown_feature",
            f"unknown feature {prefix}{unknown[0]!r}; expected exactly {', '.join(features)}",
        )
    missing = [name for name in features if name not in record]
    if missing:
        raise RequestError(
            400,
            "missing_feature",
            f"missing feature {prefix}{missing[0]!r}; send null to have it imputed",
        )
    return tuple(_feature_value(record[name], f"{prefix}{name}") for name in features)


def parse_rows(records: list[dict[str, Any]], is_batch: bool, features: Sequence[str]) -> list[Row]:
    """Every record as a row in the model's feature order; errors name the record's index in a batch."""
    if not is_batch:
        return [parse_record(records[0], features)]
    return [parse_record(record, features, f"[{index}].") for index, record in enumerate(records)]
