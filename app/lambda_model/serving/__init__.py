"""Serving: API Gateway event -> request parsing -> predictor (loaded once per container) -> response."""
