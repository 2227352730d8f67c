"""The API's routes: which method and path reach which endpoint."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

from lambda_model.serving import openapi
from lambda_model.serving.events import Request, error_response, response
from lambda_model.serving.metrics import Scored
from lambda_model.serving.model_holder import ModelHolder, ModelUnavailable
from lambda_model.serving.request import RequestError, decode_body, parse_rows, read_records


class Answer(NamedTuple):
    """An endpoint's proxy response, and what the model scored for it (None when it scored nothing)."""

    response: dict[str, Any]
    scored: Scored | None = None


Endpoint = Callable[[Request, ModelHolder], Answer]
MODEL_VERSION_HEADER = "X-Model-Version"


def predict(request: Request, model: ModelHolder) -> Answer:
    # The body's shape first: a malformed body is the client's to fix even while the model is unavailable.
    # Its features are checked against the model's own signature, so they wait for the model.
    records, is_batch = read_records(decode_body(request.body, request.is_base64))
    try:
        predictor = model.get()
    except ModelUnavailable as unavailable:
        return _unavailable(unavailable)
    rows = parse_rows(records, is_batch, predictor.signature.names)
    predictions = predictor.predict(rows)
    answers = [prediction.as_dict() for prediction in predictions]
    payload = {"predictions": answers} if is_batch else {"prediction": answers[0]}
    return Answer(
        response(200, payload, {MODEL_VERSION_HEADER: predictor.version}), Scored(predictor, rows, predictions)
    )


def health(request: Request, model: ModelHolder) -> Answer:
    try:
        predictor = model.get()
    except ModelUnavailable as unavailable:
        return _unavailable(unavailable)
    metadata = predictor.metadata
    health_response = response(
        200,
        {
            "status": "ok",
            "model": {
                "version": predictor.version,
                "created_at": metadata.get("created_at"),
                "metrics": metadata.get("metrics"),
                "signature": predictor.signature.as_json(),
            },
        },
        {MODEL_VERSION_HEADER: predictor.version},
    )
    return Answer(health_response)


def openapi_document(request: Request, model: ModelHolder) -> Answer:
    """The contract of the version that answers, so a client can discover what this version takes."""
    try:
        predictor = model.get()
    except ModelUnavailable as unavailable:
        return _unavailable(unavailable)
    return Answer(response(200, openapi.document(predictor, ROUTES), {MODEL_VERSION_HEADER: predictor.version}))


def _unavailable(unavailable: ModelUnavailable) -> Answer:
    # The reason (store unreachable, checksum mismatch, ...) is logged, not shown to clients.
    return Answer(
        error_response(
            503,
            "model_unavailable",
            "the model is not available right now; retry shortly",
            {"Retry-After": unavailable.retry_after_header},
        )
    )


ROUTES: dict[str, dict[str, Endpoint]] = {
    "/": {"POST": predict},
    "/predict": {"POST": predict},
    "/health": {"GET": health},
    "/openapi.json": {"GET": openapi_document},
}


def _normalise(path: str) -> str:
    return path.rstrip("/") or "/"


def allowed_methods(path: str) -> list[str]:
    """The methods `path` answers, as its Allow header lists them: HEAD wherever GET is."""
    methods = ROUTES.get(_normalise(path), {})
    return sorted({*methods, *(["HEAD"] if "GET" in methods else [])})


def _quoted(client_text: str, limit: int) -> str:
    """Client text echoed in a message, cut short: an error must not grow with what was sent."""
    return repr(client_text[:limit]) + ("..." if len(client_text) > limit else "")


def find(method: str, path: str) -> Endpoint:
    methods = ROUTES.get(_normalise(path))
    if methods is None:
        raise RequestError(404, "not_found", f"no route {_quoted(path, 100)}; use POST /predict or GET /health")
    # HEAD is GET without the body (RFC 9110 9.3.2): the GET endpoint answers, and the HTTP layer in front
    # (API Gateway, the local server) sends its status and headers only.
    endpoint = methods.get("GET" if method == "HEAD" else method)
    if endpoint is None:
        raise RequestError(
            405,
            "method_not_allowed",
            f"{method[:20] or 'no method'} is not allowed on {_quoted(path, 100)}; "
            f"use {', '.join(allowed_methods(path))}",
        )
    return endpoint
