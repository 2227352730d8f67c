"""The pull request's image smoke test: the pre-traffic check over HTTP, as the runtime interface emulator takes it."""

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from lambda_release.image_check import main
from tests.support.servers import free_port


@contextmanager
def emulator(handler: Any, answer=lambda event, result: result) -> Iterator[str]:
    """POST an event, get the handler's result: the emulator's protocol, with the handler in this process."""

    class Invocations(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            event = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            body = json.dumps(answer(event, handler.handler(event))).encode()
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", free_port()), Invocations)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}/2015-03-31/functions/function/invocations"
    finally:
        server.shutdown()
        server.server_close()


@pytest.mark.parametrize("fixture", ["serving", "cancer_serving"])
def test_an_image_that_keeps_the_contract_passes_whatever_its_model(request, fixture, capsys):
    handler = request.getfixturevalue(fixture)
    with emulator(handler) as url:
        assert main([url, "--wait", "5"]) == 0
    assert f"model {handler.model.get().version} answers the contract" in capsys.readouterr().out


def test_an_image_that_accepts_a_missing_feature_fails(serving, capsys):
    def accept_everything(event, result):
        return {**result, "statusCode": 200} if result["statusCode"] == 400 else result

    with emulator(serving, accept_everything) as url:
        assert main([url, "--wait", "5"]) == 1
    assert "answered 200, expected 400" in capsys.readouterr().err


def test_no_container_is_a_failure_not_a_hang(capsys):
    assert main([f"http://127.0.0.1:{free_port()}/", "--wait", "1", "--timeout", "1"]) == 1
    assert "no answer" in capsys.readouterr().err
