"""The promotion gate: score candidate and production on the same hold-out, with the serving code."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from lambda_model.data import load_dataset
from lambda_model.evaluation import GateResult, gate, holdout_split, score
from lambda_model.predictor import Predictor
from lambda_model.store import StoreError, open_store, resolve_model


def _predict_labels(predictor: Predictor) -> Callable[[np.ndarray], np.ndarray]:
    return lambda features: predictor.probabilities(features.astype(np.float32)).argmax(axis=1)


def _baseline(uri: str | None) -> tuple[Predictor | None, str | None]:
    """Production's predictor, or None when there is no production model yet."""
    if not uri:
        return None, None
    try:
        return Predictor(resolve_model(uri)), uri
    except StoreError:
        if open_store(uri).current_version() is None:
            return None, None  # the first model: only the threshold applies
        raise


def run_gate(
    candidate_uri: str, baseline_uri: str | None, data: str | None, min_accuracy: float, max_regression: float
) -> tuple[GateResult, str]:
    split = holdout_split(load_dataset(data))
    candidate = Predictor(resolve_model(candidate_uri))
    baseline, baseline_name = _baseline(baseline_uri)
    candidate_metrics = score(_predict_labels(candidate), split.holdout_features, split.holdout_labels)
    baseline_metrics = (
        None if baseline is None else score(_predict_labels(baseline), split.holdout_features, split.holdout_labels)
    )
    result = gate(candidate_metrics, baseline_metrics, min_accuracy, max_regression)
    names = (
        f"{candidate.version} ({candidate_uri})",
        None if baseline is None else f"{baseline.version} ({baseline_name})",
    )
    return result, result.markdown(*names)
