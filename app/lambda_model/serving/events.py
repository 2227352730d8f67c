"""Read the three event shapes the function receives into one request, and build proxy responses.

- API Gateway REST API proxy events (payload format 1.0): `httpMethod`, `path`, `body`.
- HTTP API events (payload format 2.0): `version: "2.0"`, `requestContext.http.method`, `rawPath`.
- Direct invokes, as in `aws lambda invoke --payload '{"body": {...}}'`: treated as POST /predict.
"""

from __future__ import annotations

import json
from typing import Any, NamedTuple

from lambda_model.serving.request import RequestError


class Request(NamedTuple):
    method: str
    path: str
    body: Any
    is_base64: bool
    request_id: str
    """Lambda's request id (the function's log lines carry it), else API Gateway's, else a fresh one."""
    api_request_id: str | None
    """API Gateway's request id, as in its access logs: the key that joins them to the function's log."""


def _text(value: Any, default: str = "") -> str:
    return value if isinstance(value, str) else default


def _mapping(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _strip_stage(path: str, stage: str) -> str:
    """HTTP API paths carry a named stage ("/prod/predict"); the routes do not."""
    if stage and stage != "$default" and (path == f"/{stage}" or path.startswith(f"/{stage}/")):
        path = path[len(stage) + 1 :]
    return path or "/"


def _new_request_id() -> str:
    """An id for an event that carries none (a direct invoke outside Lambda). uuid is imported here: Lambda and
    API Gateway always pass one, and the import would be every cold start's."""
    import uuid

    return str(uuid.uuid4())


def read_request(event: Any, context: Any = None) -> Request:
    """Normalise any supported event; an event that is none of them is a client error."""
    if not isinstance(event, dict):
        raise RequestError(400, "invalid_event", "the event must be a JSON object")
    context_id = _text(getattr(context, "aws_request_id", None))
    request_context = _mapping(event.get("requestContext"))
    api_request_id = _text(request_context.get("requestId")) or None
    request_id = context_id or api_request_id or _new_request_id()
    is_base64 = event.get("isBase64Encoded") is True
    if event.get("version") == "2.0" and isinstance(request_context.get("http"), dict):
        http = request_context["http"]
        path = _strip_stage(
            _text(event.get("rawPath"), _text(http.get("path"), "/")), _text(request_context.get("stage"))
        )
        method = _text(http.get("method")).upper()
        return Request(method, path, event.get("body"), is_base64, request_id, api_request_id)
    if "httpMethod" in event:
        return Request(
            _text(event.get("httpMethod")).upper(),
            _text(event.get("path"), "/") or "/",
            event.get("body"),
            is_base64,
            request_id,
            api_request_id,
        )
    if "body" in event:
        return Request("POST", "/predict", event["body"], is_base64, request_id, api_request_id)
    raise RequestError(
        400,
        "invalid_event",
        'the event is neither an API Gateway proxy event nor a direct invoke of the form {"body": {...}}',
    )


def response(status: int, payload: dict[str, Any], headers: dict[str, str] | None = None) -> dict[str, Any]:
    return {
        "statusCode": status,
        "headers": {"Content-Type": "application/json", **(headers or {})},
        "body": json.dumps(payload),
        "isBase64Encoded": False,
    }


def error_response(status: int, code: str, message: str, headers: dict[str, str] | None = None) -> dict[str, Any]:
    return response(status, {"error": {"code": code, "message": message}}, headers)
