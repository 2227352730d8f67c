"""A verified artifact loaded into onnxruntime: the one way serving and the gate run a shipped model.

The gate scores production's and the candidate's ONNX files with the same runtime, options and
checks users are served with, so its verdict is about what users get.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime

from lambda_model.contract import ONNX_INPUT_NAME, ONNX_PROBABILITIES_OUTPUT
from lambda_model.registry.artifact import ONNX_FILE, ArtifactError, baseline_of, signature_of, verify
from lambda_model.registry.baseline import Baseline
from lambda_model.registry.signature import Signature


class LoadedModel:
    """A verified artifact in one single-threaded onnxruntime session, its graph checked against its signature."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.metadata: dict[str, Any] = verify(folder)
        self.signature: Signature = signature_of(self.metadata, folder)
        self.baseline: Baseline | None = baseline_of(self.metadata, folder)
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
        self._check_graph()

    def _check_graph(self) -> None:
        """The graph must take the signature's columns and answer its classes: else every request would fail."""
        inputs = {tensor.name: tensor.shape for tensor in self._session.get_inputs()}
        outputs = {tensor.name: tensor.shape for tensor in self._session.get_outputs()}
        width, classes = len(self.signature.names), len(self.signature.classes)
        if ONNX_INPUT_NAME not in inputs or inputs[ONNX_INPUT_NAME][-1] not in (width, None):
            raise ArtifactError(
                f"{self.folder}: the ONNX input {inputs} does not take the signature's {width} features"
            )
        if ONNX_PROBABILITIES_OUTPUT not in outputs or outputs[ONNX_PROBABILITIES_OUTPUT][-1] not in (classes, None):
            raise ArtifactError(
                f"{self.folder}: the ONNX outputs {outputs} do not answer the signature's {classes} classes"
            )

    @property
    def version(self) -> str:
        return self.metadata["version"]

    def probabilities(self, matrix: np.ndarray) -> np.ndarray:
        """Class probabilities in the signature's class order for a float32 matrix in its feature order."""
        if matrix.ndim != 2 or matrix.shape[1] != len(self.signature.names):
            raise ValueError(f"expected a matrix with {len(self.signature.names)} columns, got shape {matrix.shape}")
        (probabilities,) = self._session.run([ONNX_PROBABILITIES_OUTPUT], {ONNX_INPUT_NAME: matrix})
        return probabilities

    def predicted_classes(self, features: np.ndarray) -> np.ndarray:
        """Class indices for a matrix of rows (any float dtype; NaN where a value is missing)."""
        return self.probabilities(features.astype(np.float32)).argmax(axis=1)
