"""Training: data → pipeline → evaluation → ONNX export with parity check → artifact → store."""

from __future__ import annotations

import hashlib
import platform
import subprocess
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import joblib
import numpy as np
import onnxruntime
import sklearn

from lambda_model.registry import artifact
from lambda_model.registry.store import open_store
from lambda_model.training.conversion import check_parity, parity_rows, to_onnx_bytes
from lambda_model.training.data import DEFAULT_LABEL_COLUMN, Dataset, load_dataset
from lambda_model.training.evaluation import holdout_split, score
from lambda_model.training.pipeline import RANDOM_SEED, ParameterError, build_pipeline
from lambda_model.training.profile import baseline_of

Report = Callable[[str], None]


@dataclass(frozen=True)
class TrainResult:
    version: str
    uri: str
    metrics: dict[str, float]
    promoted: bool

    def summary(self) -> dict[str, Any]:
        return {"version": self.version, "uri": self.uri, "metrics": self.metrics, "promoted": self.promoted}


def git_commit() -> str | None:
    try:
        completed = subprocess.run(
            ["git", "rev-parse", "HEAD"],
            capture_output=True,
            text=True,
            timeout=5,
            check=True,
            cwd=Path(__file__).parent,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return completed.stdout.strip() or None


def new_version_id(onnx_model: bytes, created: datetime) -> str:
    """Sortable by time; the content hash tells two trainings in the same microsecond apart."""
    return f"{created.strftime('%Y%m%dT%H%M%S%fZ')}-{hashlib.sha256(onnx_model).hexdigest()[:8]}"


def build_artifact(dataset: Dataset, parameters: dict[str, Any], folder: Path, report: Report) -> dict[str, Any]:
    """Evaluate the recipe on a hold-out, refit it on every row, export it, and write the artifact."""
    split = holdout_split(dataset)
    report("Creating model.")
    evaluation_model = build_pipeline(parameters)
    try:
        evaluation_model.fit(split.train_features, split.train_labels)
    except ValueError as error:
        raise ParameterError(f"the model rejected its parameters: {error}") from None
    metrics = score(evaluation_model.predict, split.holdout_features, split.holdout_labels)
    holdout_confidence = evaluation_model.predict_proba(split.holdout_features).max(axis=1)
    holdout_rows = len(split.holdout_labels)
    report(f"Hold-out ({holdout_rows} rows): accuracy {metrics['accuracy']:.4f}, macro-F1 {metrics['macro_f1']:.4f}.")

    # The shipped model learns from every row, as the original service did; the hold-out score above
    # is the estimate of how this recipe does on unseen data.
    report(f"Fitting model with {len(dataset)} datapoints.")
    model = build_pipeline(parameters).fit(dataset.features, dataset.labels)
    onnx_model = to_onnx_bytes(model, len(dataset.feature_names))
    parity = check_parity(model, onnx_model, parity_rows(split.holdout_features))

    created = datetime.now(UTC)
    (folder / artifact.ONNX_FILE).write_bytes(onnx_model)
    joblib.dump(model, folder / artifact.PIPELINE_FILE)
    return artifact.seal(
        folder,
        {
            "version": new_version_id(onnx_model, created),
            "created_at": created.isoformat(),
            "git_commit": git_commit(),
            "model": "SimpleImputer(mean) + GradientBoostingClassifier",
            "parameters": {**model.named_steps["classify"].get_params(), "random_state": RANDOM_SEED},
            "metrics": metrics,
            "parity_max_abs_difference": parity,
            "data": {
                "source": dataset.source,
                "sha256": dataset.sha256,
                "label_column": dataset.label_column,
                "rows": len(dataset),
                "holdout_rows": holdout_rows,
            },
            "versions": {
                "python": platform.python_version(),
                "scikit-learn": sklearn.__version__,
                "onnxruntime": onnxruntime.__version__,
                "numpy": np.__version__,
            },
        },
        dataset.signature(),
        baseline_of(dataset, holdout_confidence),
    )


def train(
    data: str | None,
    store_uri: str,
    parameters: dict[str, Any] | None = None,
    promote: bool = True,
    report: Report = print,
    label_column: str | None = None,
) -> TrainResult:
    store = open_store(store_uri)
    report("Loading data.")
    dataset = load_dataset(data, label_column or DEFAULT_LABEL_COLUMN)
    with tempfile.TemporaryDirectory(prefix="lambda-model-artifact-") as scratch:
        metadata = build_artifact(dataset, parameters or {}, Path(scratch), report)
        report("Saving model.")
        version = store.put(Path(scratch))
    if promote:
        store.promote(version)
    report(f"Stored version {version} at {store.version_uri(version)}{' (promoted)' if promote else ''}.")
    return TrainResult(version, store.version_uri(version), metadata["metrics"], promote)
