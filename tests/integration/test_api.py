"""What the team relies on, asked over HTTP: the seed's examples, batches, health, and every bad-input class.

Tests marked `live` are the release's verification against the deployed endpoint (`pytest -m live`): the
contract only (status, schema, a label among the model's classes, X-Model-Version equal to the released
model), true of any model that passed the gate. The exact answers of the bundled model run offline only,
against the local stack, where the model is the one the test trained.
"""

import json
import os

import pytest

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


@live
def test_health_reports_a_model_with_the_contract_features(api):
    health = api.request("GET", "health")
    assert health.status_code == 200
    assert health.json()["status"] == "ok"
    model = health.json()["model"]
    assert model["features"] == list(VIRGINICA)
    assert model["classes"]
    assert health.headers["X-Model-Version"] == model["version"]


@live
def test_the_released_model_answers(api):
    """EXPECTED_MODEL_VERSION is set by the release to the model it built into the image."""
    expected = os.environ.get("EXPECTED_MODEL_VERSION") or model_of(api)["version"]
    assert model_of(api)["version"] == expected
    assert api.post(json=SETOSA).headers["X-Model-Version"] == expected


@live
@pytest.mark.parametrize("record", [VIRGINICA, SETOSA, WITH_NULL])
@pytest.mark.parametrize("path", ["", "predict"])
def test_a_prediction_follows_the_contract(api, record, path):
    classes = model_of(api)["classes"]
    response = api.post(path, json=record)
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("application/json")
    assert set(response.json()) == {"prediction"}
    assert_prediction(response.json()["prediction"], classes)
    assert response.headers["X-Model-Version"]


@live
def test_a_batch_gets_one_prediction_per_record(api):
    classes = model_of(api)["classes"]
    response = api.post("predict", json=[SETOSA, VIRGINICA, WITH_NULL])
    assert response.status_code == 200
    predictions = response.json()["predictions"]
    assert len(predictions) == 3
    for prediction in predictions:
        assert_prediction(prediction, classes)


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


@live
@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ({k: v for k, v in SETOSA.items() if k != "petal_width"}, 400, "missing_feature"),
        ({**SETOSA, "stem_length": 1}, 400, "unknown_feature"),
        ({**SETOSA, "petal_width": "0.2"}, 400, "invalid_feature_value"),
        ({**SETOSA, "petal_width": False}, 400, "invalid_feature_value"),
        (
            '{"sepal_length": NaN, "sepal_width": 3, "petal_length": 1, "petal_width": 1}',
            400,
            "non_finite_value",
        ),
        (
            '{"sepal_length": Infinity, "sepal_width": 3, "petal_length": 1, "petal_width": 1}',
            400,
            "non_finite_value",
        ),
        ("[1, 2, 3]", 400, "invalid_body"),
        ('"just a string"', 400, "invalid_body"),
        ('{"sepal_length": 5.1,', 400, "invalid_json"),
        ("", 400, "empty_body"),
        ("[]", 400, "empty_batch"),
        (json.dumps([SETOSA] * 101), 413, "batch_too_large"),
        (" " * 70_000 + "{}", 413, "payload_too_large"),
    ],
)
def test_bad_input_gets_a_4xx_json_error(api, body, status, code):
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
