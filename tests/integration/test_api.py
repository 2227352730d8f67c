"""What the team relies on, asked over HTTP: the seed's examples, batches, health, and every bad-input class.

Tests marked `live` are the release's verification against the deployed endpoint (`pytest -m live`): the
contract only (status, schema, a label among the model's classes, X-Model-Version equal to the released
model), true of any model that passed the gate. The exact answers of the bundled model run offline only,
against the local stack, where the model is the one the test trained.
"""

import json
import os

import pytest

from lambda_release.probes import Probes

live = pytest.mark.live

VIRGINICA = {"sepal_length": 5.9, "sepal_width": 3, "petal_length": 5.1, "petal_width": 1.8}
SETOSA = {"sepal_length": 5.1, "sepal_width": 3.5, "petal_length": 1.4, "petal_width": 0.2}
WITH_NULL = {"sepal_length": 5.4, "sepal_width": 3, "petal_length": None, "petal_width": 0.2}


def error_code(response) -> str:
    assert response.headers["Content-Type"].startswith("application/json")
    return response.json()["error"]["code"]


def model_of(api) -> dict:
    health = api.request("GET", "health")
    assert health.status_code == 200
    assert health.headers["Content-Type"].startswith("application/json")
    return health.json()["model"]


def assert_prediction(prediction: dict, classes: list[str]) -> None:
    assert set(prediction) == {"label", "probability"}
    assert prediction["label"] in classes
    assert isinstance(prediction["probability"], float)
    assert 0 <= prediction["probability"] <= 1


@pytest.fixture(scope="module")
def probes(api) -> Probes:
    """Requests built from the served model's signature: the live tests fit whatever model was released."""
    return Probes.from_health(api.request("GET", "health").json())


@live
def test_health_reports_a_model_and_its_signature(api, probes):
    health = api.request("GET", "health")
    assert health.status_code == 200
    assert health.json()["status"] == "ok"
    model = health.json()["model"]
    assert health.headers["X-Model-Version"] == model["version"]
    assert [feature["name"] for feature in model["signature"]["features"]] == list(probes.features)


@live
def test_the_served_openapi_document_describes_the_signature(api, probes):
    response = api.request("GET", "openapi.json")
    assert response.status_code == 200
    record = response.json()["components"]["schemas"]["Record"]
    assert list(record["properties"]) == list(probes.features)
    assert response.headers["X-Model-Version"] == model_of(api)["version"]


@live
def test_the_released_model_answers(api, probes):
    """EXPECTED_MODEL_VERSION is set by the release to the model it built into the image."""
    expected = os.environ.get("EXPECTED_MODEL_VERSION") or model_of(api)["version"]
    assert model_of(api)["version"] == expected
    assert api.post(json=probes.record).headers["X-Model-Version"] == expected


@live
@pytest.mark.parametrize("imputed", [False, True], ids=["input-example", "with-a-null"])
@pytest.mark.parametrize("path", ["", "predict"])
def test_a_prediction_follows_the_contract(api, probes, imputed, path):
    classes = probes.classes
    response = api.post(path, json=probes.with_null() if imputed else probes.record)
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("application/json")
    assert set(response.json()) == {"prediction"}
    assert_prediction(response.json()["prediction"], classes)
    assert response.headers["X-Model-Version"]


@live
def test_a_batch_gets_one_prediction_per_record(api, probes):
    response = api.post("predict", json=probes.batch())
    assert response.status_code == 200
    predictions = response.json()["predictions"]
    assert len(predictions) == len(probes.batch())
    for prediction in predictions:
        assert_prediction(prediction, probes.classes)


@pytest.mark.parametrize(("record", "label"), [(VIRGINICA, "virginica"), (SETOSA, "setosa"), (WITH_NULL, "versicolor")])
@pytest.mark.parametrize("path", ["", "predict"])
def test_the_seed_examples(api, record, label, path):
    response = api.post(path, json=record)
    assert response.status_code == 200
    assert response.json()["prediction"]["label"] == label
    assert response.headers["X-Model-Version"]


def test_the_seed_answer_exactly(api):
    response = api.post(data=json.dumps(VIRGINICA), headers={"Content-Type": "application/json"})
    assert response.json() == {"prediction": {"label": "virginica", "probability": 0.9997}}


def test_a_batch_answers_in_order(api):
    response = api.post("predict", json=[SETOSA, VIRGINICA, WITH_NULL])
    assert response.status_code == 200
    assert [p["label"] for p in response.json()["predictions"]] == ["setosa", "virginica", "versicolor"]


def test_health_names_the_model_that_answers(api):
    health = api.request("GET", "health")
    assert health.status_code == 200
    body = health.json()
    assert body["status"] == "ok"
    assert body["model"]["metrics"]["accuracy"] >= 0.9
    assert body["model"]["version"] == api.post(json=SETOSA).headers["X-Model-Version"]


def first_value_as(probes: Probes, literal: str) -> str:
    """The record as JSON text with its first feature's value replaced by `literal` (NaN, Infinity, ...)."""
    return json.dumps({**probes.record, probes.features[0]: "PLACEHOLDER"}).replace('"PLACEHOLDER"', literal)


BAD_INPUT = {
    "missing-feature": (lambda p: p.missing()[1], 400, "missing_feature"),
    "unknown-feature": (Probes.unknown, 400, "unknown_feature"),
    "string-value": (Probes.wrong_type, 400, "invalid_feature_value"),
    "boolean-value": (lambda p: first_value_as(p, "false"), 400, "invalid_feature_value"),
    "nan": (lambda p: first_value_as(p, "NaN"), 400, "non_finite_value"),
    "infinity": (lambda p: first_value_as(p, "Infinity"), 400, "non_finite_value"),
    "array-of-numbers": (lambda p: "[1, 2, 3]", 400, "invalid_body"),
    "string-body": (lambda p: '"just a string"', 400, "invalid_body"),
    "truncated-json": (lambda p: json.dumps(p.record)[:-1], 400, "invalid_json"),
    "empty-body": (lambda p: "", 400, "empty_body"),
    "empty-batch": (lambda p: "[]", 400, "empty_batch"),
    "batch-of-101": (lambda p: json.dumps([p.record] * 101), 413, "batch_too_large"),
    "body-over-64-kib": (lambda p: " " * 70_000 + "{}", 413, "payload_too_large"),
}
"""Each bad input is built from the served model's signature, so it is bad for exactly one reason."""


@live
@pytest.mark.parametrize("case", list(BAD_INPUT))
def test_bad_input_gets_a_4xx_json_error(api, probes, case):
    build, status, code = BAD_INPUT[case]
    body = build(probes)
    kwargs = {"data": body} if isinstance(body, str) else {"json": body}
    response = api.post("predict", headers={"Content-Type": "application/json"}, **kwargs)
    assert response.status_code == status
    assert error_code(response) == code
    assert response.json()["error"]["message"]


@live
def test_unknown_routes_and_wrong_methods(api):
    assert api.request("GET", "no-such-route").status_code == 404
    wrong_method = api.request("GET", "predict")
    assert wrong_method.status_code == 405
    assert error_code(wrong_method) == "method_not_allowed"
