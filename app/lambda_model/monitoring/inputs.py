"""A CSV of inputs, scored and binned the way the handler describes live records, for the drift check."""

from __future__ import annotations

import numpy as np

from lambda_model.monitoring.drift import DriftReport, Thresholds, bin_counts, judge
from lambda_model.registry.loaded_model import LoadedModel
from lambda_model.training.data import DEFAULT_LABEL_COLUMN, DataError, read_source, read_table


def drift_of_csv(
    model: LoadedModel, source: str, thresholds: Thresholds, label_column: str | None = None
) -> DriftReport:
    """Bin counts and predicted-class counts of the CSV's rows against `model`'s baseline.

    The CSV needs the signature's features as columns, in any order; its label column, when present, is
    ignored (drift is about inputs and answers, not about labels). DataError when the columns do not match.
    """
    if model.baseline is None:
        raise DataError(f"model {model.version} has no baseline (trained before baselines): retrain it to check drift")
    recorded = model.metadata.get("data", {}).get("label_column", DEFAULT_LABEL_COLUMN)
    table = read_table(read_source(source), source, label_column or recorded, label_optional=True)
    expected = model.signature.names
    missing = [name for name in expected if name not in table.feature_names]
    unknown = [name for name in table.feature_names if name not in expected]
    if missing or unknown:
        problems = [
            f"missing {', '.join(missing)}" if missing else "",
            f"unknown {', '.join(unknown)}" if unknown else "",
        ]
        raise DataError(
            f"{source}: its columns are not model {model.version}'s features ({'; '.join(p for p in problems if p)})"
        )
    order = [table.feature_names.index(name) for name in expected]
    features = table.features[:, order]
    classes = model.predicted_classes(features)
    class_counts = np.bincount(classes, minlength=len(model.signature.classes)).tolist()
    return judge(model.baseline, bin_counts(model.baseline, features), class_counts, thresholds)
