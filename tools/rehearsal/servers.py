"""Local processes on 127.0.0.1 and a free port, for the length of a `with` block: the process runner the
rehearsal and the tests share, and moto_server started through it."""

from __future__ import annotations

import contextlib
import os
import socket
import socketserver
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import boto3

# moto_server, with bucket policies evaluated as for HTTPS requests (see moto_launch): the rehearsal's.
MOTO_OVER_HTTPS = (sys.executable, "-m", "rehearsal.moto_launch")
# moto_server as installed, plus the APIs it lacks (see moto_launch): the tests', which never meet the
# buckets' transport policy.
MOTO = (*MOTO_OVER_HTTPS, "--no-corrections")


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until_up(url: str, process: subprocess.Popen, timeout: float = 30.0) -> None:
    """Poll `url` until it answers (any HTTP status counts) or the process dies."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{process.args!r} exited with {process.returncode} before {url} answered")
        try:
            with urllib.request.urlopen(url, timeout=1):  # noqa: S310 (a local URL)
                return
        except urllib.error.HTTPError:
            return
        except OSError:
            time.sleep(0.1)
    raise TimeoutError(f"{url} did not answer within {timeout:.0f}s")


@contextlib.contextmanager
def running(
    command: Sequence[str],
    probe_url: str,
    log_path: Path,
    env: Mapping[str, str] | None = None,
    timeout: float = 30.0,
) -> Iterator[subprocess.Popen]:
    """Run `command` until the block ends; its output goes to `log_path`, shown if it fails to start."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with log_path.open("wb") as log:
        process = subprocess.Popen(list(command), stdout=log, stderr=subprocess.STDOUT, env=dict(env or os.environ))
        try:
            try:
                wait_until_up(probe_url, process, timeout)
            except (RuntimeError, TimeoutError) as error:
                raise RuntimeError(f"{error}\n--- {log_path} ---\n{log_path.read_text(errors='replace')}") from None
            yield process
        finally:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


@contextlib.contextmanager
def moto_server(log_path: Path, launcher: Sequence[str] = MOTO) -> Iterator[str]:
    """A moto server speaking every service the pipeline calls; yields its endpoint URL."""
    port = free_port()
    endpoint = f"http://127.0.0.1:{port}"
    with running([*launcher, "-H", "127.0.0.1", "-p", str(port)], f"{endpoint}/moto-api/", log_path):
        yield endpoint


@contextlib.contextmanager
def serving_in_thread(server: socketserver.BaseServer) -> Iterator[str]:
    """Serve `server` (bound to 127.0.0.1) from a thread until the block ends; yields its base URL."""
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def local_client(endpoint: str, service: str, region: str = "eu-central-1") -> Any:
    """A boto3 client for a local endpoint (moto, or the proxy in front of it), which accepts any key."""
    return boto3.client(
        service,
        endpoint_url=endpoint,
        region_name=region,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",  # noqa: S106 (a local endpoint accepts any key)
    )
