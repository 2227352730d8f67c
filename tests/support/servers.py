"""Start and stop the local processes that tests talk to, always on 127.0.0.1 and a free port."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
BIN_DIR = Path(sys.executable).parent
APP_DIR = REPO_ROOT / "app"


def cli_env(**overrides: str) -> dict[str, str]:
    """This process's environment with `overrides`: the package is installed, so nothing else is needed."""
    return {**os.environ, **overrides}


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
            with urllib.request.urlopen(url, timeout=1):
                return
        except urllib.error.HTTPError:
            return
        except OSError:
            time.sleep(0.1)
    raise TimeoutError(f"{url} did not answer within {timeout:.0f}s")


@contextlib.contextmanager
def running(
    command: list[str], probe_url: str, env: Mapping[str, str] | None = None, timeout: float = 30.0
) -> Iterator[subprocess.Popen]:
    """Run `command` until the block ends; its output goes to a log file shown if it fails to start."""
    log_path = REPO_ROOT / ".pytest_cache" / "servers" / f"{Path(command[0]).name}-{os.getpid()}-{time.time_ns()}.log"
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with log_path.open("wb") as log:
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=dict(env or os.environ))
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
def moto_server() -> Iterator[str]:
    """A moto server speaking S3, ECR, Lambda, IAM and STS; yields its endpoint URL."""
    port = free_port()
    endpoint = f"http://127.0.0.1:{port}"
    with running([str(BIN_DIR / "moto_server"), "-H", "127.0.0.1", "-p", str(port)], f"{endpoint}/moto-api/"):
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
