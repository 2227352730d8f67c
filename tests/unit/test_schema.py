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


@pytest.mark.parametrize(
    ("record", "code", "named"),
    [
        ({k: v for k, v in VALID.items() if k != "sepal_width"}, "missing_feature", "sepal_width"),
        ({**VALID, "colour": 1}, "unknown_feature", "colour"),
        ({**VALID, "petal_width": "1.8"}, "invalid_feature_value", "petal_width"),
        ({**VALID, "petal_width": True}, "invalid_feature_value", "petal_width"),
        ({**VALID, "petal_width": [1.8]}, "invalid_feature_value", "petal_width"),
        ({**VALID, "sepal_length": 10**400}, "value_out_of_range", "sepal_length"),
        ({**VALID, "sepal_length": 1e39}, "value_out_of_range", "sepal_length"),
        ({**VALID, "sepal_length": float("inf")}, "non_finite_value", "sepal_length"),
    ],
)
def test_bad_records_are_refused_with_the_field_named(record, code, named):
    error = error_of(parse_record, record)
    assert (error.status, error.code) == (400, code)
    assert named in error.message


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        (None, 400, "empty_body"),
        ("", 400, "empty_body"),
        ("   ", 400, "empty_body"),
        ('{"sepal_length": 1', 400, "invalid_json"),
        ('{"sepal_length": NaN}', 400, "non_finite_value"),
        ('{"sepal_length": Infinity}', 400, "non_finite_value"),
        ('{"a": 1, "a": 2}', 400, "duplicate_key"),
        (b"\xff\xfe", 400, "invalid_json"),
        ("[" * 100_000 + "]" * 100_000, 413, "payload_too_large"),
        ("[" * 20_000 + "]" * 20_000, 400, "invalid_json"),
        (12, 400, "invalid_body"),
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


@pytest.mark.parametrize(
    ("payload", "status", "code"),
    [
        ([], 400, "empty_batch"),
        ([VALID] * (MAX_BATCH_SIZE + 1), 413, "batch_too_large"),
        ("a string", 400, "invalid_body"),
        ([VALID, 3], 400, "invalid_body"),
    ],
)
def test_payload_shapes_that_are_not_records(payload, status, code):
    error = error_of(parse_payload, payload)
    assert (error.status, error.code) == (status, code)


def test_a_full_batch_is_accepted():
    rows, _ = parse_payload([VALID] * MAX_BATCH_SIZE)
    assert len(rows) == MAX_BATCH_SIZE
    assert all(len(row) == len(FEATURES) for row in rows)
