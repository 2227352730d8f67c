"""The OpenAPI document of one model: its paths from the route table, its schemas from the model's signature.

`GET /openapi.json` serves it for the version that answers; `python -m lambda_model openapi --model URI`
writes it (docs/openapi.yaml is that output for the default model, kept in sync by a test). Nothing here
knows a feature name: records, labels and examples come from the loaded model.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from lambda_model.contract import FLOAT32_MAX
from lambda_model.registry.signature import Signature
from lambda_model.serving.predictor import Predictor
from lambda_model.serving.request import MAX_BATCH_SIZE, MAX_BODY_BYTES

JSON = "application/json"
OPENAPI_VERSION = "3.1.0"

CLIENT_ERROR_CODES = {
    "invalid_event": "not an API Gateway or direct-invoke event",
    "empty_body": "no body",
    "invalid_body": "the body is not one record or an array of records",
    "invalid_json": "the body is not valid JSON (or UTF-8)",
    "duplicate_key": "a key appears twice in one object",
    "unknown_feature": "a key that is not one of the model's features",
    "missing_feature": "a feature is absent (send null to have it imputed)",
    "invalid_feature_value": "a string, boolean, array or object where a number belongs",
    "non_finite_value": "NaN or Infinity",
    "value_out_of_range": "a number beyond float32, such as 1e39 or 1e400",
    "empty_batch": "`[]`",
    "invalid_request": "a malformed HTTP request (local server)",
}


def _ref(kind: str, name: str) -> dict[str, str]:
    return {"$ref": f"#/components/{kind}/{name}"}


def _error_schema(codes: list[str]) -> dict[str, Any]:
    code = {"const": codes[0]} if len(codes) == 1 else {"enum": codes}
    return {"allOf": [_ref("schemas", "Error"), {"properties": {"error": {"properties": {"code": code}}}}]}


def _json_content(schema: dict[str, Any], examples: dict[str, Any] | None = None) -> dict[str, Any]:
    content: dict[str, Any] = {"schema": schema}
    if examples:
        content["examples"] = {name: {"value": value} for name, value in examples.items()}
    return {JSON: content}


def _feature_schema(signature: Signature) -> dict[str, Any]:
    properties = {}
    for feature in signature.features:
        seen = (
            f" Training data: min {feature.minimum:g}, max {feature.maximum:g}, mean {feature.mean:.6g}."
            if feature.minimum is not None and feature.maximum is not None and feature.mean is not None
            else ""
        )
        properties[feature.name] = {
            "description": f"A number, or null to have it imputed.{seen}",
            **_ref("schemas", "FeatureValue"),
        }
    return {
        "type": "object",
        "required": list(signature.names),
        "additionalProperties": False,
        "properties": properties,
    }


# What the local server (`make serve`) answers to a request http.server cannot hand over: a request line or a
# header over its limits, an HTTP version it does not speak. API Gateway refuses those itself, before the
# function, in its own format. On any route; on a read route also a 400 (a malformed request, a bad
# Content-Length), which a prediction route documents as BadRequest already.
_LOCAL_SERVER_REFUSALS = {
    "414": _ref("responses", "UriTooLong"),
    "431": _ref("responses", "HeadersTooLarge"),
    "505": _ref("responses", "HttpVersionNotSupported"),
}


def _predict_operation(operation_id: str, summary: str) -> dict[str, Any]:
    return {
        "operationId": operation_id,
        "summary": summary,
        "security": [{}, {"apiKey": []}],
        "requestBody": _ref("requestBodies", "Prediction"),
        "responses": {
            "200": _ref("responses", "Predicted"),
            "400": _ref("responses", "BadRequest"),
            "413": _ref("responses", "PayloadTooLarge"),
            "500": _ref("responses", "InternalError"),
            "503": _ref("responses", "ModelUnavailable"),
            **_LOCAL_SERVER_REFUSALS,
        },
    }


def _read_operation(operation_id: str, summary: str, description: str, schema: str) -> dict[str, Any]:
    return {
        "operationId": operation_id,
        "summary": summary,
        "responses": {
            "200": {
                "description": description,
                "headers": {"X-Model-Version": _ref("headers", "X-Model-Version")},
                "content": _json_content(_ref("schemas", schema)),
            },
            "400": _ref("responses", "InvalidRequest"),
            "500": _ref("responses", "InternalError"),
            "503": _ref("responses", "ModelUnavailable"),
            **_LOCAL_SERVER_REFUSALS,
        },
    }


def _operation(endpoint_name: str, path: str) -> tuple[str, dict[str, Any]]:
    """(HTTP method, operation) of one route, by the endpoint that answers it."""
    if endpoint_name == "predict":
        if path == "/":
            return "post", _predict_operation("predictAtStageRoot", "Predict (the stage root, where the seed posts)")
        return "post", _predict_operation("predict", "Predict one record, or up to 100 in one batch")
    if endpoint_name == "health":
        operation = _read_operation(
            "health", "The service is up, and which model answers", "The model is loaded.", "Health"
        )
        return "get", {**operation, "security": []}
    if endpoint_name == "openapi_document":
        operation = _read_operation(
            "openapi", "This document, for the model version that answers", "The OpenAPI document.", "Document"
        )
        return "get", {**operation, "security": [{}, {"apiKey": []}]}
    raise ValueError(f"the route {path} is answered by {endpoint_name}, which this document does not describe")


def _paths(routes: Mapping[str, Mapping[str, Callable[..., Any]]]) -> dict[str, Any]:
    paths: dict[str, Any] = {}
    for path, methods in routes.items():
        paths[path] = {}
        for method, endpoint in methods.items():
            documented_method, operation = _operation(endpoint.__name__, path)
            if documented_method != method.lower():
                raise ValueError(f"{method} {path}: the document describes {documented_method.upper()}")
            paths[path][documented_method] = operation
    return paths


def document(model: Predictor, routes: Mapping[str, Mapping[str, Callable[..., Any]]]) -> dict[str, Any]:
    """The OpenAPI 3.1 document for `model` served on `routes` (path → method → endpoint).

    The examples are the signature's input example (and the same with its last feature null), and the
    response example is what `model` answers to it.
    """
    signature = model.signature
    example = signature.example_record()
    imputed = {**example, signature.names[-1]: None}
    predicted = {"prediction": model.predict([tuple(example.values())])[0].as_dict()}
    return {
        "openapi": OPENAPI_VERSION,
        "info": {
            "title": "lambda-model",
            "version": signature.fingerprint,
            "summary": (
                f"Predicts one of {len(signature.classes)} classes from {len(signature.names)} numeric features, "
                "with a scikit-learn model served as ONNX on AWS Lambda."
            ),
            "description": _DESCRIPTION.format(fingerprint=signature.fingerprint),
        },
        "servers": [
            {
                "url": "https://{api_id}.execute-api.{region}.amazonaws.com/predict",
                "description": "The deployed REST API stage (Terraform output `endpoint_url`).",
                "variables": {"api_id": {"default": "abc123defg"}, "region": {"default": "eu-central-1"}},
            },
            {
                "url": "http://127.0.0.1:8080",
                "description": "`make serve`: the same handler behind a local HTTP server.",
            },
        ],
        "paths": _paths(routes),
        "components": {
            "securitySchemes": {
                "apiKey": {
                    "type": "apiKey",
                    "in": "header",
                    "name": "x-api-key",
                    "description": "Required on every route but /health when the stack has `enable_api_key`.",
                }
            },
            "headers": _HEADERS,
            "requestBodies": {
                "Prediction": {
                    "required": True,
                    "description": (
                        f"One record, or a JSON array of 1 to {MAX_BATCH_SIZE} records (answered in order). "
                        f"The body may be at most {MAX_BODY_BYTES:,} bytes. Every feature must be present, with a "
                        "number or `null`; unknown keys, strings, booleans, NaN/Infinity and numbers beyond "
                        "float32's range are refused."
                    ),
                    "content": _json_content(
                        {"oneOf": [_ref("schemas", "Record"), _ref("schemas", "Batch")]},
                        {"example": example, "imputed": imputed, "batch": [example, imputed]},
                    ),
                }
            },
            "responses": _responses(signature, predicted),
            "schemas": _schemas(signature),
        },
    }


_DESCRIPTION = """\
The API Gateway stage (and `make serve` locally) forwards every request to one Lambda handler. Send a
record of the model's features and get the predicted class and its probability. `null` for a feature
means "not measured": the model imputes it with the training mean.

