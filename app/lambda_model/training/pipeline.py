"""The model recipe: impute missing measurements, then gradient-boosted trees."""

from __future__ import annotations

import json
from typing import Any

from sklearn.ensemble import GradientBoostingClassifier
from sklearn.impute import SimpleImputer
from sklearn.pipeline import Pipeline

RANDOM_SEED = 42


class ParameterError(ValueError):
    """A model parameter given on the command line is unknown or has an unusable value."""


def parse_parameters(assignments: list[str]) -> dict[str, Any]:
    """`["n_estimators=200", "learning_rate=0.05"]` → typed values (JSON literals where they parse)."""
    allowed = GradientBoostingClassifier().get_params()
    parameters: dict[str, Any] = {}
    for assignment in assignments:
        name, equals, text = assignment.partition("=")
        name = name.strip()
        if not equals or not name:
            raise ParameterError(f"{assignment!r}: expected NAME=VALUE")
        if name not in allowed or name == "random_state":
            raise ParameterError(f"unknown model parameter {name!r}; known: {', '.join(sorted(allowed))}")
        try:
            parameters[name] = json.loads(text)
        except json.JSONDecodeError:
            parameters[name] = text
    return parameters


def build_pipeline(parameters: dict[str, Any] | None = None) -> Pipeline:
    classifier = GradientBoostingClassifier(random_state=RANDOM_SEED)
    try:
        classifier.set_params(**(parameters or {}))
    except ValueError as error:
        raise ParameterError(str(error)) from None
    return Pipeline([("impute", SimpleImputer(strategy="mean")), ("classify", classifier)])
