"""Start and stop the local processes that tests talk to, always on 127.0.0.1 and a free port."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Mapping
from pathlib import Path

from rehearsal import servers as processes
from rehearsal.servers import free_port  # noqa: F401 (the tests reach it as servers.free_port)

REPO_ROOT = Path(__file__).resolve().parents[2]
BIN_DIR = Path(sys.executable).parent
APP_DIR = REPO_ROOT / "app"


def cli_env(**overrides: str) -> dict[str, str]:
    """This process's environment with `overrides`: the package is installed, so nothing else is needed."""
    return {**os.environ, **overrides}


def log_path(command: str) -> Path:
    """Where a test's server writes its output (shown when it fails to start)."""
    return REPO_ROOT / ".pytest_cache" / "servers" / f"{Path(command).name}-{os.getpid()}-{time.time_ns()}.log"


@contextlib.contextmanager
def running(
    command: list[str], probe_url: str, env: Mapping[str, str] | None = None, timeout: float = 30.0
) -> Iterator[subprocess.Popen]:
    """Run `command` until the block ends (rehearsal.servers.running with a log under .pytest_cache)."""
    with processes.running(command, probe_url, log_path(command[0]), env, timeout) as process:
        yield process


@contextlib.contextmanager
def moto_server() -> Iterator[str]:
    """A moto server speaking S3, ECR, Lambda, IAM and STS; yields its endpoint URL."""
    with processes.moto_server(log_path("moto_server")) as endpoint:
        yield endpoint


def aws_env(endpoint: str, region: str = "eu-central-1") -> dict[str, str]:
    """Environment variables that point boto3, the AWS CLI and Terraform at a local endpoint with dummy keys."""
    return {
        "AWS_ENDPOINT_URL": endpoint,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": region,
        "AWS_REGION": region,
    }


@contextlib.contextmanager
def silent_endpoint() -> Iterator[str]:
    """An HTTP endpoint that accepts every connection and never answers: a hung store, not a down one.

    Yields its URL. Unlike a closed port (refused at once), only a client's read timeout ends a call here.
    """
    listener = socket.create_server(("127.0.0.1", 0), backlog=64)
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept_and_hold() -> None:
        listener.settimeout(0.2)
        while not stop.is_set():
            try:
                held.append(listener.accept()[0])
            except TimeoutError:
                continue
            except OSError:
                return

    thread = threading.Thread(target=accept_and_hold, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}"
    finally:
        stop.set()
        thread.join()
        for connection in held:
            connection.close()
        listener.close()