This document is generated from the model's signature (fingerprint `{fingerprint}`): `GET /openapi.json`
answers it for the version that serves the request, and `python -m lambda_model openapi --model URI`
writes it for any model.

Every response body is JSON. Errors are `{{"error": {{"code": "...", "message": "..."}}}}`, where `code` is
stable (switch on it) and `message` is for people (it names the offending field). Client input never
gets a 5xx; a 503 means the model could not be loaded just now. The service tries again after a
back-off (1 s after the first failure, doubling up to 30 s) and answers 503 at once until then:
`Retry-After` says when the next attempt is due. While the model cannot be loaded, a body that is not
JSON records still gets its 4xx; its features can only be checked against the model, so it gets the 503.

Unknown paths answer 404 (`not_found`) and known paths with the wrong method answer 405
(`method_not_allowed`, with an `Allow` header): see the `NotFound` and `MethodNotAllowed` responses.
A trailing slash is ignored (`/predict/` is `/predict`). `HEAD` is answered wherever `GET` is: the
status and headers of the `GET`, without its body.
"""

_HEADERS = {
    "X-Model-Version": {
        "description": "The model version that answered (the store's immutable version id).",
        "required": True,
        "schema": {"type": "string", "minLength": 1},
    },
    "Retry-After": {
        "description": "Seconds until the service next tries to load the model (at least 1).",
        "required": True,
        "schema": {"type": "string", "pattern": "^[0-9]+$"},
    },
    "Allow": {"description": "The methods the path accepts.", "required": True, "schema": {"type": "string"}},
}


def _responses(signature: Signature, predicted: dict[str, Any]) -> dict[str, Any]:
    missing = signature.names[-1]
    return {
        "Predicted": {
            "description": "A prediction for a single record, or predictions in request order for a batch.",
            "headers": {"X-Model-Version": _ref("headers", "X-Model-Version")},
            "content": _json_content(
                {"oneOf": [_ref("schemas", "SinglePrediction"), _ref("schemas", "BatchPrediction")]},
                {"example": predicted},
            ),
        },
        "BadRequest": {
            "description": "The request cannot be used; `message` names the field.",
            "content": _json_content(
                _ref("schemas", "ClientError"),
                {
                    "missing": {
                        "error": {
                            "code": "missing_feature",
                            "message": f"missing feature {missing!r}; send null to have it imputed",
                        }
                    }
                },
            ),
        },
        "PayloadTooLarge": {
            "description": f"The body is over {MAX_BODY_BYTES:,} bytes, or the batch over {MAX_BATCH_SIZE} records.",
            "content": _json_content(_error_schema(["payload_too_large", "batch_too_large"])),
        },
        "NotFound": {
            "description": "No such route (any method).",
            "content": _json_content(_error_schema(["not_found"])),
        },
        "MethodNotAllowed": {
            "description": "The route exists, but not with this method.",
            "headers": {"Allow": _ref("headers", "Allow")},
            "content": _json_content(_error_schema(["method_not_allowed"])),
        },
        "InvalidRequest": {
            "description": "A malformed HTTP request (local server only), e.g. a Content-Length that is no byte count.",
            "content": _json_content(_error_schema(["invalid_request"])),
        },
        "UriTooLong": {
            "description": "The request line is over 65,536 bytes (local server only).",
            "content": _json_content(_error_schema(["invalid_request"])),
        },
        "HeadersTooLarge": {
            "description": "A header line is over 65,536 bytes, or there are over 100 headers (local server only).",
            "content": _json_content(_error_schema(["invalid_request"])),
        },
        "HttpVersionNotSupported": {
            "description": "The request's HTTP version is 2.0 or later (local server only: it speaks HTTP/1.1).",
            "content": _json_content(_error_schema(["invalid_request"])),
        },
        "InternalError": {
            "description": "The service failed; the failure is logged, no details are returned.",
            "content": _json_content(_error_schema(["internal_error"])),
        },
        "ModelUnavailable": {
            "description": "The model cannot be loaded now (store unreachable, checksum mismatch); retried later.",
            "headers": {"Retry-After": _ref("headers", "Retry-After")},
            "content": _json_content(_error_schema(["model_unavailable"])),
        },
    }


def _schemas(signature: Signature) -> dict[str, Any]:
    prediction_list = {
        "type": "array",
        "minItems": 1,
        "maxItems": MAX_BATCH_SIZE,
        "items": _ref("schemas", "Prediction"),
    }
    nullable_number = {"oneOf": [{"type": "number"}, {"type": "null"}]}
    return {
        "FeatureValue": {
            "description": "Must fit the model's float32; `null` is imputed.",
            "oneOf": [{"type": "number", "minimum": -FLOAT32_MAX, "maximum": FLOAT32_MAX}, {"type": "null"}],
        },
        "Record": _feature_schema(signature),
        "Batch": {"type": "array", "minItems": 1, "maxItems": MAX_BATCH_SIZE, "items": _ref("schemas", "Record")},
        "Prediction": {
            "type": "object",
            "required": ["label", "probability"],
            "additionalProperties": False,
            "properties": {
                "label": {"type": "string", "enum": list(signature.classes)},
                "probability": {
                    "description": "The predicted class's probability, rounded to 4 digits.",
                    "type": "number",
                    "minimum": 0,
                    "maximum": 1,
                },
            },
        },
        "SinglePrediction": _object({"prediction": _ref("schemas", "Prediction")}),
        "BatchPrediction": _object({"predictions": prediction_list}),
        "Signature": _object(
            {
                "features": {
                    "type": "array",
                    "items": _object(
                        {
                            "name": {"type": "string"},
                            "min": nullable_number,
                            "max": nullable_number,
                            "mean": nullable_number,
                        }
                    ),
                },
                "classes": {"type": "array", "items": {"type": "string"}},
                "input_example": {
                    "oneOf": [{"type": "object", "additionalProperties": {"type": "number"}}, {"type": "null"}]
                },
            }
        ),
        "Health": _object(
            {
                "status": {"const": "ok"},
                "model": _object(
                    {
                        "version": {"type": "string"},
                        "created_at": {"type": "string", "format": "date-time"},
                        "metrics": {
                            "type": "object",
                            "description": "Hold-out scores of the training run, e.g. accuracy and macro_f1.",
                            "additionalProperties": {"type": "number"},
                        },
                        "signature": _ref("schemas", "Signature"),
                    }
                ),
            }
        ),
        "Document": {"type": "object", "required": ["openapi", "info", "paths"]},
        "Error": _object(
            {"error": _object({"code": {"type": "string"}, "message": {"type": "string", "minLength": 1}})}
        ),
        "ClientError": {
            "allOf": [
                _ref("schemas", "Error"),
                {
                    "properties": {
                        "error": {
                            "properties": {
                                "code": {
                                    "description": "; ".join(f"{c}: {why}" for c, why in CLIENT_ERROR_CODES.items()),
                                    "enum": list(CLIENT_ERROR_CODES),
                                }
                            }
                        }
                    }
                },
            ]
        },
    }


def _object(properties: dict[str, Any]) -> dict[str, Any]:
    """A closed object whose every property is required."""
    return {"type": "object", "required": list(properties), "additionalProperties": False, "properties": properties}
