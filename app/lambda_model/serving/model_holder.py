"""Keep one Predictor per process; load it lazily and retry after a failure."""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Callable

from lambda_model.registry.artifact import ArtifactError
from lambda_model.registry.store import StoreError
from lambda_model.serving.predictor import Predictor

logger = logging.getLogger("lambda_model.model")


class ModelUnavailable(Exception):
    """No model is loaded and loading it failed just now; requests get a 503."""


class ModelHolder:
    def __init__(self, uri_source: Callable[[], str | None]) -> None:
        self._uri_source = uri_source
        self._predictor: Predictor | None = None
        self._lock = threading.Lock()

    @property
    def version(self) -> str | None:
        return self._predictor.version if self._predictor else None

    def get(self) -> Predictor:
        if self._predictor is not None:
            return self._predictor
        with self._lock:  # one load at a time when the local API serves requests in threads
            if self._predictor is None:
                uri = self._uri_source()
                if not uri:
                    logger.warning("MODEL_URI is not set: the service does not know which model to load")
                    raise ModelUnavailable("MODEL_URI is not set")
                try:
                    self._predictor = Predictor.from_uri(uri)
                except Exception as error:  # onnxruntime raises its own types for a corrupt graph
                    reason = str(error) if isinstance(error, StoreError | ArtifactError | OSError) else repr(error)
                    logger.warning("the model at %s cannot be loaded: %s; retrying on the next request", uri, reason)
                    raise ModelUnavailable(f"the model at {uri} cannot be loaded: {reason}") from error
                logger.info("loaded model version %s from %s", self._predictor.version, uri)
        return self._predictor

    def try_load(self) -> None:
        with contextlib.suppress(ModelUnavailable):  # already logged; the next request tries again
            self.get()

    def reset(self) -> None:
        with self._lock:
            self._predictor = None
