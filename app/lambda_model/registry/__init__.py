"""The model registry: artifacts (model files + verified metadata) and the stores that keep their versions."""
