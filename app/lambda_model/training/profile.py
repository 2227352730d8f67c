"""The baseline of a model, from its training data and its hold-out answers (lambda_model.registry.baseline)."""

from __future__ import annotations

import numpy as np

from lambda_model.registry.baseline import LOW_CONFIDENCE_QUANTILE, Baseline, FeatureBaseline
from lambda_model.training.data import Dataset

BINS = 10
CONFIDENCE_QUANTILES = {"p05": 0.05, "p10": 0.10, "p25": 0.25, "p50": 0.50, "p75": 0.75, "p90": 0.90}


def midpoint_edges(values: np.ndarray, bins: int = BINS) -> tuple[float, ...]:
    """Inner bin edges near the deciles, each halfway between two neighbouring distinct training values.

    Measurements are rounded (iris to 0.1 cm), so plain quantiles fall on tied values, and which side
    of an edge a tie lands on decides a whole bin's share: live data then differs from the baseline
    with no drift at all. An edge between two distinct values has no training value on it. Where the
    data has fewer distinct values than bins, neighbouring quantiles share an edge and there are fewer bins.
    """
    present = values[~np.isnan(values)]
    distinct = np.unique(present)
    edges = set()
    for quantile in np.quantile(present, np.arange(1, bins) / bins):
        above = int(np.searchsorted(distinct, quantile, side="right"))
        if 0 < above < len(distinct):
            edges.add(_readable_midpoint(float(distinct[above - 1]), float(distinct[above])))
    return tuple(sorted(edges))


def _readable_midpoint(lower: float, upper: float) -> float:
    """(lower + upper) / 2 as 12 significant digits (2.85, not 2.8499999999999996) while still strictly between."""
    midpoint = (lower + upper) / 2
    rounded = float(f"{midpoint:.12g}")
    return rounded if lower < rounded < upper else midpoint


def feature_baseline(name: str, column: np.ndarray) -> FeatureBaseline:
    present = column[~np.isnan(column)]
    edges = midpoint_edges(column)
    counts = np.bincount(np.searchsorted(edges, present, side="right"), minlength=len(edges) + 1)
    return FeatureBaseline(
        name=name,
        count=int(present.size),
        missing=int(column.size - present.size),
        minimum=float(present.min()),
        maximum=float(present.max()),
        mean=float(present.mean()),
        std=float(present.std()),
        edges=edges,
        shares=tuple(float(share) for share in counts / present.size),
    )


def baseline_of(dataset: Dataset, holdout_confidence: np.ndarray) -> Baseline:
    """`holdout_confidence`: the top-class probability the evaluated recipe gave each hold-out row."""
    priors = np.bincount(dataset.labels, minlength=len(dataset.classes)) / len(dataset)
    quantiles = {name: float(np.quantile(holdout_confidence, q)) for name, q in CONFIDENCE_QUANTILES.items()}
    return Baseline(
        features=tuple(
            feature_baseline(name, column)
            for name, column in zip(dataset.feature_names, dataset.features.T, strict=True)
        ),
        class_priors=tuple(float(prior) for prior in priors),
        confidence_quantiles=quantiles,
        low_confidence_threshold=float(np.quantile(holdout_confidence, LOW_CONFIDENCE_QUANTILE)),
    )
