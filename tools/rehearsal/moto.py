"""A moto server on a free 127.0.0.1 port for the length of a `with` block."""

from __future__ import annotations

import contextlib
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

# moto_server, with the bucket policies evaluated as for HTTPS requests (see moto_launch).
MOTO_SERVER = (sys.executable, "-m", "rehearsal.moto_launch")


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextlib.contextmanager
def moto_server(log_path: Path, timeout: float = 30.0) -> Iterator[str]:
    """Yields the endpoint URL; the server's output goes to `log_path`; it is stopped when the block ends."""
    port = free_port()
    endpoint = f"http://127.0.0.1:{port}"
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [*MOTO_SERVER, "-H", "127.0.0.1", "-p", str(port)], stdout=log, stderr=subprocess.STDOUT
        )
        try:
            deadline = time.monotonic() + timeout
            while True:
                if process.poll() is not None:
                    raise RuntimeError(f"moto_server exited with {process.returncode}; see {log_path}")
                try:
                    with urllib.request.urlopen(f"{endpoint}/moto-api/", timeout=1):  # noqa: S310 (local URL)
                        break
                except urllib.error.HTTPError:
                    break
                except OSError:
                    if time.monotonic() > deadline:
                        raise TimeoutError(f"moto_server did not answer within {timeout:.0f}s") from None
                    time.sleep(0.1)
            yield endpoint
        finally:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
