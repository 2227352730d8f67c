"""A proxy in front of moto that can answer chosen requests itself or rewrite moto's answers.

moto cannot run an image function and never fails on purpose: tests put this proxy between the code under
test and moto to answer Lambda Invoke with the real handler, inject faults, and see every request.
"""

from __future__ import annotations

import contextlib
import http.client
import http.server
import json
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from rehearsal.servers import free_port

# Hop-by-hop or recomputed: the proxy sets its own Content-Length for the (possibly rewritten) payload.
NOT_PASSED_BACK = {"content-length", "transfer-encoding", "connection"}


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
        def log_message(self, format: str, *args: Any) -> None:
            """Keep pytest's output clean."""

        def forward(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            request = ProxiedRequest(self.command, self.path, dict(self.headers.items()), body)
            reply = handle(request, lambda: self.ask_upstream(request))
            self.send_response(reply.status)
            for key, value in reply.headers.items():
                self.send_header(key, value)
            self.send_header("Content-Length", str(len(reply.payload)))
            self.end_headers()
            self.wfile.write(reply.payload)

        def ask_upstream(self, request: ProxiedRequest) -> Reply:
            connection = http.client.HTTPConnection(address.hostname, address.port, timeout=30)
            headers = {key: value for key, value in request.headers.items() if key.lower() != "host"}
            connection.request(request.method, request.target, body=request.body, headers=headers)
            response = connection.getresponse()
            passed = {key: value for key, value in response.getheaders() if key.lower() not in NOT_PASSED_BACK}
            return Reply(response.status, passed, response.read())

        do_GET = do_POST = do_PUT = do_DELETE = forward

    server = http.server.ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
