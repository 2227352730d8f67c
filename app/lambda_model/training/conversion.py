"""Convert the scikit-learn pipeline to ONNX and prove both give the same probabilities."""

from __future__ import annotations

import numpy as np
import onnxruntime
from skl2onnx import to_onnx
from skl2onnx.common.data_types import FloatTensorType
from sklearn.pipeline import Pipeline

from lambda_model.contract import ONNX_INPUT_NAME, ONNX_PROBABILITIES_OUTPUT

PARITY_TOLERANCE = 1e-5


class ParityError(Exception):
    """The ONNX model does not reproduce the scikit-learn pipeline: it must not be stored."""


def to_onnx_bytes(pipeline: Pipeline, feature_count: int) -> bytes:
    model = to_onnx(
        pipeline,
        initial_types=[(ONNX_INPUT_NAME, FloatTensorType([None, feature_count]))],
        # Plain probability tensor instead of a list of dicts: cheaper to run and to read.
        options={id(pipeline): {"zipmap": False}},
    )
    names = [output.name for output in model.graph.output]
    if ONNX_PROBABILITIES_OUTPUT not in names:
        raise ParityError(f"the ONNX model has outputs {names}, expected {ONNX_PROBABILITIES_OUTPUT!r}")
    return model.SerializeToString()


def parity_rows(features: np.ndarray) -> np.ndarray:
    """The given rows plus, for each column, the same rows with that column missing."""
    variants = [features]
    for column in range(features.shape[1]):
        blanked = features.copy()
        blanked[:, column] = np.nan
        variants.append(blanked)
    return np.vstack(variants).astype(np.float32)


def check_parity(pipeline: Pipeline, onnx_model: bytes, rows: np.ndarray) -> float:
    """Largest absolute probability difference; raises ParityError above PARITY_TOLERANCE."""
    session = onnxruntime.InferenceSession(onnx_model, providers=["CPUExecutionProvider"])
    (onnx_probabilities,) = session.run([ONNX_PROBABILITIES_OUTPUT], {ONNX_INPUT_NAME: rows})
    # The ONNX graph computes in float32, so scikit-learn is given the same float32 inputs.
    sklearn_probabilities = pipeline.predict_proba(rows)
    difference = float(np.max(np.abs(onnx_probabilities - sklearn_probabilities)))
    if not difference <= PARITY_TOLERANCE:
        raise ParityError(
            f"ONNX and scikit-learn probabilities differ by up to {difference:.3g} "
            f"on {len(rows)} rows (tolerance {PARITY_TOLERANCE:g}); the model was not stored"
        )
    return difference
