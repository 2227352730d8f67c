"""What the team relies on, asked over HTTP: the seed's examples, batches, health, and every bad-input class."""

import json

import pytest

VIRGINICA = {"sepal_length": 5.9, "sepal_width": 3, "petal_length": 5.1, "petal_width": 1.8}
SETOSA = {"sepal_length": 5.1, "sepal_width": 3.5, "petal_length": 1.4, "petal_width": 0.2}
WITH_NULL = {"sepal_length": 5.4, "sepal_width": 3, "petal_length": None, "petal_width": 0.2}


def error_code(response) -> str:
    assert response.headers["Content-Type"].startswith("application/json")
    return response.json()["error"]["code"]


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


def test_unknown_routes_and_wrong_methods(api):
    assert api.request("GET", "no-such-route").status_code == 404
    wrong_method = api.request("GET", "predict")
    assert wrong_method.status_code == 405
    assert error_code(wrong_method) == "method_not_allowed"
