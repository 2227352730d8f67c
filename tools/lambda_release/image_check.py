"""`python -m lambda_release.image_check URL`: the pre-traffic check against a built image, before any AWS.

URL is the Lambda runtime interface emulator's invocation endpoint of a running container, e.g.
http://127.0.0.1:9000/2015-03-31/functions/function/invocations. The same events and expectations the
release sends to a new version reach the image here, built from the signature the image's model reports.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Sequence
from typing import Any

from lambda_release.rollout import Invoker, PreTrafficFailure, pre_traffic_check, proxy_event


def emulator_invoker(url: str, timeout: float) -> Invoker:
    def invoke(event: dict[str, Any]) -> dict[str, Any]:
        request = urllib.request.Request(  # noqa: S310 (the URL is the operator's own emulator)
            url, data=json.dumps(event).encode(), headers={"Content-Type": "application/json"}, method="POST"
        )
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310
                payload = response.read()
        except (urllib.error.URLError, TimeoutError) as error:
            raise PreTrafficFailure(f"{url}: no answer: {error}") from None
        try:
            return json.loads(payload)
        except ValueError:
            raise PreTrafficFailure(f"{url} answered no JSON: {payload[:200]!r}") from None

    return invoke


def wait_until_answering(invoke: Invoker, seconds: float) -> None:
    """A container needs a moment to start: retry GET /health until it answers at all, or `seconds` pass."""
    deadline = time.monotonic() + seconds
    while True:
        try:
            invoke(proxy_event("GET", "/health"))
            return
        except PreTrafficFailure:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.5)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m lambda_release.image_check", description=__doc__.split("\n")[0])
    parser.add_argument("url", help="the emulator's invocation URL")
    parser.add_argument("--wait", type=float, default=30.0, help="seconds to wait for the container (default 30)")
    parser.add_argument("--timeout", type=float, default=30.0, help="seconds per request (default 30)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    arguments = build_parser().parse_args(argv)
    invoke = emulator_invoker(arguments.url, arguments.timeout)
    try:
        wait_until_answering(invoke, arguments.wait)
        version, _ = pre_traffic_check(invoke)
    except PreTrafficFailure as error:
        print(f"image check failed: {error}", file=sys.stderr)
        return 1
    print(f"image check passed: model {version} answers the contract of its signature")
    return 0


if __name__ == "__main__":
    sys.exit(main())
