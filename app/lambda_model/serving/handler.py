"""The Lambda entry point: event in, response out. The model is loaded once per container."""

from __future__ import annotations

import json
import logging
import os
import time
from typing import Any

from lambda_model.serving import metrics, routes
from lambda_model.serving.events import Request, error_response, read_request
from lambda_model.serving.logs import configure_outside_lambda
from lambda_model.serving.model_holder import ModelHolder
from lambda_model.serving.request import RequestError

logger = logging.getLogger("lambda_model.requests")
# In Lambda the runtime owns logging: its JSON format and the function's application_log_level.
configure_outside_lambda()

model = ModelHolder(lambda: os.environ.get("MODEL_URI"))
# Loading during the init phase uses Lambda's unthrottled start-up CPU; a failure here is
# remembered and retried by a request after the back-off, instead of crashing the container.
model.try_load()
# The first line with metrics counts this container's cold start (ColdStart), whichever request it is.
_cold_start_reported = False


def handler(event: Any, context: Any = None) -> dict[str, Any]:
    started = time.perf_counter()
    try:
        request = read_request(event, context)
    except RequestError as error:
        result = error_response(error.status, error.code, error.message)
        _log(routes.Answer(result), started, request_id=getattr(context, "aws_request_id", None))
        return result
    answer = _dispatch(request)
    _log(
        answer,
        started,
        request_id=request.request_id,
        api_request_id=request.api_request_id,
        route=f"{request.method[:20]} {request.path[:100]}",
    )
    return answer.response


def _dispatch(request: Request) -> routes.Answer:
    try:
        return routes.find(request.method, request.path)(request, model)
    except RequestError as error:
        headers = {"Allow": ", ".join(routes.allowed_methods(request.path))} if error.status == 405 else None
        return routes.Answer(error_response(error.status, error.code, error.message, headers))
    except Exception:
        # Never a stack trace to the client: log it here, answer a plain 500.
        logger.exception("unexpected failure handling %s %s", request.method[:20], request.path[:100])
        return routes.Answer(
            error_response(500, "internal_error", "the service failed to answer; the failure was logged")
        )


def _log(
    answer: routes.Answer,
    started: float,
    request_id: str | None,
    api_request_id: str | None = None,
    route: str = "?",
) -> None:
    """One line per request, its fields passed with `extra=` so each is a top-level key of the JSON line.

    A prediction's line also carries its metrics (EMF): the same log event is the metric record.
    """
    global _cold_start_reported
    result = answer.response
    status = result["statusCode"]
    fields: dict[str, Any] = {
        "request_id": request_id,
        "api_request_id": api_request_id,
        "route": route,
        "status": status,
        "latency_ms": round((time.perf_counter() - started) * 1000, 3),
        "model_version": model.version,
    }
    if status >= 400:
        fields["error"] = json.loads(result["body"])["error"]["code"]
    elif answer.scored is not None:
        try:
            fields.update(metrics.emf_fields(answer.scored, cold_start=not _cold_start_reported))
            _cold_start_reported = True
        except Exception:
            # Metrics describe the answer; a bug in them must not turn a good answer into an error.
            logger.exception("could not build the metrics of %s", route)
    logger.info("%s answered %d", route, status, extra=fields)
