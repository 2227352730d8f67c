import json
import socket
import threading
import time
from typing import ClassVar

import pytest
import requests

from lambda_model.serving.local_api import ProxyHandler, make_server, to_event
from lambda_model.serving.request import MAX_BODY_BYTES

SEED_BODY = '{"sepal_length": 5.9, "sepal_width": 3, "petal_length": 5.1, "petal_width": 1.8}'
SHORT_SOCKET_TIMEOUT_SECONDS = 0.5
SERVED_SOCKET_TIMEOUT = ProxyHandler.timeout  # read before the fixture shortens it for speed


class NagleRecordingHandler(ProxyHandler):
    """Records, for every accepted connection, whether TCP_NODELAY is set once the handler has set it up."""

    nodelay: ClassVar[list[int]] = []

    def setup(self):
        super().setup()
        self.nodelay.append(self.connection.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY))


@pytest.fixture
def local_api(serving, monkeypatch):
    monkeypatch.setattr(ProxyHandler, "timeout", SHORT_SOCKET_TIMEOUT_SECONDS)
    server = make_server("127.0.0.1", 0)
    server.RequestHandlerClass = NagleRecordingHandler
    NagleRecordingHandler.nodelay = []
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    server.server_close()


def exchange(local_api: str, raw_request: bytes) -> tuple[bytes, bytes]:
    """Send raw bytes, read until the server closes; return the head and body of the answer."""
    host, port = local_api.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as connection:
        connection.sendall(raw_request)
        reply = b""
        while chunk := connection.recv(4096):
            reply += chunk
    head, _, body = reply.partition(b"\r\n\r\n")
    return head, body


def refusal(local_api: str, raw_request: bytes, status: bytes) -> dict:
    """The JSON error of a request the server refuses with `status` before the handler, closing the connection."""
    head, body = exchange(local_api, raw_request)
    assert head.startswith(b"HTTP/1.1 " + status), head
    assert b"Connection: close" in head
    return json.loads(body)["error"]


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


def test_the_seed_curl_works(local_api, serving):
    response = requests.post(
        f"{local_api}/predict", data=SEED_BODY, headers={"Content-Type": "application/json"}, timeout=10
    )
    assert response.status_code == 200
    assert response.text == serving.handler({"body": SEED_BODY})["body"]
    assert response.headers["Content-Type"] == "application/json"
    assert response.headers["X-Model-Version"]


def test_an_oversized_upload_is_refused_with_its_declared_size(local_api):
    response = requests.post(f"{local_api}/predict", data=b"[" * 2_000_000, timeout=10)
    assert response.status_code == 413
    assert response.json()["error"] == {
        "code": "payload_too_large",
        "message": "the body is 2,000,000 bytes; the limit is 65,536",
    }


def test_a_huge_content_length_is_refused_at_once_without_waiting_for_the_body(local_api):
    started = time.monotonic()
    error = refusal(local_api, b"POST /predict HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999999\r\n\r\n{}", b"413")
    assert time.monotonic() - started < SHORT_SOCKET_TIMEOUT_SECONDS, "answered before the socket timeout"
    assert error == {
        "code": "payload_too_large",
        "message": "the body is 99,999,999,999 bytes; the limit is 65,536",
    }


def test_a_client_expecting_100_continue_hears_the_413_instead(local_api):
    head, body = exchange(
        local_api,
        b"POST /predict HTTP/1.1\r\nHost: x\r\nContent-Length: 2000000\r\nExpect: 100-continue\r\n\r\n",
    )
    assert head.startswith(b"HTTP/1.1 413"), "no 100 Continue for a body that will be refused"
    assert json.loads(body)["error"]["code"] == "payload_too_large"


def test_a_body_of_exactly_the_limit_is_read_and_passed_on(local_api):
    response = requests.post(f"{local_api}/predict", data=b" " * (MAX_BODY_BYTES - 2) + b"{}", timeout=10)
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "missing_feature"


@pytest.mark.parametrize(
    "content_length",
    [
        pytest.param(b"Content-Length: 2\r\nContent-Length: 2", id="repeated"),
        pytest.param(b"Content-Length: 2\r\nContent-Length: 5", id="differing"),
        pytest.param(b"Content-Length: 2, 2", id="a list"),
        pytest.param(b"Content-Length: -2", id="negative"),
        pytest.param(b"Content-Length: +2", id="signed"),
        pytest.param(b"Content-Length: 0_2", id="underscored"),
        pytest.param(b"Content-Length: many", id="not a number"),
    ],
)
def test_a_content_length_that_is_not_one_byte_count_is_a_json_400_and_closes_the_connection(local_api, content_length):
    raw = b"POST /predict HTTP/1.1\r\nHost: x\r\n" + content_length + b"\r\n\r\n{}"
    assert refusal(local_api, raw, b"400")["code"] == "invalid_request"


