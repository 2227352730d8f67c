"""Serve the Lambda handler over HTTP on this machine, as API Gateway would call it.

Each HTTP request becomes a REST API proxy event (payload format 1.0), the handler answers it,
and its proxy response becomes the HTTP response: like `sam local start-api`, without Docker.
"""

from __future__ import annotations

import base64
import importlib
import logging
import re
import uuid
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import ModuleType
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from lambda_model.serving.events import error_response
from lambda_model.serving.request import MAX_BODY_BYTES, RequestError

STAGE = "predict"
SOCKET_TIMEOUT_SECONDS = 10.0
"""A client silent this long (a body shorter than its Content-Length, an idle kept-alive connection)
loses its connection, so it cannot hold a server thread forever."""
CHUNK_SIZE_LINE_LIMIT = 1024
BYTE_COUNT = re.compile(r"[0-9]+")
"""A Content-Length value (RFC 9110 8.6): ASCII digits only, where int() also takes "+5", " 5" and "5_000"."""

logger = logging.getLogger("lambda_model.serving.local_api")


class LambdaContext:
    def __init__(self, request_id: str) -> None:
        self.aws_request_id = request_id
        self.function_name = "lambda-model-local"


def to_event(method: str, target: str, headers: dict[str, str], body: bytes) -> dict[str, Any]:
    url = urlsplit(target)
    try:
        text: str | None = body.decode("utf-8") if body else None
        is_base64 = False
    except UnicodeDecodeError:  # API Gateway, too, hands over binary bodies base64-encoded
        text, is_base64 = base64.b64encode(body).decode(), True
    return {
        "resource": url.path,
        "path": url.path,
        "httpMethod": method,
        "headers": headers,
        "queryStringParameters": dict(parse_qsl(url.query)) or None,
        "body": text,
        "isBase64Encoded": is_base64,
        "requestContext": {
            "requestId": str(uuid.uuid4()),
            "stage": STAGE,
            "httpMethod": method,
            "path": url.path,
        },
    }


