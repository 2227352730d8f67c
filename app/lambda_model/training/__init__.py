"""Training: data -> pipeline -> evaluation and gate -> ONNX conversion -> artifact, stored in the registry."""
