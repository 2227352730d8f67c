"""The facts every flow agrees on: the ONNX tensors an artifact exchanges, and its layout's version.

Serving, training and the registry all import from here, and this module imports nothing, so none of
them has to import another flow to learn a tensor name. What a model takes and answers (its features
and classes) is not here: each artifact carries it as its signature (lambda_model.registry.signature).
"""

ONNX_INPUT_NAME = "features"
"""The ONNX graph's input tensor: float32, shape (rows, features of the signature), NaN where a value is missing."""
ONNX_PROBABILITIES_OUTPUT = "probabilities"
"""The ONNX graph's output tensor: float32, shape (rows, classes of the signature)."""

FLOAT32_MAX = 3.4028234663852886e38
"""Models compute in float32: a larger magnitude, in training data or a request, would become infinity."""

ARTIFACT_FORMAT_VERSION = 2
"""The layout of an artifact folder and its metadata.json that training writes (2: with the signature)."""
READABLE_FORMAT_VERSIONS = (1, 2)
"""Formats a reader accepts; 1 predates signatures and is read as the feature and class lists it records."""
