"""The model's metrics in CloudWatch Embedded Metric Format (EMF), merged into the request's log line.

Lambda's JSON log format writes every `extra=` field of a record at the top level, so the fields built
here turn the one line each request already writes into an EMF document: CloudWatch extracts the metrics
from it, and logs and metrics stay one event, joined by the request id. Hand-written, because importing
Powertools' Metrics costs ~20 ms of cold start for what is one dict.

Per scored record (an array of up to 100 values, the batch limit): its confidence, whether that is low,
which class it got (one 0/1 metric per class), whether a value lay outside the training range, whether
a value was imputed, and each feature's bin index against the baseline, never the value itself. Plus a
ColdStart count on a container's first line with metrics. One dimension: the model version. Names come
from the model's signature; answers other than a prediction carry no metrics.

Artifacts without a baseline (older formats) get what needs none: confidence, class and imputed.
"""

from __future__ import annotations

import functools
import os
import re
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from lambda_model.registry.loaded_model import LoadedModel
from lambda_model.serving.predictor import Prediction
from lambda_model.serving.request import Row

NAMESPACE_VARIABLE = "METRICS_NAMESPACE"
DEFAULT_NAMESPACE = "lambda-model"
DIMENSION = "ModelVersion"

CONFIDENCE = "Confidence"
LOW_CONFIDENCE = "LowConfidence"
OUT_OF_RANGE = "OutOfRange"
IMPUTED = "Imputed"
COLD_START = "ColdStart"
CLASS_PREFIX = "Class_"
BIN_PREFIX = "Bin_"

_METRIC_SAFE = re.compile(r"[^A-Za-z0-9_.-]")


def contract() -> dict[str, Any]:
    """Every name the handler can emit, as Terraform's dashboard and alarms may use them.

    terraform/handler_metrics.json is this, written out (tests/unit/test_monitoring.py keeps it in sync),
    so a `terraform test` can check each name the dashboard and alarms use against what is emitted.
    """
    return {
        "dimension": DIMENSION,
        "per_record": [CONFIDENCE, LOW_CONFIDENCE, OUT_OF_RANGE, IMPUTED],
        "per_container": [COLD_START],
        "per_class_prefix": CLASS_PREFIX,
        "per_feature_prefix": BIN_PREFIX,
    }


def class_metric_names(classes: Sequence[str]) -> tuple[str, ...]:
    """`Class_<label>`, characters outside [A-Za-z0-9_.-] as `_`; by index if two labels would collide."""
    return _class_metric_names(tuple(classes))


@functools.lru_cache(maxsize=16)
def _class_metric_names(classes: tuple[str, ...]) -> tuple[str, ...]:
    # Every prediction's line asks for its model's names: worked out once per signature, not per request.
    names = tuple(CLASS_PREFIX + _METRIC_SAFE.sub("_", label) for label in classes)
    if len(set(names)) == len(names):
        return names
    return tuple(f"{CLASS_PREFIX}{index}" for index in range(len(classes)))


def bin_metric_name(feature: str) -> str:
    return BIN_PREFIX + feature  # feature names are identifiers already (registry.signature)


def metric_names(model: LoadedModel) -> list[str]:
    """Every metric a prediction line of `model` may carry."""
    names = [CONFIDENCE, *class_metric_names(model.signature.classes), IMPUTED, COLD_START]
    if model.baseline is not None:
        names += [LOW_CONFIDENCE, OUT_OF_RANGE, *(bin_metric_name(name) for name in model.signature.names)]
    return names


@dataclass(frozen=True)
class Scored:
    """What one request had the model answer: its validated rows and the predictions, in order."""

    model: LoadedModel
    rows: list[Row]
    predictions: list[Prediction]


def namespace() -> str:
    return os.environ.get(NAMESPACE_VARIABLE) or DEFAULT_NAMESPACE


def emf_fields(scored: Scored, cold_start: bool, timestamp_ms: int | None = None) -> dict[str, Any]:
    """The `_aws` directive, the dimension and one array per metric, as top-level fields of the log line."""
    model, rows = scored.model, scored.rows
    classes = model.signature.classes
    confidences = [prediction.probability for prediction in scored.predictions]
    predicted = [classes.index(prediction.label) for prediction in scored.predictions]
    values: dict[str, list[float]] = {CONFIDENCE: [round(confidence, 4) for confidence in confidences]}
    for index, name in enumerate(class_metric_names(classes)):
        values[name] = [int(chosen == index) for chosen in predicted]
    values[IMPUTED] = [int(any(value is None for value in row)) for row in rows]
    baseline = model.baseline
    if baseline is not None:
        threshold = baseline.low_confidence_threshold
        values[LOW_CONFIDENCE] = [int(confidence < threshold) for confidence in confidences]
        values[OUT_OF_RANGE] = [
            int(
                any(
                    value is not None and feature.out_of_range(value)
                    for value, feature in zip(row, baseline.features, strict=True)
                )
            )
            for row in rows
        ]
        for position, feature in enumerate(baseline.features):
            bins = [feature.bin_index(row[position]) for row in rows if row[position] is not None]
            if bins:  # a feature null in every record has no bin to report
                values[bin_metric_name(feature.name)] = bins
    if cold_start:
        values[COLD_START] = [1]
    directive = {
        "Timestamp": int(time.time() * 1000) if timestamp_ms is None else timestamp_ms,
        "CloudWatchMetrics": [
            {
                "Namespace": namespace(),
                "Dimensions": [[DIMENSION]],
                "Metrics": [{"Name": name, "Unit": "Count" if name == COLD_START else "None"} for name in values],
            }
        ],
    }
    return {"_aws": directive, DIMENSION: model.version, **values}
