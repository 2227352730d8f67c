"""A clock that moves only when a test says so, for the model holder's retry back-off."""

from __future__ import annotations

import pytest


class ManualClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def manual_model_clock(handler_module, monkeypatch: pytest.MonkeyPatch) -> ManualClock:
    """Put the handler's model holder on a manual clock, until the test ends."""
    clock = ManualClock()
    monkeypatch.setattr(handler_module.model, "clock", clock)
    return clock
