"""Thousands of generated events and bodies at the handler: every answer is a well-formed JSON proxy
response, client input never gets a 5xx, and the model only ever sees finite numbers or imputed nulls.

A spy wraps `Predictor.predict` to see, for every call, the parsed rows and the float32 matrix the
ONNX session is given. Each property runs inside a plain test that then checks how many cases ran,
so the count in docs/benchmark.md is enforced rather than hoped for.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lambda_model.serving.predictor import Predictor, rows_to_matrix
from lambda_model.serving.request import MAX_BATCH_SIZE, MAX_BODY_BYTES
from lambda_model.serving.routes import MODEL_VERSION_HEADER
from lambda_model.training.data import IRIS_CLASSES as CLASSES
from lambda_model.training.data import IRIS_FEATURES as FEATURES
from tests.robustness.conftest import GENERATED, TALLY
from tests.robustness.strategies import (
    JSON_SCALARS,
    JSON_VALUES,
    clean_records,
    hostile_records,
    is_valid_payload,
    records,
)

# ---------------------------------------------------------------- the spy and the checks


@dataclass
class ModelSpy:
    """What the model was asked: the parsed rows and the matrix handed to onnxruntime, per call."""

    calls: list[tuple[list[tuple[Any, ...]], np.ndarray]] = field(default_factory=list)
    answers: int = 0


@pytest.fixture
def spy(serving, monkeypatch: pytest.MonkeyPatch) -> ModelSpy:
    recorder = ModelSpy()
    original_predict = Predictor.predict

    def recording_predict(self: Predictor, rows: list) -> list:
        recorder.calls.append((list(rows), rows_to_matrix(rows)))
        return original_predict(self, rows)

    monkeypatch.setattr(Predictor, "predict", recording_predict)
    serving.model.get()  # loaded up front: a load failure must not pass for a client error
    return recorder


def ask(serving, spy: ModelSpy, event: Any) -> tuple[int, dict[str, Any]]:
    """Send one event; check the answer is a well-formed proxy response; return status and body."""
    spy.calls.clear()
    spy.answers += 1
    result = serving.handler(event, None)
    assert isinstance(result, dict)
    assert set(result) == {"statusCode", "headers", "body", "isBase64Encoded"}
    status = result["statusCode"]
    assert isinstance(status, int)
    assert result["isBase64Encoded"] is False
    assert result["headers"]["Content-Type"] == "application/json"
    body = json.loads(result["body"])
    assert status < 500, f"client input got {status}: {body}"
    if status == 200:
        check_success(result, body)
    else:
        check_error(status, body)
    check_model_inputs(spy, status)
    TALLY["handler answers 200" if status == 200 else "handler answers 4xx"] += 1
    return status, body


def check_success(result: dict[str, Any], body: dict[str, Any]) -> None:
    assert result["headers"][MODEL_VERSION_HEADER]
    if "status" in body:  # GET /health
        assert body["status"] == "ok"
        return
    predictions = body["predictions"] if "predictions" in body else [body["prediction"]]
    for prediction in predictions:
        assert set(prediction) == {"label", "probability"}
        assert prediction["label"] in CLASSES
        assert 1 / len(CLASSES) - 1e-4 <= prediction["probability"] <= 1


def check_error(status: int, body: dict[str, Any]) -> None:
    assert 400 <= status < 500
    assert set(body) == {"error"}
    assert set(body["error"]) == {"code", "message"}
    assert isinstance(body["error"]["code"], str)
    assert body["error"]["code"]
    assert isinstance(body["error"]["message"], str)


def check_model_inputs(spy: ModelSpy, status: int) -> None:
    """Rejected input never reaches the model; accepted input reaches it as finite float32 or NaN-for-null."""
    if status != 200:
        assert spy.calls == []
        return
    for rows, matrix in spy.calls:
        assert matrix.dtype == np.float32
        assert matrix.shape == (len(rows), len(FEATURES))
        nulls = np.array([[value is None for value in row] for row in rows], dtype=bool)
        assert (np.isnan(matrix) == nulls).all(), "NaN must appear exactly where the client sent null"
        assert np.isfinite(matrix[~nulls]).all()


def expected_rows(payload: Any) -> list[tuple[Any, ...]]:
    records = payload if isinstance(payload, list) else [payload]
    return [tuple(record[name] for name in FEATURES) for record in records]


def assert_model_saw(spy: ModelSpy, payload: Any) -> None:
    (rows, matrix), *others = spy.calls
    assert others == []
    assert rows == [tuple(None if v is None else float(v) for v in row) for row in expected_rows(payload)]
    sent = np.array([[np.nan if v is None else v for v in row] for row in expected_rows(payload)], dtype=np.float32)
    np.testing.assert_array_equal(matrix, sent)


# ---------------------------------------------------------------- what a client may send

PAYLOADS = st.one_of(
    records(),
    st.lists(records(), max_size=5),
    st.lists(clean_records(), min_size=1, max_size=5),
    st.lists(clean_records() | hostile_records(), min_size=MAX_BATCH_SIZE - 1, max_size=MAX_BATCH_SIZE + 2),
    st.lists(clean_records(), min_size=MAX_BATCH_SIZE - 1, max_size=MAX_BATCH_SIZE + 1),
)

REST_API = {"httpMethod": "POST", "path": "/predict", "requestContext": {"stage": "predict", "requestId": "r1"}}
HTTP_API = {
    "version": "2.0",
    "rawPath": "/prod/predict",
    "requestContext": {"http": {"method": "POST"}, "stage": "prod"},
}
SHAPES = ("rest", "http", "direct")


def event_for(shape: str, body: Any, is_base64: bool = False) -> dict[str, Any]:
    base = {"rest": REST_API, "http": HTTP_API, "direct": {}}[shape]
    return {**base, "body": body, "isBase64Encoded": is_base64}


def encode(payload: Any, encoding: str) -> tuple[Any, bool]:
    """The same payload as a decoded object (direct invoke), JSON text, or base64 of JSON text."""
    if encoding == "object":
        return payload, False
    text = json.dumps(payload)
    if encoding == "text":
        return text, False
    return base64.b64encode(text.encode()).decode(), True


def body_size(payload: Any) -> int:
    return len(json.dumps(payload).encode())


def run_property(test: Any, minimum: int) -> None:
    """Run a hypothesis property and prove it ran at least `minimum` generated cases."""
    before = TALLY["generated cases at the handler"]
    test()
    ran = TALLY["generated cases at the handler"] - before
    assert ran >= minimum, f"only {ran} generated cases ran; expected at least {minimum}"


# ---------------------------------------------------------------- the properties


def test_records_and_batches_in_every_shape_and_encoding(serving, spy):
    @settings(GENERATED, max_examples=800)
    @given(payload=PAYLOADS, shape=st.sampled_from(SHAPES), encoding=st.sampled_from(["object", "text", "base64"]))
    def property_(payload, shape, encoding):
        TALLY["generated cases at the handler"] += 1
        body, is_base64 = encode(payload, encoding)
        status, answer = ask(serving, spy, event_for(shape, body, is_base64))
        if is_valid_payload(payload) and body_size(payload) <= MAX_BODY_BYTES:
            assert status == 200, answer
            assert_model_saw(spy, payload)
        else:
            assert status in (400, 413), answer

    run_property(property_, 800)


def test_any_json_value_as_the_body(serving, spy):
    @settings(GENERATED, max_examples=400)
    @given(value=JSON_VALUES, shape=st.sampled_from(SHAPES), as_text=st.booleans())
    def property_(value, shape, as_text):
        TALLY["generated cases at the handler"] += 1
        status, answer = ask(serving, spy, event_for(shape, json.dumps(value) if as_text else value))
        assert (status == 200) == is_valid_payload(value), answer

    run_property(property_, 400)


SEED_TEXT = json.dumps({"sepal_length": 5.9, "sepal_width": 3, "petal_length": 5.1, "petal_width": 1.8})
BATCH_TEXT = json.dumps([json.loads(SEED_TEXT), {**json.loads(SEED_TEXT), "petal_length": None}])


def test_truncated_json_is_refused(serving, spy):
    @settings(GENERATED, max_examples=300)
    @given(text=st.sampled_from([SEED_TEXT, BATCH_TEXT]), data=st.data(), shape=st.sampled_from(SHAPES))
    def property_(text, data, shape):
        TALLY["generated cases at the handler"] += 1
        cut = data.draw(st.integers(0, len(text) - 1), label="cut")
        base64_encoded = data.draw(st.booleans(), label="base64")
        body = base64.b64encode(text[:cut].encode()).decode() if base64_encoded else text[:cut]
        status, answer = ask(serving, spy, event_for(shape, body, base64_encoded))
        assert status == 400, answer
        assert answer["error"]["code"] in ("invalid_json", "empty_body")

    run_property(property_, 300)


def test_raw_text_bytes_and_base64_bodies(serving, spy):
    bodies = st.one_of(
        st.tuples(st.text(), st.just(False)),  # unicode text, lone surrogates included
        st.tuples(st.text(), st.just(True)),  # text that claims to be base64
        st.binary().map(lambda raw: (base64.b64encode(raw).decode(), True)),  # binary uploads
        st.tuples(st.sampled_from(["{", "}", "[]", "{}", "null", '"x"', "1e999", "-0", "NaN", "[{}]"]), st.booleans()),
    )

    @settings(GENERATED, max_examples=300)
    @given(body=bodies, shape=st.sampled_from(SHAPES))
    def property_(body, shape):
        TALLY["generated cases at the handler"] += 1
        text, is_base64 = body
        status, answer = ask(serving, spy, event_for(shape, text, is_base64))
        assert status in (400, 413), answer

    run_property(property_, 300)


METHODS = st.sampled_from(["GET", "POST", "PUT", "DELETE", "HEAD", "OPTIONS", "post", "", "gEt"]) | JSON_SCALARS
PATHS = (
    st.sampled_from(["/", "/predict", "/predict/", "/health", "//", "", "/nowhere", "/prod/predict", "/PREDICT"])
    | st.text(max_size=12)
    | JSON_SCALARS
)
BODIES = st.one_of(st.none(), st.just(SEED_TEXT), st.just(BATCH_TEXT), JSON_VALUES, st.text(max_size=20))
REST_EVENTS = st.fixed_dictionaries(
    {"httpMethod": METHODS, "path": PATHS, "body": BODIES},
    optional={
        "isBase64Encoded": JSON_SCALARS,
        "requestContext": JSON_VALUES | st.fixed_dictionaries({"requestId": JSON_SCALARS, "stage": JSON_SCALARS}),
        "headers": JSON_VALUES,
    },
)
HTTP_EVENTS = st.fixed_dictionaries(
    {
        "version": st.sampled_from(["2.0", "1.0"]) | JSON_SCALARS,
        "rawPath": PATHS,
        "requestContext": JSON_VALUES
        | st.fixed_dictionaries(
            {
                "http": JSON_VALUES | st.fixed_dictionaries({"method": METHODS, "path": PATHS}),
                "stage": st.sampled_from(["$default", "prod", "predict", ""]) | JSON_SCALARS,
            }
        ),
        "body": BODIES,
    },
    optional={"isBase64Encoded": JSON_SCALARS},
)
DIRECT_EVENTS = st.fixed_dictionaries(
    {"body": BODIES}, optional={"isBase64Encoded": JSON_SCALARS, "extra": JSON_VALUES}
) | st.dictionaries(st.text(max_size=12), JSON_VALUES, max_size=4)


def test_odd_events_of_every_shape(serving, spy):
    @settings(GENERATED, max_examples=600)
    @given(event=st.one_of(REST_EVENTS, HTTP_EVENTS, DIRECT_EVENTS, JSON_VALUES))
    def property_(event):
        TALLY["generated cases at the handler"] += 1
        ask(serving, spy, event)

    run_property(property_, 600)


# ---------------------------------------------------------------- cases too specific to be generated


@pytest.mark.parametrize(
    ("body", "code"),
    [
        pytest.param('{"sepal_length": ' + "1" * 5000 + "}", None, id="an integer of 5000 digits"),
        pytest.param("[" * 50_000, "invalid_json", id="nesting deeper than the parser's recursion limit"),
        pytest.param('{"sepal_length": 1e999}', None, id="a number that overflows to infinity"),
        pytest.param('{"a": 1, "a": 2}', "duplicate_key", id="a duplicated key"),
        pytest.param("\ufeff" + SEED_TEXT, "invalid_json", id="a byte order mark"),
    ],
)
def test_pathological_json_texts_are_client_errors(serving, spy, body, code):
    TALLY["hand-written hostile bodies"] += 1
    status, answer = ask(serving, spy, {"body": body})
    assert status == 400
    if code:
        assert answer["error"]["code"] == code
