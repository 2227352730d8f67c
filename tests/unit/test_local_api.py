import json
import socket
import threading

import pytest
import requests

from lambda_model.serving.local_api import make_server, to_event
from lambda_model.serving.request import MAX_BODY_BYTES


@pytest.fixture
def local_api(serving):
    server = make_server("127.0.0.1", 0)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    server.server_close()


def test_a_request_becomes_a_rest_api_proxy_event():
    event = to_event("POST", "/predict?debug=1", {"Content-Type": "application/json"}, b'{"a": 1}')
    assert event["httpMethod"] == "POST"
    assert event["path"] == "/predict"
    assert event["queryStringParameters"] == {"debug": "1"}
    assert event["body"] == '{"a": 1}'
    assert event["isBase64Encoded"] is False
    assert event["requestContext"]["stage"] == "predict"


def test_binary_bodies_are_passed_base64_encoded_like_api_gateway():
    event = to_event("POST", "/", {}, b"\xff\x00")
    assert event["isBase64Encoded"] is True


def test_the_seed_curl_works(local_api):
    response = requests.post(
        f"{local_api}/predict",
        data='{"sepal_length": 5.9, "sepal_width": 3, "petal_length": 5.1, "petal_width": 1.8}',
        headers={"Content-Type": "application/json"},
        timeout=10,
    )
    assert response.status_code == 200
    assert response.text == '{"prediction": {"label": "virginica", "probability": 0.9997}}'
    assert response.headers["Content-Type"] == "application/json"
    assert response.headers["X-Model-Version"]


def test_an_oversized_upload_is_refused_without_reading_it_all(local_api):
    response = requests.post(f"{local_api}/predict", data=b"[" * (MAX_BODY_BYTES * 4), timeout=10)
    assert response.status_code == 413
    assert json.loads(response.text)["error"]["code"] == "payload_too_large"


def test_head_and_options_are_method_errors_not_crashes(local_api):
    assert requests.options(f"{local_api}/predict", timeout=10).status_code == 405
    assert requests.head(f"{local_api}/health", timeout=10).status_code == 405


def test_a_malformed_content_length_is_a_json_400_and_closes_the_connection(local_api):
    host, port = local_api.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as connection:
        connection.sendall(b"POST /predict HTTP/1.1\r\nHost: x\r\nContent-Length: many\r\n\r\n")
        reply = b""
        while chunk := connection.recv(4096):
            reply += chunk
    head, _, body = reply.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 400")
    assert b"Connection: close" in head
    assert json.loads(body)["error"]["code"] == "invalid_request"
