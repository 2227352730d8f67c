"""Requests that test a deployed model's contract, built from the signature its /health answers.

The pre-traffic check and `pytest -m live` both send these: a good record, a batch, a record with a
null (imputed), one with a feature missing, one with an unknown feature and one with a wrong type. None
of them is typed out anywhere: any model this repository serves describes its own. `route_probes` sends
them to every route of the serving route table (lambda_model.serving.routes), read from the table itself,
so a route added there is probed, or refused until it says how.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from lambda_model.serving import routes
from lambda_model.serving.routes import ROUTES, Endpoint

UNKNOWN_FEATURE = "not_a_feature_of_this_model"


class SignatureUnreadable(ValueError):
    """The /health answer holds no signature these probes can be built from."""


@dataclass(frozen=True)
class Probes:
    features: tuple[str, ...]
    classes: tuple[str, ...]
    record: dict[str, float]
    """The signature's input example (a row of the training data); training means for older artifacts."""

    @classmethod
    def from_health(cls, health: Any) -> Probes:
        """From the JSON body of GET /health: `model.signature` as the serving code writes it."""
        try:
            signature = health["model"]["signature"]
            features = tuple(str(feature["name"]) for feature in signature["features"])
            classes = tuple(str(label) for label in signature["classes"])
            example = signature.get("input_example") or {
                feature["name"]: feature.get("mean") or 0.0 for feature in signature["features"]
            }
            record = {name: example[name] for name in features}
        except (KeyError, TypeError, AttributeError) as error:
            raise SignatureUnreadable(f"GET /health holds no usable model signature ({error!r})") from None
        if not features or len(classes) < 2:
            raise SignatureUnreadable(f"GET /health: a signature with {len(features)} features, classes {classes}")
        return cls(features, classes, record)

    def with_null(self, name: str | None = None) -> dict[str, Any]:
        """The record with one feature (the last, unless named) sent as null: the model imputes it."""
        return {**self.record, name or self.features[-1]: None}

    def batch(self) -> list[dict[str, Any]]:
        return [self.record, self.with_null()]

    def missing(self) -> tuple[str, dict[str, Any]]:
        """The name left out and the record without it (a 400 missing_feature)."""
        name = self.features[-1]
        return name, {key: value for key, value in self.record.items() if key != name}

    def unknown(self) -> dict[str, Any]:
        return {**self.record, UNKNOWN_FEATURE: 1.0}

    def wrong_type(self) -> dict[str, Any]:
        return {**self.record, self.features[0]: str(self.record[self.features[0]])}


class WrongAnswer(ValueError):
    """An answer to a route probe that breaks the contract."""


@dataclass(frozen=True)
class RouteProbe:
    """One request to one route of the serving route table, the status it must get and what its JSON body
    must hold (`check` raises WrongAnswer). The pre-traffic check and the canary's synthetic traffic send
    the same probes: one through Lambda Invoke on the new version, the other through the API."""

    method: str
    path: str
    body: Any
    status: int
    check: Callable[[dict[str, Any]], None]
    what: str = ""

    @property
    def where(self) -> str:
        return f"{self.method} {self.path}{f' ({self.what})' if self.what else ''}"


def route_table() -> list[tuple[str, str, Endpoint]]:
    """(method, path, endpoint) of every route the handler serves, in the table's order."""
    return [(method, path, endpoint) for path, methods in ROUTES.items() for method, endpoint in methods.items()]


def health_route() -> tuple[str, str]:
    """The route whose answer the probes are built from."""
    return next((method, path) for method, path, endpoint in route_table() if endpoint is routes.health)


def route_probes(probes: Probes) -> list[RouteProbe]:
    """The probes of every route of the table: each route's endpoint says which requests test it.

    A route whose endpoint has no probes here is an error, not a route left out: a new endpoint must say
    how the pre-traffic check and the canary exercise it.
    """
    built: list[RouteProbe] = []
    for method, path, endpoint in route_table():
        make = _PROBES_BY_ENDPOINT.get(endpoint)
        if make is None:
            raise SignatureUnreadable(
                f"{method} {path} is served by {endpoint.__name__}, which has no probes (lambda_release.probes)"
            )
        built += make(method, path, probes)
    return built


def _check_prediction(prediction: Any, classes: Sequence[str], where: str) -> None:
    if not isinstance(prediction, dict) or prediction.get("label") not in classes:
        raise WrongAnswer(f"{where}: prediction {prediction!r} is not one of the model's classes {classes}")
    probability = prediction.get("probability")
    if not isinstance(probability, int | float) or not 0 <= probability <= 1:
        raise WrongAnswer(f"{where}: probability {probability!r} is not within [0, 1]")


def check_health(body: dict[str, Any], where: str) -> None:
    model = body.get("model") if isinstance(body.get("model"), dict) else {}
    if body.get("status") != "ok" or not model.get("version"):
        raise WrongAnswer(f"{where}: not a healthy model: {body!r}"[:300])


def _health_probes(method: str, path: str, probes: Probes) -> list[RouteProbe]:
    probe = f"{method} {path}"
    return [RouteProbe(method, path, None, 200, lambda body: check_health(body, probe))]


def _predict_probes(method: str, path: str, probes: Probes) -> list[RouteProbe]:
    where = f"{method} {path}"
    left_out, missing = probes.missing()

    def single(body: dict[str, Any]) -> None:
        _check_prediction(body.get("prediction"), probes.classes, where)

    def batch(body: dict[str, Any]) -> None:
        predictions = body.get("predictions")
        if not isinstance(predictions, list) or len(predictions) != len(probes.batch()):
            raise WrongAnswer(f"{where} (batch of 2): {predictions!r} is not two predictions"[:300])
        for prediction in predictions:
            _check_prediction(prediction, probes.classes, f"{where} (batch)")

    def missing_feature(body: dict[str, Any]) -> None:
        error = body.get("error")
        if (
            not isinstance(error, dict)
            or error.get("code") != "missing_feature"
            or left_out not in error.get("message", "")
        ):
            raise WrongAnswer(f"{where} without {left_out}: {error!r} is not a missing_feature error naming it")

    return [
        RouteProbe(method, path, probes.record, 200, single, "one record"),
        RouteProbe(method, path, probes.batch(), 200, batch, "a batch"),
        RouteProbe(method, path, missing, 400, missing_feature, f"without {left_out}"),
    ]


def _openapi_probes(method: str, path: str, probes: Probes) -> list[RouteProbe]:
    def every_route(body: dict[str, Any]) -> None:
        paths = body.get("paths") if isinstance(body.get("paths"), dict) else {}
        absent = [route for route in ROUTES if route not in paths]
        if absent:
            raise WrongAnswer(f"{method} {path}: the document leaves out {', '.join(absent)}")

    return [RouteProbe(method, path, None, 200, every_route)]


_PROBES_BY_ENDPOINT: dict[Endpoint, Callable[[str, str, Probes], list[RouteProbe]]] = {
    routes.health: _health_probes,
    routes.predict: _predict_probes,
    routes.openapi_document: _openapi_probes,
}
