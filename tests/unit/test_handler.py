import itertools
import json
import logging
import sys
import time
import uuid

import pytest

from lambda_model.serving import routes
from lambda_model.serving.local_api import to_event
from lambda_model.serving.logs import JsonLineFormatter
from lambda_model.serving.model_holder import FIRST_RETRY_DELAY_SECONDS, MAX_RETRY_DELAY_SECONDS
from lambda_model.serving.predictor import Predictor
from tests.conftest import load_event
from tests.support.clock import manual_model_clock
from tests.support.request_cases import CASES, SEED, check_answer
from tests.support.servers import silent_endpoint
from tests.unit.test_store import HUNG_STORE_BOUND_SECONDS


@pytest.fixture
def seed_answer(serving) -> str:
    """The body the seed's request must get: the model's own answer, asserted as the seed's 0.9997 in test_train."""
    (prediction,) = serving.model.get().predict([tuple(SEED.values())])
    return json.dumps({"prediction": prediction.as_dict()})


def body_of(result: dict) -> dict:
    return json.loads(result["body"])


def test_the_seed_direct_invoke_gets_the_seed_response(serving, seed_answer):
    result = serving.handler(load_event("direct_invoke.json"))
    assert result["statusCode"] == 200
    assert result["body"] == seed_answer
    assert result["isBase64Encoded"] is False
    assert result["headers"]["Content-Type"] == "application/json"
    assert result["headers"][routes.MODEL_VERSION_HEADER] == serving.model.version


def test_a_direct_invoke_may_carry_the_body_as_json_text(serving):
    prediction = body_of(serving.handler(load_event("direct_invoke_string_body.json")))["prediction"]
    assert prediction["label"] == "setosa"
    assert prediction["probability"] == pytest.approx(1.0, abs=1e-3)


def test_a_rest_api_event_on_the_stage_root_predicts(serving, seed_answer):
    assert serving.handler(load_event("rest_api_predict.json"))["body"] == seed_answer


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
            "signature": metadata["signature"],
        },
    }


@pytest.mark.parametrize("path", ["/health", "/openapi.json"])
def test_head_on_a_get_route_is_answered_as_the_get_and_a_head_elsewhere_is_a_405(serving, path):
    """API Gateway passes HEAD on to the function as HEAD; the layer in front drops the body."""
    get, head = (
        serving.handler(load_event("rest_api_health.json") | {"httpMethod": method, "path": path})
        for method in ("GET", "HEAD")
    )
    assert (head["statusCode"], head["body"]) == (200, get["body"])
    refused = serving.handler(load_event("rest_api_health.json") | {"httpMethod": "HEAD", "path": "/predict"})
    assert (refused["statusCode"], refused["headers"]["Allow"]) == (405, "POST")


@pytest.mark.parametrize("case", [case.param() for case in CASES])
def test_the_request_table_at_the_handler(serving, case):
    """The same table the HTTP layer is checked with (tests/robustness/test_contract.py)."""
    event = to_event(case.method, case.path, {"Content-Type": "application/json"}, case.body or b"")
    result = serving.handler(event)
    check_answer(case, result["statusCode"], result["headers"], body_of(result))


@pytest.mark.parametrize(
    ("event", "code"),
    [
        ("not an object", "invalid_event"),
        ({"hello": "world"}, "invalid_event"),
        ({"body": None}, "empty_body"),
        ({"body": 12}, "invalid_body"),
    ],
)
def test_events_that_are_no_request_are_json_400s(serving, event, code):
    result = serving.handler(event)
    assert result["statusCode"] == 400
    assert body_of(result)["error"]["code"] == code


def test_an_unavailable_model_answers_503_and_recovers_after_the_back_off(serving, model_dir, monkeypatch, tmp_path):
    clock = manual_model_clock(serving, monkeypatch)
    monkeypatch.setenv("MODEL_URI", str(tmp_path / "not-there-yet"))
    serving.model.reset()
    first = serving.handler(load_event("direct_invoke.json"))
    assert first["statusCode"] == 503
    assert body_of(first)["error"]["code"] == "model_unavailable"
    assert first["headers"]["Retry-After"] == "1"
    monkeypatch.setenv("MODEL_URI", str(model_dir))
    assert serving.handler(load_event("direct_invoke.json"))["statusCode"] == 503, "retried inside the back-off"
    clock.advance(FIRST_RETRY_DELAY_SECONDS)
    assert serving.handler(load_event("direct_invoke.json"))["statusCode"] == 200


