"""A stand-in for the API in front of the alias, for the release tool's canary: requests are routed to a
version by the alias's weights as read from moto (as Lambda does), answered by the handler in this process,
and each invocation is published to moto's CloudWatch as Lambda publishes it: Invocations, Errors and
Duration with the dimensions FunctionName, Resource (function:alias) and ExecutedVersion. moto runs no
image function and publishes no Lambda metrics; this is what lets a test's canary see its new version.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from lambda_model.serving.local_api import LocalApiServer, ProxyHandler
from rehearsal.gateway import FORBIDDEN
from rehearsal.lambda_service import weighted_version
from rehearsal.servers import free_port, serving_in_thread

LAMBDA_METRICS = ("Invocations", "Errors", "Duration")


@dataclass
class CanaryApi:
    lambda_client: Any
    cloudwatch: Any
    function: str
    handler: Callable[[dict[str, Any]], dict[str, Any]]
    alias: str = "live"
    api_key: str = ""
    # What Lambda publishes per invocation; a test leaves one out to play a per-version alarm without data.
    metrics: tuple[str, ...] = LAMBDA_METRICS
    # Pinned: every request goes to this version whatever the alias says (an API that bypasses the canary).
    pinned_version: str = ""
    headers: list[dict[str, str]] = field(default_factory=list)
    executed: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def version(self) -> str:
        if self.pinned_version:
            return self.pinned_version
        return weighted_version(self.lambda_client.get_alias(FunctionName=self.function, Name=self.alias))

    def answer(self, event: dict[str, Any]) -> dict[str, Any]:
        headers = {key.lower(): value for key, value in (event.get("headers") or {}).items()}
        with self.lock:
            self.headers.append(headers)
        if self.api_key and headers.get("x-api-key") != self.api_key:
            return FORBIDDEN
        version = self.version()
        started = time.perf_counter()
        response = self.handler(event)
        values = {"Invocations": 1.0, "Errors": 0.0, "Duration": (time.perf_counter() - started) * 1000}
        dimensions = [
            {"Name": "FunctionName", "Value": self.function},
            {"Name": "Resource", "Value": f"{self.function}:{self.alias}"},
            {"Name": "ExecutedVersion", "Value": version},
        ]
        self.cloudwatch.put_metric_data(
            Namespace="AWS/Lambda",
            MetricData=[{"MetricName": name, "Dimensions": dimensions, "Value": values[name]} for name in self.metrics],
        )
        with self.lock:
            self.executed.append(version)
        return response


@contextlib.contextmanager
def serving(api: CanaryApi) -> Iterator[str]:
    """Serve `api` on 127.0.0.1; yields its URL (the stack's endpoint_url)."""

    class Handler(ProxyHandler):
        def answer(self, event: dict[str, Any]) -> dict[str, Any]:
            return api.answer(event)

    with serving_in_thread(LocalApiServer(("127.0.0.1", free_port()), Handler)) as url:
        yield url
