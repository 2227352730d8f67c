"""Run the ONNX model. Serving imports numpy and onnxruntime only: no scikit-learn, scipy or pandas."""

from __future__ import annotations

import os
from typing import Any, NamedTuple

import numpy as np

from lambda_model.registry.loaded_model import LoadedModel
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


class Predictor(LoadedModel):
    """The loaded model, answering validated rows with labels and probabilities."""

    @classmethod
    def from_uri(cls, uri: str | os.PathLike[str]) -> Predictor:
        return cls(resolve_model(uri))

    def predict(self, rows: list[Row]) -> list[Prediction]:
        probabilities = self.probabilities(rows_to_matrix(rows))
        best = probabilities.argmax(axis=1)
        classes = self.signature.classes
        return [Prediction(classes[index], float(row[index])) for index, row in zip(best, probabilities, strict=True)]
