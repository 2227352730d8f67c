"""What training saw, kept in the artifact so production can be compared with it: the model's baseline.

Per feature: count, missing, min, max, mean, std, bin edges and the training share in each bin. For the
model: class priors, the hold-out's confidence quantiles, and the low-confidence threshold derived from
them. Serving reads the edges, ranges and threshold to describe each scored record by bin indices and
flags (never by its values); the drift check compares counts per bin with the shares.

Pure Python: the serving path reads it on every request. Training computes it (lambda_model.training.profile).
"""

from __future__ import annotations

import bisect
import hashlib
import json
import math
from dataclasses import dataclass
from typing import Any

OUT_OF_RANGE_MARGIN = 0.1
"""A value is out of range beyond the training min/max by more than this share of the training range."""
LOW_CONFIDENCE_QUANTILE = 0.05
"""The threshold is this quantile of the hold-out's confidence: about 1 in 20 healthy answers is flagged."""


class BaselineError(ValueError):
    """A baseline that cannot describe its model's features."""


@dataclass(frozen=True)
class FeatureBaseline:
    name: str
    count: int
    missing: int
    minimum: float
    maximum: float
    mean: float
    std: float
    edges: tuple[float, ...]
    """Ascending inner edges: len(edges) + 1 bins, bin i holds values in [edges[i-1], edges[i])."""
    shares: tuple[float, ...]
    """The training share in each bin (of the values present); sums to 1."""

    def bin_index(self, value: float) -> int:
        return bisect.bisect_right(self.edges, value)

    def out_of_range(self, value: float) -> bool:
        margin = OUT_OF_RANGE_MARGIN * (self.maximum - self.minimum)
        return not self.minimum - margin <= value <= self.maximum + margin

    def as_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "count": self.count,
            "missing": self.missing,
            "min": self.minimum,
            "max": self.maximum,
            "mean": self.mean,
            "std": self.std,
            "edges": list(self.edges),
            "shares": list(self.shares),
        }


@dataclass(frozen=True)
class Baseline:
    features: tuple[FeatureBaseline, ...]
    class_priors: tuple[float, ...]
    """The training share of each class, in the signature's class order."""
    confidence_quantiles: dict[str, float]
    """Hold-out confidence (top-class probability) at p05, p10, p25, p50, p75, p90."""
    low_confidence_threshold: float

    def __post_init__(self) -> None:
        for feature in self.features:
            if len(feature.shares) != len(feature.edges) + 1 or list(feature.edges) != sorted(set(feature.edges)):
                raise BaselineError(
                    f"feature {feature.name!r}: {len(feature.edges)} edges need ascending edges "
                    f"and one share more, has {len(feature.shares)}"
                )
        if not 0 <= self.low_confidence_threshold <= 1:
            raise BaselineError(f"low-confidence threshold {self.low_confidence_threshold} is not within [0, 1]")

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(feature.name for feature in self.features)

    def as_json(self) -> dict[str, Any]:
        return {
            "features": [feature.as_json() for feature in self.features],
            "class_priors": list(self.class_priors),
            "confidence_quantiles": dict(self.confidence_quantiles),
            "low_confidence_threshold": self.low_confidence_threshold,
        }

    @property
    def sha256(self) -> str:
        return hashlib.sha256(json.dumps(self.as_json(), sort_keys=True).encode()).hexdigest()

    @classmethod
    def from_json(cls, document: Any) -> Baseline:
        try:
            features = tuple(
                FeatureBaseline(
                    str(item["name"]),
                    int(item["count"]),
                    int(item["missing"]),
                    _finite(item["min"]),
                    _finite(item["max"]),
                    _finite(item["mean"]),
                    _finite(item["std"]),
                    tuple(_finite(edge) for edge in item["edges"]),
                    tuple(_finite(share) for share in item["shares"]),
                )
                for item in document["features"]
            )
            return cls(
                features,
                tuple(_finite(prior) for prior in document["class_priors"]),
                {str(name): _finite(value) for name, value in document["confidence_quantiles"].items()},
                _finite(document["low_confidence_threshold"]),
            )
        except (KeyError, TypeError, AttributeError, ValueError) as error:
            if isinstance(error, BaselineError):
                raise
            raise BaselineError(f"not a valid baseline: {error!r}") from None


def _finite(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ValueError(f"{value!r} is not a finite number")
    return float(value)