class ProxyHandler(BaseHTTPRequestHandler):
    server_version = "lambda-model-local"
    protocol_version = "HTTP/1.1"
    # Headers and body go out in two writes; with Nagle's algorithm the body would wait for the
    # client's delayed ACK (about 40 ms) on every kept-alive request.
    disable_nagle_algorithm = True
    timeout = SOCKET_TIMEOUT_SECONDS

    def __getattr__(self, name: str) -> Any:
        # http.server looks up do_<METHOD> and answers an HTML 501 when there is none. Every method,
        # TRACE or made up, goes to the handler instead, which answers 405 with Allow as API Gateway does.
        if name.startswith("do_"):
            return self._answer
        raise AttributeError(name)

    def _answer(self) -> None:
        try:
            body = self._read_body()
        except RequestError as error:
            self._refuse(error)
            return
        self._send(self.answer(to_event(self.command, self.path, dict(self.headers.items()), body)))

    def answer(self, event: dict[str, Any]) -> dict[str, Any]:
        """The proxy response to one event: here the handler in this process (which answers HEAD as GET; _send
        writes no body for a HEAD). The rehearsal's stand-in for API Gateway overrides it to invoke the function
        the API's integration names."""
        return load_handler().handler(event, LambdaContext(event["requestContext"]["requestId"]))

    def _refuse(self, error: RequestError) -> None:
        """Answer a request whose body is not read, or not to its end: the connection cannot be reused."""
        self.close_connection = True
        self._send(error_response(error.status, error.code, error.message))

    def handle_expect_100(self) -> bool:
        # A client waiting for "100 Continue" before it sends the body hears the refusal instead.
        try:
            self._declared_length()
        except RequestError as error:
            self._refuse(error)
            return False
        return super().handle_expect_100()

    def _declared_length(self) -> int | None:
        """The Content-Length of a body not sent chunked, checked before any of the body is read."""
        values = self.headers.get_all("Content-Length") or []
        if self.headers.get("Transfer-Encoding", "identity").lower() != "identity":
            if values:  # RFC 9112 6.1: two framings for one body, the classic request smuggling vector
                raise RequestError(
                    400, "invalid_request", "the request has both a Transfer-Encoding and a Content-Length header"
                )
            return None
        if len(values) > 1:  # RFC 9112 6.3: the body's framing is ambiguous, a request smuggling vector
            raise RequestError(400, "invalid_request", "the request has more than one Content-Length header")
        if not values:
            return 0
        value = values[0].strip(" \t")
        if not BYTE_COUNT.fullmatch(value):
            raise RequestError(400, "invalid_request", "the Content-Length header is not a byte count")
        length = int(value)
        if length > MAX_BODY_BYTES:
            raise RequestError(
                413, "payload_too_large", f"the body is {length:,} bytes; the limit is {MAX_BODY_BYTES:,}"
            )
        return length

    def _read_body(self) -> bytes:
        """The whole body; one over the limit is refused before it is read, or (chunked) once it passes it."""
        length = self._declared_length()
        return self._read_chunked_body() if length is None else self.rfile.read(length)

    def _read_chunked_body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() != "chunked":
            raise RequestError(400, "invalid_request", "the only Transfer-Encoding understood is chunked")
        body = bytearray()
        while True:
            size_line = self.rfile.readline(CHUNK_SIZE_LINE_LIMIT)
            try:
                size = int(size_line.split(b";")[0], 16)  # a chunk extension after ";" is ignored
            except ValueError:
                raise RequestError(
                    400, "invalid_request", "a chunk of the chunked body does not start with its size"
                ) from None
            if size < 0:
                raise RequestError(400, "invalid_request", "a chunk of the chunked body has a negative size")
            if size == 0:
                break
            if len(body) + size > MAX_BODY_BYTES:
                raise RequestError(
                    413, "payload_too_large", f"the body is larger than the limit of {MAX_BODY_BYTES:,} bytes"
                )
            body += self.rfile.read(size)
            self.rfile.readline(CHUNK_SIZE_LINE_LIMIT)  # the CRLF that ends the chunk
        while self.rfile.readline(CHUNK_SIZE_LINE_LIMIT) not in (b"\r\n", b"\n", b""):
            pass  # trailer fields, unused
        return bytes(body)

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        """Requests http.server cannot parse (a malformed request line, headers too long): the API's JSON error."""
        self.close_connection = True
        if self.request_version == "HTTP/0.9" and len(self.requestline.split()) == 3:
            # A bad or unsupported version ("HTTP/x", "HTTP/2.0") is refused before http.server records it,
            # which would answer as to HTTP/0.9: the body alone, no status line. Only a two-word line is 0.9.
            self.request_version = "HTTP/1.0"
        self._send(error_response(code, "invalid_request", message or HTTPStatus(code).phrase))

    def _send(self, result: dict[str, Any]) -> None:
        """Write a Lambda proxy response as the HTTP response, as API Gateway does."""
        payload = result.get("body") or ""
        body = base64.b64decode(payload) if result.get("isBase64Encoded") else payload.encode()
        self.send_response(result["statusCode"])
        for name, value in (result.get("headers") or {}).items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        if getattr(self, "command", None) != "HEAD":
            self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass  # the handler writes one structured line per request already


class LocalApiServer(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128  # the default backlog of 5 drops connections when many clients start at once


def load_handler() -> ModuleType:
    """The handler module; importing it loads the model. Not imported with this module, so that the
    rehearsal's API Gateway stand-in (which serves other processes' handlers) loads no model itself."""
    return importlib.import_module("lambda_model.serving.handler")


def make_server(host: str, port: int) -> ThreadingHTTPServer:
    # Bind first: a port in use fails at once, before a model is loaded for nothing.
    server = LocalApiServer((host, port), ProxyHandler)
    load_handler()  # the model loads before the first request, as in Lambda's init phase
    return server


def serve(server: ThreadingHTTPServer) -> None:
    """Answer requests on a server from make_server() (which binds, and so raises OSError) until Ctrl-C."""
    host, port = server.server_address[:2]
    logger.warning("serving on http://%s:%d (POST /predict, GET /health); Ctrl-C stops", host, port)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
