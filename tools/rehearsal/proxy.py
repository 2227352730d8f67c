"""A proxy in front of moto that can answer chosen requests itself or rewrite moto's answers.

moto cannot run an image function and never fails on purpose: tests put this proxy between the code under
test and moto to answer Lambda Invoke with the real handler, inject faults, and see every request.
"""

from __future__ import annotations

import contextlib
import http.client
import http.server
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from rehearsal.servers import free_port, serving_in_thread

# Hop-by-hop or recomputed: the proxy sets its own Content-Length for the (possibly rewritten) payload.
NOT_PASSED_BACK = {"content-length", "transfer-encoding", "connection"}
# The body is forwarded whole, with its own Content-Length.
NOT_FORWARDED = {"host", "transfer-encoding", "expect", "connection", "content-length"}


@dataclass(frozen=True)
class ProxiedRequest:
    method: str
    target: str  # path and query, as sent
    headers: dict[str, str]
    body: bytes

    @property
    def path(self) -> str:
        return urlsplit(self.target).path


@dataclass(frozen=True)
class Reply:
    status: int
    headers: dict[str, str]
    payload: bytes


def json_reply(document: Any) -> Reply:
    """A 200 with a JSON payload, as Lambda answers a synchronous Invoke."""
    return Reply(200, {"Content-Type": "application/json"}, json.dumps(document).encode())


# Gets each request and a way to ask moto (which it may skip, or whose reply it may change); returns the reply.
Handle = Callable[[ProxiedRequest, Callable[[], Reply]], Reply]


@contextlib.contextmanager
def proxy_to(upstream: str, handle: Handle) -> Iterator[str]:
    """Yields the proxy's endpoint URL; every request is answered by `handle`."""
    address = urlsplit(upstream)

    class Handler(http.server.BaseHTTPRequestHandler):
        # HTTP/1.1: keep-alive, and `Expect: 100-continue` answered (the Go SDK in Terraform's provider asks).
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:
            """Keep pytest's output clean."""

        def forward(self) -> None:
            body = self.read_body()
            request = ProxiedRequest(self.command, self.path, dict(self.headers.items()), body)
            reply = handle(request, lambda: self.ask_upstream(request))
            self.send_response(reply.status)
            for key, value in reply.headers.items():
                self.send_header(key, value)
            if self.command == "HEAD":  # upstream's Content-Length stays: the size a GET would send
                self.end_headers()
                return
            self.send_header("Content-Length", str(len(reply.payload)))
            self.end_headers()
            self.wfile.write(reply.payload)

        def read_body(self) -> bytes:
            if self.headers.get("Transfer-Encoding", "").lower() != "chunked":
                return self.rfile.read(int(self.headers.get("Content-Length") or 0))
            body = bytearray()
            while size := int(self.rfile.readline().split(b";")[0], 16):
                body += self.rfile.read(size)
                self.rfile.readline()  # the CRLF after the chunk
            while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                pass  # trailers
            return bytes(body)

        def ask_upstream(self, request: ProxiedRequest) -> Reply:
            connection = http.client.HTTPConnection(address.hostname, address.port, timeout=60)
            headers = {key: value for key, value in request.headers.items() if key.lower() not in NOT_FORWARDED}
            connection.request(request.method, request.target, body=request.body, headers=headers)
            response = connection.getresponse()
            dropped = NOT_PASSED_BACK - {"content-length"} if request.method == "HEAD" else NOT_PASSED_BACK
            passed = {key: value for key, value in response.getheaders() if key.lower() not in dropped}
            return Reply(response.status, passed, response.read())

        do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = do_PATCH = do_OPTIONS = forward

    with serving_in_thread(http.server.ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)) as url:
        yield url
