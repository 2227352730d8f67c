"""The promotion gate: candidate and production judged on the same hold-out rows.

A shipped model is refit on every row of its data (as the original service was), so scoring the
artifact on a hold-out drawn from that data would flatter it: it has seen those rows. The gate
therefore refits each model's recipe (its recorded parameters) on the training part of the split
and scores it on the hold-out part, the same rows for both. With the same data and parameters this
reproduces the metrics recorded at training time exactly.
"""

from __future__ import annotations

from typing import Any

from lambda_model.registry.artifact import verify
from lambda_model.registry.store import StoreError, open_store, resolve_model
from lambda_model.training.data import load_dataset
from lambda_model.training.evaluation import GateResult, Split, gate, holdout_split, score
from lambda_model.training.pipeline import build_pipeline


def _load(uri: str) -> dict[str, Any]:
    """The verified artifact's metadata: a model that cannot be loaded cannot be promoted or compared with."""
    return verify(resolve_model(uri))


def _baseline(uri: str | None) -> dict[str, Any] | None:
    """Production's model, or None when there is none yet (the first model only meets the threshold)."""
    if not uri:
        return None
    try:
        return _load(uri)
    except StoreError:
        if open_store(uri).current_version() is None:
            return None
        raise


def holdout_metrics(metadata: dict[str, Any], split: Split) -> dict[str, float]:
    model = build_pipeline(metadata["parameters"]).fit(split.train_features, split.train_labels)
    return score(model.predict, split.holdout_features, split.holdout_labels)


def run_gate(
    candidate_uri: str, baseline_uri: str | None, data: str | None, min_accuracy: float, max_regression: float
) -> tuple[GateResult, str]:
    split = holdout_split(load_dataset(data))
    candidate = _load(candidate_uri)
    baseline = _baseline(baseline_uri)
    result = gate(
        holdout_metrics(candidate, split),
        None if baseline is None else holdout_metrics(baseline, split),
        min_accuracy,
        max_regression,
    )
    markdown = result.markdown(
        f"{candidate['version']} ({candidate_uri})",
        None if baseline is None else f"{baseline['version']} ({baseline_uri})",
    )
    note = (
        f"Both recipes were fitted on the same {len(split.train_labels)} training rows "
        f"and scored on the same {len(split.holdout_labels)} hold-out rows.\n"
    )
    return result, markdown + note
