"""The AWS calls a scenario makes, as moto's request recorder saw them (MOTO_ENABLE_RECORDING on the server)."""

from __future__ import annotations

import base64
import json
import urllib.request
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class RecordedCall:
    method: str
    url: str
    headers: dict[str, str]
    body: bytes = b""

    @property
    def service(self) -> str:
        """The SigV4 signing name from the credential scope: .../<date>/<region>/<service>/aws4_request."""
        return self._scope[3] if len(self._scope) > 3 else ""

    @property
    def region(self) -> str:
        return self._scope[2] if len(self._scope) > 2 else ""

    @property
    def _scope(self) -> list[str]:
        authorization = next((v for k, v in self.headers.items() if k.lower() == "authorization"), "")
        return authorization.partition("Credential=")[2].split(",", 1)[0].split("/")


class Recorder:
    """Start, stop and read moto's recording; one scenario at a time on one server."""

    def __init__(self, endpoint: str) -> None:
        self.endpoint = endpoint.rstrip("/")

    def _call(self, action: str) -> bytes:
        method = "GET" if action == "download-recording" else "POST"
        url = f"{self.endpoint}/moto-api/recorder/{action}"
        request = urllib.request.Request(url, method=method)  # noqa: S310 (http:// of a local moto server)
        with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310 (a local moto server)
            return response.read()

    def start(self) -> None:
        self._call("reset-recording")
        self._call("start-recording")

    def stop(self) -> list[RecordedCall]:
        self._call("stop-recording")
        return [_call(json.loads(line)) for line in self._call("download-recording").decode().splitlines() if line]


def _call(entry: dict[str, Any]) -> RecordedCall:
    raw = entry.get("body") or ""
    body = base64.b64decode(raw) if entry.get("body_encoded") else raw.encode()
    return RecordedCall(method=entry["method"], url=entry["url"], headers=dict(entry.get("headers", {})), body=body)
