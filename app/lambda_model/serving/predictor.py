"""Run the ONNX model. Serving imports numpy and onnxruntime only: no scikit-learn, scipy or pandas."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import onnxruntime

from lambda_model.contract import CLASSES, FEATURES, ONNX_INPUT_NAME, ONNX_PROBABILITIES_OUTPUT
from lambda_model.registry.artifact import ONNX_FILE, ArtifactError, verify
from lambda_model.registry.store import resolve_model
from lambda_model.serving.request import Row


class Prediction(NamedTuple):
    label: str
    probability: float

    def as_dict(self) -> dict[str, Any]:
        # Four digits, as the original service answered: more would suggest false precision.
        return {"label": self.label, "probability": round(self.probability, 4)}


def rows_to_matrix(rows: list[Row]) -> np.ndarray:
    """None becomes NaN, which the model's imputer fills in."""
    return np.array([[np.nan if value is None else value for value in row] for row in rows], dtype=np.float32)


class Predictor:
    """A verified artifact loaded into one single-threaded onnxruntime session."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.metadata = verify(folder)
        options = onnxruntime.SessionOptions()
        # Lambda gives a small function about one vCPU: extra threads only add contention.
        options.intra_op_num_threads = 1
        options.inter_op_num_threads = 1
        try:
            self._session = onnxruntime.InferenceSession(
                str(folder / ONNX_FILE), options, providers=["CPUExecutionProvider"]
            )
        except Exception as error:  # onnxruntime's own exception types: a graph it cannot load
            raise ArtifactError(f"{folder}: onnxruntime cannot load {ONNX_FILE}: {error}") from error

    @classmethod
    def from_uri(cls, uri: str | os.PathLike[str]) -> Predictor:
        return cls(resolve_model(uri))

    @property
    def version(self) -> str:
        return self.metadata["version"]

    def probabilities(self, matrix: np.ndarray) -> np.ndarray:
        """Class probabilities in CLASSES order for a float32 matrix with one column per feature."""
        if matrix.ndim != 2 or matrix.shape[1] != len(FEATURES):
            raise ValueError(f"expected a matrix with {len(FEATURES)} columns, got shape {matrix.shape}")
        (probabilities,) = self._session.run([ONNX_PROBABILITIES_OUTPUT], {ONNX_INPUT_NAME: matrix})
        return probabilities

    def predict(self, rows: list[Row]) -> list[Prediction]:
        probabilities = self.probabilities(rows_to_matrix(rows))
        best = probabilities.argmax(axis=1)
        return [Prediction(CLASSES[index], float(row[index])) for index, row in zip(best, probabilities, strict=True)]
