"""The Lambda entry point: event in, response out. The model is loaded once per container."""

from __future__ import annotations

import json
import logging
import os
import time
from typing import Any

from lambda_model.serving import routes
from lambda_model.serving.events import Request, error_response, read_request
from lambda_model.serving.model_holder import ModelHolder
from lambda_model.serving.request import RequestError

logger = logging.getLogger("lambda_model.requests")
# In Lambda the runtime owns logging: its JSON format and the function's application_log_level.
# Elsewhere (serve, invoke, tests) nobody has configured it yet.
if not logging.getLogger().handlers:
    logging.basicConfig(level=logging.INFO, format="%(message)s")

model = ModelHolder(lambda: os.environ.get("MODEL_URI"))
# Loading during the init phase uses Lambda's unthrottled start-up CPU; a failure here is
# remembered and retried on the first request instead of crashing the container.
model.try_load()


def handler(event: Any, context: Any = None) -> dict[str, Any]:
    started = time.perf_counter()
    route = "?"
    try:
        request = read_request(event, context)
    except RequestError as error:
        request = None
        result = error_response(error.status, error.code, error.message)
    else:
        route = f"{request.method} {request.path}"
        result = _dispatch(request)
    _log(request.request_id if request else getattr(context, "aws_request_id", None), route, result, started)
    return result


def _dispatch(request: Request) -> dict[str, Any]:
    try:
        return routes.find(request.method, request.path)(request, model)
    except RequestError as error:
        headers = {"Allow": ", ".join(routes.allowed_methods(request.path))} if error.status == 405 else None
        return error_response(error.status, error.code, error.message, headers)
    except Exception:
        # Never a stack trace to the client: log it here, answer a plain 500.
        logger.exception("unexpected failure handling %s %s", request.method, request.path)
        return error_response(500, "internal_error", "the service failed to answer; the failure was logged")


def _log(request_id: str | None, route: str, result: dict[str, Any], started: float) -> None:
    record = {
        "request_id": request_id,
        "route": route,
        "status": result["statusCode"],
        "latency_ms": round((time.perf_counter() - started) * 1000, 3),
        "model_version": model.version,
    }
    if result["statusCode"] >= 400:
        record["error"] = json.loads(result["body"])["error"]["code"]
    logger.info(json.dumps(record))
