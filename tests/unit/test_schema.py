import base64
import json

import pytest

from lambda_model.serving.request import (
    FEATURES,
    MAX_BATCH_SIZE,
    MAX_BODY_BYTES,
    RequestError,
    decode_body,
    parse_payload,
    parse_record,
)

VALID = {"sepal_length": 5.9, "sepal_width": 3, "petal_length": 5.1, "petal_width": 1.8}


def error_of(call, *args) -> RequestError:
    with pytest.raises(RequestError) as caught:
        call(*args)
    return caught.value


def test_a_valid_record_comes_back_in_feature_order():
    shuffled = dict(reversed(list(VALID.items())))
    assert parse_record(shuffled) == (5.9, 3.0, 5.1, 1.8)


def test_null_features_stay_none_for_the_imputer():
    assert parse_record({**VALID, "petal_length": None}) == (5.9, 3.0, None, 1.8)


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


def test_a_decoded_infinity_from_a_direct_invoke_is_non_finite_not_out_of_range():
    """Lambda decodes a direct invoke's payload itself, and Python's json accepts Infinity."""
    error = error_of(parse_record, {**VALID, "petal_width": float("inf")})
    assert (error.code, error.message) == ("non_finite_value", "petal_width must be a finite number")


def test_a_full_batch_is_accepted():
    rows, _ = parse_payload([VALID] * MAX_BATCH_SIZE)
    assert len(rows) == MAX_BATCH_SIZE
    assert all(len(row) == len(FEATURES) for row in rows)
