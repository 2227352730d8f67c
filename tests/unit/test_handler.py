import json
import logging

import pytest

from lambda_model.serving import routes
from tests.conftest import load_event

SEED_VIRGINICA_BODY = '{"prediction": {"label": "virginica", "probability": 0.9997}}'


def body_of(result: dict) -> dict:
    return json.loads(result["body"])


def test_the_seed_direct_invoke_gets_the_seed_response(serving):
    result = serving.handler(load_event("direct_invoke.json"))
    assert result["statusCode"] == 200
    assert result["body"] == SEED_VIRGINICA_BODY
    assert result["isBase64Encoded"] is False
    assert result["headers"]["Content-Type"] == "application/json"
    assert result["headers"][routes.MODEL_VERSION_HEADER] == serving.model.version


def test_a_direct_invoke_may_carry_the_body_as_json_text(serving):
    prediction = body_of(serving.handler(load_event("direct_invoke_string_body.json")))["prediction"]
    assert prediction["label"] == "setosa"
    assert prediction["probability"] == pytest.approx(1.0, abs=1e-3)


def test_a_rest_api_event_on_the_stage_root_predicts(serving):
    assert serving.handler(load_event("rest_api_predict.json"))["body"] == SEED_VIRGINICA_BODY


def test_an_http_api_event_with_a_named_stage_imputes_nulls(serving):
    result = serving.handler(load_event("http_api_predict.json"))
    assert result["statusCode"] == 200
    assert body_of(result)["prediction"]["label"] == "versicolor"


def test_a_base64_batch_answers_in_order(serving):
    result = serving.handler(load_event("rest_api_batch_base64.json"))
    assert [p["label"] for p in body_of(result)["predictions"]] == ["setosa", "virginica"]


def test_health_reports_the_model(serving, model_dir):
    result = serving.handler(load_event("rest_api_health.json"))
    metadata = json.loads((model_dir / "metadata.json").read_text())
    assert result["statusCode"] == 200
    assert body_of(result) == {
        "status": "ok",
        "model": {
            "version": metadata["version"],
            "created_at": metadata["created_at"],
            "metrics": metadata["metrics"],
            "features": metadata["features"],
            "classes": metadata["classes"],
        },
    }


@pytest.mark.parametrize(
    ("method", "path", "status", "code"),
    [
        ("GET", "/nowhere", 404, "not_found"),
        ("GET", "/predict", 405, "method_not_allowed"),
        ("DELETE", "/", 405, "method_not_allowed"),
        ("POST", "/health", 405, "method_not_allowed"),
    ],
)
def test_routing_errors(serving, method, path, status, code):
    event = {**load_event("rest_api_predict.json"), "httpMethod": method, "path": path}
    result = serving.handler(event)
    assert result["statusCode"] == status
    assert body_of(result)["error"]["code"] == code
    if status == 405:
        assert result["headers"]["Allow"] in {"POST", "GET"}


@pytest.mark.parametrize(
    ("event", "code"),
    [
        ("not an object", "invalid_event"),
        ({"hello": "world"}, "invalid_event"),
        ({"body": None}, "empty_body"),
        ({"body": "[1, 2"}, "invalid_json"),
        ({"body": {"sepal_length": 1}}, "missing_feature"),
    ],
)
def test_client_errors_are_json_4xx(serving, event, code):
    result = serving.handler(event)
    assert 400 <= result["statusCode"] < 500
    assert body_of(result)["error"]["code"] == code


def test_an_unavailable_model_answers_503_and_recovers_without_a_restart(serving, model_dir, monkeypatch, tmp_path):
    monkeypatch.setenv("MODEL_URI", str(tmp_path / "not-there-yet"))
    serving.model.reset()
    first = serving.handler(load_event("direct_invoke.json"))
    assert first["statusCode"] == 503
    assert body_of(first)["error"]["code"] == "model_unavailable"
    monkeypatch.setenv("MODEL_URI", str(model_dir))
    assert serving.handler(load_event("direct_invoke.json"))["statusCode"] == 200


def test_bad_input_is_still_a_400_while_the_model_is_unavailable(serving, monkeypatch, tmp_path):
    monkeypatch.setenv("MODEL_URI", str(tmp_path / "missing"))
    serving.model.reset()
    assert serving.handler({"body": "{"})["statusCode"] == 400


def test_an_internal_failure_is_a_plain_500_and_is_logged(serving, monkeypatch, caplog):
    def explode(rows):
        raise RuntimeError("secret internals")

    monkeypatch.setattr(serving.model.get(), "predict", explode)
    with caplog.at_level(logging.ERROR):
        result = serving.handler(load_event("direct_invoke.json"))
    assert result["statusCode"] == 500
    assert "secret internals" not in result["body"]
    assert "Traceback" not in result["body"]
    assert body_of(result)["error"]["code"] == "internal_error"
    assert "secret internals" in caplog.text


def test_one_structured_log_line_per_request_without_feature_values(serving, caplog):
    class Context:
        aws_request_id = "req-123"

    with caplog.at_level(logging.INFO, logger="lambda_model.requests"):
        serving.handler(
            {"body": {"sepal_length": 7.123, "sepal_width": 3, "petal_length": 5.1, "petal_width": 1.8}},
            Context(),
        )
    lines = [r.getMessage() for r in caplog.records if r.name == "lambda_model.requests"]
    assert len(lines) == 1
    record = json.loads(lines[0])
    assert record["request_id"] == "req-123"
    assert record["route"] == "POST /predict"
    assert record["status"] == 200
    assert record["model_version"] == serving.model.version
    assert record["latency_ms"] >= 0
    assert "7.123" not in lines[0]