def test_a_store_that_stays_down_is_tried_less_and_less_often(serving, monkeypatch, tmp_path):
    clock = manual_model_clock(serving, monkeypatch)
    attempts = []
    real_from_uri = Predictor.from_uri

    def counting_from_uri(uri):
        attempts.append(clock.now)
        return real_from_uri(uri)

    monkeypatch.setattr(Predictor, "from_uri", counting_from_uri)
    monkeypatch.setenv("MODEL_URI", str(tmp_path / "never-there"))
    serving.model.reset()
    retry_after = []
    for _ in range(200):  # 100 s of one request every half second
        retry_after.append(int(serving.handler(load_event("direct_invoke.json"))["headers"]["Retry-After"]))
        clock.advance(0.5)
    gaps = [later - earlier for earlier, later in itertools.pairwise(attempts)]
    assert gaps[:5] == [1.0, 2.0, 4.0, 8.0, 16.0]
    assert set(gaps[5:]) == {MAX_RETRY_DELAY_SECONDS}
    assert max(retry_after) == MAX_RETRY_DELAY_SECONDS


def test_a_hung_store_at_cold_start_is_a_503_within_the_bound_and_then_at_once(serving, monkeypatch, aws):
    with silent_endpoint() as endpoint:
        monkeypatch.setenv("AWS_ENDPOINT_URL", endpoint)
        monkeypatch.setenv("MODEL_URI", f"s3://hung-{uuid.uuid4().hex[:8]}/models")
        serving.model.reset()
        timings = []
        for _ in range(2):
            started = time.monotonic()
            result = serving.handler(load_event("direct_invoke.json"))
            timings.append(time.monotonic() - started)
            assert result["statusCode"] == 503
    assert timings[0] < HUNG_STORE_BOUND_SECONDS, "the first request waits for the store, within the bound"
    assert timings[1] < 0.5, "inside the back-off, a request does not wait for the store again"


def test_bad_input_is_still_a_400_while_the_model_is_unavailable(serving, monkeypatch, tmp_path):
    monkeypatch.setenv("MODEL_URI", str(tmp_path / "missing"))
    serving.model.reset()
    assert serving.handler({"body": "{"})["statusCode"] == 400


def test_a_bug_while_loading_is_a_logged_500_not_a_503(serving, monkeypatch, caplog):
    calls = []

    def buggy_from_uri(uri):
        calls.append(uri)
        raise TypeError("a bug in the loading code")

    monkeypatch.setattr(Predictor, "from_uri", buggy_from_uri)
    serving.model.reset()
    with caplog.at_level(logging.ERROR):
        results = [serving.handler(load_event("direct_invoke.json")) for _ in range(2)]
    assert [result["statusCode"] for result in results] == [500, 500]
    assert body_of(results[0])["error"]["code"] == "internal_error"
    assert len(calls) == 2, "a bug is not a store outage: no back-off is cached for it"
    failures = [record for record in caplog.records if record.exc_info]
    assert failures
    assert failures[0].exc_info[0] is TypeError


def test_a_bug_while_loading_at_cold_start_is_logged_with_its_traceback(serving, monkeypatch, caplog):
    monkeypatch.setattr(Predictor, "from_uri", lambda uri: {}["no such key"])
    serving.model.reset()
    with caplog.at_level(logging.ERROR, logger="lambda_model.model"):
        serving.model.try_load()
    (record,) = [record for record in caplog.records if record.name == "lambda_model.model"]
    assert record.exc_info[0] is KeyError


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


def test_one_log_record_per_request_with_its_fields_at_the_top_level(serving, caplog):
    class Context:
        aws_request_id = "lambda-request-123"

    event = load_event("rest_api_predict.json")
    event["body"] = json.dumps({"sepal_length": 7.123, "sepal_width": 3, "petal_length": 5.1, "petal_width": 1.8})
    event["requestContext"]["requestId"] = "gateway-request-456"
    with caplog.at_level(logging.INFO, logger="lambda_model.requests"):
        serving.handler(event, Context())
        serving.handler({"body": "{"}, Context())
    answered, refused = [record for record in caplog.records if record.name == "lambda_model.requests"]
    # extra= makes these attributes of the record: Lambda's JSON log format writes each as a top-level key.
    assert answered.request_id == "lambda-request-123"
    assert answered.api_request_id == "gateway-request-456"
    assert answered.route == f"POST {event['path']}"
    assert answered.status == 200
    assert answered.model_version == serving.model.version
    assert answered.latency_ms >= 0
    assert not hasattr(answered, "error")
    assert (refused.status, refused.error) == (400, "invalid_json")
    line = json.loads(JsonLineFormatter().format(answered))
    assert {"status": 200, "api_request_id": "gateway-request-456", "route": answered.route}.items() <= line.items()
    assert "7.123" not in json.dumps(line)


def test_the_local_formatter_writes_tracebacks_into_the_json_line():
    try:
        raise ValueError("boom")
    except ValueError:
        record = logging.getLogger("x").makeRecord("x", logging.ERROR, __file__, 1, "failed", (), sys.exc_info())
    line = json.loads(JsonLineFormatter().format(record))
    assert line["message"] == "failed"
    assert "ValueError: boom" in line["stackTrace"]
