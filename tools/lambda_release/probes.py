"""Requests that test a deployed model's contract, built from the signature its /health answers.

The pre-traffic check and `pytest -m live` both send these: a good record, a batch, a record with a
null (imputed), one with a feature missing, one with an unknown feature and one with a wrong type. None
of them is typed out anywhere: any model this repository serves describes its own.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

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
