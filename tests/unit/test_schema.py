import base64
import json

import pytest

from lambda_model.serving.request import (
    MAX_BATCH_SIZE,
    MAX_BODY_BYTES,
    RequestError,
    decode_body,
    parse_record,
    parse_rows,
    read_records,
)

VALID = {"sepal_length": 5.9, "sepal_width": 3, "petal_length": 5.1, "petal_width": 1.8}
FEATURES = tuple(VALID)
"""The parser checks against whatever feature names it is given: here iris's, in the signature's order."""


def parse_payload(payload):
    records, is_batch = read_records(payload)
    return parse_rows(records, is_batch, FEATURES), is_batch


def error_of(call, *args) -> RequestError:
    with pytest.raises(RequestError) as caught:
        call(*args)
    return caught.value


def test_a_valid_record_comes_back_in_feature_order():
    shuffled = dict(reversed(list(VALID.items())))
    assert parse_record(shuffled, FEATURES) == (5.9, 3.0, 5.1, 1.8)


def test_null_features_stay_none_for_the_imputer():
    assert parse_record({**VALID, "petal_length": None}, FEATURES) == (5.9, 3.0, None, 1.8)


def test_the_names_checked_are_the_models_not_a_list_in_code():
    features = ("age", "income")
    assert parse_record({"income": 2.5, "age": 40}, features) == (40.0, 2.5)
    error = error_of(parse_record, {**VALID}, features)
    assert (error.code, error.message) == (
        "unknown_feature",
        "unknown feature 'petal_length'; expected exactly age, income",
    )
    assert error_of(parse_record, {"age": 1}, features).message == (
        "missing feature 'income'; send null to have it imputed"
    )


# Requests a client can send are in tests/support/request_cases.py, checked at the handler and over
# HTTP. Here: what only the parser sees, decoded values from a direct invoke and the parser's limits.
@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        (None, 400, "empty_body"),
        (12, 400, "invalid_body"),
        ("[" * 100_000 + "]" * 100_000, 413, "payload_too_large"),
        ("[" * 20_000 + "]" * 20_000, 400, "invalid_json"),
    ],
)
def test_undecodable_bodies_are_client_errors(body, status, code):
    error = error_of(decode_body, body)
    assert (error.status, error.code) == (status, code)


def test_base64_bodies_are_decoded_and_bad_base64_is_refused():
    encoded = base64.b64encode(json.dumps(VALID).encode()).decode()
    assert decode_body(encoded, is_base64=True) == VALID
    assert error_of(decode_body, "not base64!", True).code == "invalid_body"


def test_the_body_limit_is_exact():
    padding = " " * (MAX_BODY_BYTES - len(json.dumps(VALID)))
    assert decode_body(json.dumps(VALID) + padding) == VALID
    assert error_of(decode_body, json.dumps(VALID) + padding + " ").status == 413


def test_batches_keep_order_and_name_the_failing_index():
    rows, is_batch = parse_payload([VALID, {**VALID, "sepal_length": None}])
    assert is_batch
    assert rows == [(5.9, 3.0, 5.1, 1.8), (None, 3.0, 5.1, 1.8)]
    error = error_of(parse_payload, [VALID, {**VALID, "petal_width": "x"}])
    assert "[1].petal_width" in error.message


@pytest.mark.parametrize("value", [float("inf"), float("-inf"), float("nan")])
def test_a_decoded_non_finite_float_from_a_direct_invoke_is_refused_by_name(value):
    """Lambda decodes a direct invoke's payload itself, and Python's json accepts Infinity and NaN."""
    error = error_of(parse_record, {**VALID, "petal_width": value}, FEATURES)
    assert (error.status, error.code, error.message) == (400, "non_finite_value", "petal_width must be a finite number")


def test_a_full_batch_is_accepted():
    rows, _ = parse_payload([VALID] * MAX_BATCH_SIZE)
    assert len(rows) == MAX_BATCH_SIZE
    assert all(len(row) == len(FEATURES) for row in rows)
