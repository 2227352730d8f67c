"""The facts every flow agrees on: what a model takes, what it answers, and how an artifact is laid out.

Serving, training and the registry all import from here, and this module imports nothing, so none of
them has to import another flow to learn a feature name or a tensor name.
"""

FEATURES: tuple[str, ...] = ("sepal_length", "sepal_width", "petal_length", "petal_width")
"""The model's inputs, in the column order of its feature matrix."""
CLASSES: tuple[str, ...] = ("setosa", "versicolor", "virginica")
"""The labels, in the order of the model's probability columns."""

ONNX_INPUT_NAME = "features"
"""The ONNX graph's input tensor: float32, shape (rows, len(FEATURES)), NaN where a feature is missing."""
ONNX_PROBABILITIES_OUTPUT = "probabilities"
"""The ONNX graph's output tensor: float32, shape (rows, len(CLASSES))."""

ARTIFACT_FORMAT_VERSION = 1
"""The layout of an artifact folder and its metadata.json; a reader refuses any other."""

FLOAT32_MAX = 3.4028234663852886e38
"""Models compute in float32: a larger magnitude, in training data or a request, would become infinity."""
