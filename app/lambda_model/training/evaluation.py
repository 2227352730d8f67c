"""Hold-out split, metrics, and the judgement of a candidate's metrics against production's."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from sklearn.metrics import accuracy_score, f1_score
from sklearn.model_selection import train_test_split

from lambda_model.training.data import Dataset
from lambda_model.training.pipeline import RANDOM_SEED

HOLDOUT_FRACTION = 0.2


@dataclass(frozen=True)
class Split:
    train_features: np.ndarray
    train_labels: np.ndarray
    holdout_features: np.ndarray
    holdout_labels: np.ndarray


def holdout_split(dataset: Dataset) -> Split:
    """The same data always gives the same stratified split, so two models can be compared on it."""
    train_x, holdout_x, train_y, holdout_y = train_test_split(
        dataset.features,
        dataset.labels,
        test_size=HOLDOUT_FRACTION,
        stratify=dataset.labels,
        random_state=RANDOM_SEED,
    )
    return Split(train_x, train_y, holdout_x, holdout_y)


def metrics(true_labels: np.ndarray, predicted_labels: np.ndarray) -> dict[str, float]:
    return {
        "accuracy": round(float(accuracy_score(true_labels, predicted_labels)), 6),
        "macro_f1": round(float(f1_score(true_labels, predicted_labels, average="macro")), 6),
    }


def score(predict: Callable[[np.ndarray], np.ndarray], features: np.ndarray, labels: np.ndarray) -> dict[str, float]:
    return metrics(labels, predict(features))


@dataclass(frozen=True)
class GateResult:
    candidate: dict[str, float]
    baseline: dict[str, float] | None
    min_accuracy: float
    max_regression: float
    reasons: list[str]

    @property
    def passed(self) -> bool:
        return not self.reasons

    def markdown(self, candidate_name: str, baseline_name: str | None) -> str:
        lines = [
            f"### Model gate: {'passed' if self.passed else 'failed'}",
            "",
            "| metric | candidate | production | threshold |",
            "| --- | --- | --- | --- |",
        ]
        for name, value in self.candidate.items():
            baseline = "n/a" if self.baseline is None else f"{self.baseline[name]:.4f}"
            threshold = f">= {self.min_accuracy:.4f}" if name == "accuracy" else ""
            lines.append(f"| {name} | {value:.4f} | {baseline} | {threshold} |")
        lines += ["", f"Candidate: `{candidate_name}`", f"Production: `{baseline_name or 'none yet'}`"]
        lines += [""] + [f"- {reason}" for reason in self.reasons]
        return "\n".join(lines) + "\n"


def judge_metrics(
    candidate: dict[str, float],
    baseline: dict[str, float] | None,
    min_accuracy: float,
    max_regression: float = 0.0,
) -> GateResult:
    """Pass when the candidate meets the threshold and loses no more than `max_regression` on any metric."""
    reasons = []
    if candidate["accuracy"] < min_accuracy:
        reasons.append(f"accuracy {candidate['accuracy']:.4f} is below the minimum {min_accuracy:.4f}")
    if baseline is not None:
        for name, value in candidate.items():
            if value < baseline[name] - max_regression:
                reasons.append(
                    f"{name} {value:.4f} regresses from production's {baseline[name]:.4f} "
                    f"by more than {max_regression:.4f}"
                )
    return GateResult(candidate, baseline, min_accuracy, max_regression, reasons)
