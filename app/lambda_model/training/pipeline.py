"""The model recipe: impute missing measurements, then gradient-boosted trees."""

from __future__ import annotations

import json
from typing import Any

from sklearn.ensemble import GradientBoostingClassifier
from sklearn.impute import SimpleImputer
from sklearn.pipeline import Pipeline

RANDOM_SEED = 42
FIXED_PARAMETER = "random_state"  # the seed above: every retrain of the same data is the same model


class ParameterError(ValueError):
    """A model parameter given on the command line is unknown or has an unusable value."""


def parse_parameters(assignments: list[str]) -> dict[str, Any]:
    """`["n_estimators=200", "learning_rate=0.05"]` → typed values (JSON literals where they parse)."""
    settable = sorted(set(GradientBoostingClassifier().get_params()) - {FIXED_PARAMETER})
    parameters: dict[str, Any] = {}
    for assignment in assignments:
        name, equals, text = assignment.partition("=")
        name = name.strip()
        if not equals or not name:
            raise ParameterError(f"{assignment!r}: expected NAME=VALUE")
        if name == FIXED_PARAMETER:
            raise ParameterError(
                f"{name} is fixed at {RANDOM_SEED} so that the same data always gives the same model; it cannot be set"
            )
        if name not in settable:
            raise ParameterError(f"unknown model parameter {name!r}; known: {', '.join(settable)}")
        parameters[name] = _parameter_value(text.strip())
    return parameters


def _parameter_value(text: str) -> Any:
    """A JSON literal where one parses (200, 0.05, true, null, "log_loss"), Python's None too, else the text."""
    if text == "None":
        return None
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


def build_pipeline(parameters: dict[str, Any] | None = None) -> Pipeline:
    classifier = GradientBoostingClassifier(random_state=RANDOM_SEED)
    try:
        classifier.set_params(**(parameters or {}))
    except ValueError as error:
        raise ParameterError(str(error)) from None
    return Pipeline([("impute", SimpleImputer(strategy="mean")), ("classify", classifier)])
