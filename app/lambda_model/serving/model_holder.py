"""Keep one Predictor per process; load it lazily, and after a failure retry with a growing back-off."""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Callable

from lambda_model.registry.artifact import ArtifactError
from lambda_model.registry.store import StoreError
from lambda_model.serving.predictor import Predictor

logger = logging.getLogger("lambda_model.model")

FIRST_RETRY_DELAY_SECONDS = 1.0
"""After a first failed load, requests answer 503 at once for this long before one of them retries."""
MAX_RETRY_DELAY_SECONDS = 30.0
"""The back-off doubles with each failed attempt up to this: a store that stays down costs one attempt per 30 s."""


class ModelUnavailable(Exception):
    """No model is loaded and loading it failed recently; requests get a 503 with Retry-After."""

    def __init__(self, reason: str, retry_after_seconds: float) -> None:
        super().__init__(reason)
        self.reason = reason
        self.retry_after_seconds = retry_after_seconds

    @property
    def retry_after_header(self) -> str:
        return str(max(1, math.ceil(self.retry_after_seconds)))


class ModelHolder:
    def __init__(self, uri_source: Callable[[], str | None], clock: Callable[[], float] = time.monotonic) -> None:
        self._uri_source = uri_source
        self.clock = clock
        self._predictor: Predictor | None = None
        self._lock = threading.Lock()
        self._failed_attempts = 0
        self._last_failure = ""
        self._next_attempt_at = 0.0

    @property
    def version(self) -> str | None:
        return self._predictor.version if self._predictor else None

    def get(self) -> Predictor:
        """The loaded predictor, loading it if needed.

        Raises ModelUnavailable when the store or the artifact is the problem (a retry may succeed).
        Any other exception is a bug in this code: it propagates with its traceback, becomes a 500,
        and is not cached as if the store were at fault.
        """
        if self._predictor is not None:
            return self._predictor
        with self._lock:  # one load at a time when the local API serves requests in threads
            if self._predictor is None:
                self._predictor = self._load()
        return self._predictor

    def _load(self) -> Predictor:
        now = self.clock()
        if self._failed_attempts and now < self._next_attempt_at:
            # A store that hangs would otherwise cost every request the full timeout.
            raise ModelUnavailable(self._last_failure, self._next_attempt_at - now)
        uri = self._uri_source()
        if not uri:
            self._fail("MODEL_URI is not set: the service does not know which model to load")
        try:
            predictor = Predictor.from_uri(uri)
        except (StoreError, ArtifactError, OSError) as error:
            self._fail(f"the model at {uri} cannot be loaded: {error}")
        self._failed_attempts = 0
        logger.info("loaded model version %s from %s", predictor.version, uri)
        return predictor

    def _fail(self, reason: str) -> None:
        delay = min(FIRST_RETRY_DELAY_SECONDS * 2**self._failed_attempts, MAX_RETRY_DELAY_SECONDS)
        self._failed_attempts += 1
        self._last_failure = reason
        # Counted from the failure, not the attempt's start: an attempt can itself take seconds.
        self._next_attempt_at = self.clock() + delay
        logger.warning("%s; answering 503 and retrying in %.0f s", reason, delay)
        raise ModelUnavailable(reason, delay)

    def try_load(self) -> None:
        """Load now if possible; never raise, so a broken model or store cannot crash the container."""
        try:
            self.get()
        except ModelUnavailable:
            pass  # already logged; a request after the back-off tries again
        except Exception:
            logger.exception("loading the model failed on a bug; every request will answer 500 until it is fixed")

    def reset(self) -> None:
        with self._lock:
            self._predictor = None
            self._failed_attempts = 0
            self._last_failure = ""
            self._next_attempt_at = 0.0