def test_a_body_framed_both_chunked_and_by_length_is_refused(local_api):
    smuggled = b"Transfer-Encoding: chunked\r\nContent-Length: 4\r\n\r\n2\r\n{}\r\n0\r\n\r\n"
    assert refusal(local_api, b"POST /predict HTTP/1.1\r\nHost: x\r\n" + smuggled, b"400") == {
        "code": "invalid_request",
        "message": "the request has both a Transfer-Encoding and a Content-Length header",
    }


def test_options_is_a_method_error_not_a_crash(local_api):
    assert requests.options(f"{local_api}/predict", timeout=10).status_code == 405


def test_head_on_a_get_route_is_the_get_answer_without_its_body(local_api):
    get_head, get_body = exchange(local_api, b"GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    head, body = exchange(local_api, b"HEAD /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200")
    assert body == b"", "a HEAD answer carries no body"

    def fields(raw_head: bytes) -> dict[str, str]:
        lines = raw_head.decode().split("\r\n")[1:]
        return {name: value for name, _, value in (line.partition(": ") for line in lines) if name != "Date"}

    assert fields(head) == fields(get_head)
    assert fields(head)["Content-Length"] == str(len(get_body))


def test_head_on_a_route_without_get_is_still_a_405(local_api):
    head, body = exchange(local_api, b"HEAD /predict HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 405")
    assert b"\r\nAllow: POST\r\n" in head
    assert body == b""


def test_a_kept_alive_connection_serves_a_get_after_a_head(local_api):
    with requests.Session() as session:
        assert session.head(f"{local_api}/health", timeout=10).status_code == 200
        assert session.get(f"{local_api}/health", timeout=10).json()["status"] == "ok"


@pytest.mark.parametrize("method", ["TRACE", "BREW"])
def test_any_method_gets_a_json_405_with_allow(local_api, method):
    head, body = exchange(local_api, f"{method} /predict HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode())
    assert head.startswith(b"HTTP/1.1 405")
    assert b"\r\nAllow: POST\r\n" in head
    assert json.loads(body)["error"]["code"] == "method_not_allowed"


def test_a_request_http_server_cannot_parse_gets_a_json_error(local_api):
    head, body = exchange(local_api, b"GET /health with spaces HTTP/1.1\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 400")
    assert b"Content-Type: application/json" in head
    assert json.loads(body)["error"] == {
        "code": "invalid_request",
        "message": "Bad request syntax ('GET /health with spaces HTTP/1.1')",
    }


@pytest.mark.parametrize(
    ("request_line", "status"),
    [("GET /health HTTP/2.0", b"505"), ("GET /health HTTP/x", b"400"), ("GET /health HTTP/1.x", b"400")],
)
def test_a_bad_http_version_gets_a_status_line_and_a_json_error(local_api, request_line, status):
    head, body = exchange(local_api, request_line.encode() + b"\r\nHost: x\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 " + status)
    assert json.loads(body)["error"]["code"] == "invalid_request"


def test_a_chunked_body_is_read_like_any_other(local_api, serving):
    chunks = (SEED_BODY[i : i + 10].encode() for i in range(0, len(SEED_BODY), 10))
    response = requests.post(f"{local_api}/predict", data=chunks, timeout=10)  # a generator is sent chunked
    assert response.status_code == 200, response.text
    assert response.text == serving.handler({"body": SEED_BODY})["body"]


def test_an_oversized_chunked_upload_is_refused_without_reading_it_all(local_api):
    chunks = (b"[" * 8192 for _ in range(4 * MAX_BODY_BYTES // 8192))
    response = requests.post(f"{local_api}/predict", data=chunks, timeout=10)
    assert response.status_code == 413
    assert response.json()["error"] == {
        "code": "payload_too_large",
        "message": "the body is larger than the limit of 65,536 bytes",  # its size is unknown: no number is made up
    }


def test_a_body_shorter_than_its_content_length_does_not_hold_a_thread(local_api):
    assert SERVED_SOCKET_TIMEOUT is not None, "without a socket timeout a silent client holds a thread forever"
    assert SERVED_SOCKET_TIMEOUT <= 30
    host, port = local_api.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as connection:
        connection.sendall(b"POST /predict HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{}")
        started = time.monotonic()
        assert connection.recv(4096) == b"", "the server closes the connection"
        waited = time.monotonic() - started
    assert waited < SHORT_SOCKET_TIMEOUT_SECONDS + 2


def test_accepted_connections_have_nagle_disabled(local_api):
    """Headers and body go out in two writes: with Nagle's algorithm on, the body waits for a delayed ACK."""
    with requests.Session() as session:
        for _ in range(3):
            assert session.get(f"{local_api}/health", timeout=10).status_code == 200
    assert NagleRecordingHandler.nodelay == [1]
