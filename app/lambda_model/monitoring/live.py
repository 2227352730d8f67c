"""The served model's drift, from what its handler reported to CloudWatch: the monitor workflow's check.

The store's current version is the model production serves (a release promotes what it deploys); its
metadata.json holds the baseline, read without downloading the model. For each window (by default the last
day and the last week) the version's counts are read back (monitoring.cloudwatch) and judged by the same
drift.judge() a CSV is. Exit code: 1 when a judged window drifted, 2 when no window can be judged (too few
records, no model served yet), else 0; a window that cannot be judged is shown as such next to one that can.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from lambda_model.monitoring import cloudwatch
from lambda_model.monitoring.drift import DriftReport, Thresholds, judge
from lambda_model.registry.artifact import baseline_of, signature_of
from lambda_model.registry.baseline import LOW_CONFIDENCE_QUANTILE, Baseline
from lambda_model.registry.signature import Signature
from lambda_model.registry.store import StoreError, open_store
from lambda_model.serving import metrics

_WINDOW = re.compile(r"^(?P<amount>[1-9][0-9]*)(?P<unit>[hd])$")
_UNIT_SECONDS = {"h": 3600, "d": 86400}
# CloudWatch keeps standard-resolution datapoints for 63 days (at 5 minutes after 15 days).
MAX_WINDOW_SECONDS = 63 * 86400


class MonitorError(Exception):
    """Nothing to monitor: no model served yet, or a model without a baseline."""


@dataclass(frozen=True)
class Window:
    label: str  # as given: 1d, 12h
    seconds: int


def parse_windows(text: str) -> tuple[Window, ...]:
    """`1d,7d`: whole hours or days, at most 63 days each (how long CloudWatch keeps the datapoints)."""
    windows = []
    for part in (part.strip() for part in text.split(",")):
        match = _WINDOW.match(part)
        if not match:
            raise ValueError(f"{part!r} is not a window like 1d or 12h")
        seconds = int(match["amount"]) * _UNIT_SECONDS[match["unit"]]
        if seconds > MAX_WINDOW_SECONDS:
            raise ValueError(f"{part!r} is longer than the 63 days CloudWatch keeps")
        windows.append(Window(part, seconds))
    if len({window.seconds for window in windows}) != len(windows):
        raise ValueError(f"{text!r} names a window twice")
    return tuple(windows)


@dataclass(frozen=True)
class ServedModel:
    version: str
    signature: Signature
    baseline: Baseline


def served_model(store_uri: str) -> ServedModel:
    store = open_store(store_uri)
    version = store.current_version()
    if version is None:
        if not store.exists():
            raise MonitorError(f"no model at {store.uri}: the store does not exist")
        raise MonitorError(f"no model served yet: {store.uri} has no current version")
    metadata = store.read_metadata(version)
    where = f"{store.version_uri(version)}/metadata.json"
    baseline = baseline_of(metadata, where)
    if baseline is None:
        raise MonitorError(f"model {version} has no baseline (trained before baselines): retrain it to monitor it")
    return ServedModel(version, signature_of(metadata, where), baseline)


@dataclass(frozen=True)
class WindowReport:
    window: Window
    start: datetime
    end: datetime
    counts: cloudwatch.LiveCounts
    drift: DriftReport

    def markdown(self) -> str:
        title = f"Last {self.window.label} ({self.start:%Y-%m-%d %H:%M} to {self.end:%Y-%m-%d %H:%M} UTC)"
        rates = ", ".join(
            f"{flag} {'n/a' if rate is None else f'{rate:.1%}'}"
            for flag in cloudwatch.FLAGS
            for rate in [self.counts.rate(flag)]
        )
        return (
            self.drift.markdown(title)
            + f"\nRates over {self.counts.records} records: {rates} "
            + f"({metrics.LOW_CONFIDENCE} is about {LOW_CONFIDENCE_QUANTILE:.0%} on the hold-out).\n"
        )


@dataclass(frozen=True)
class MonitorReport:
    model: ServedModel
    namespace: str
    windows: tuple[WindowReport, ...]

    @property
    def exit_code(self) -> int:
        codes = [window.drift.exit_code for window in self.windows]
        if 1 in codes:
            return 1
        return 0 if 0 in codes else 2

    def verdict(self) -> str:
        drifted = [window for window in self.windows if window.drift.exit_code == 1]
        if drifted:
            return "; ".join(f"last {window.window.label}: {window.drift.verdict()}" for window in drifted)
        if self.exit_code == 2:
            return "; ".join(f"last {window.window.label}: {window.drift.verdict()}" for window in self.windows)
        return "no drift"

    def markdown(self) -> str:
        heading = f"## Model monitor: model {self.model.version} in namespace {self.namespace}: {self.verdict()}\n\n"
        return heading + "\n".join(window.markdown() for window in self.windows)


def judge_window(model: ServedModel, counts: cloudwatch.LiveCounts, thresholds: Thresholds) -> DriftReport:
    """drift.judge() on the counts; counts that do not add up are not judged (their PSI would be fiction)."""
    report = judge(model.baseline, counts.feature_counts, counts.class_counts, thresholds)
    inconsistent = counts.inconsistencies()
    return replace(report, problems=[*report.problems, *inconsistent]) if inconsistent else report


def monitor(
    store_uri: str,
    namespace: str,
    windows: Sequence[Window],
    thresholds: Thresholds,
    client: Any = None,
    now: datetime | None = None,
) -> MonitorReport:
    try:
        model = served_model(store_uri)
    except StoreError as error:
        raise MonitorError(f"cannot read the served model: {error}") from None
    client = client or cloudwatch.cloudwatch_client()
    # Whole minutes (CloudWatch rounds a recent start down to the minute anyway), the end rounded up so the
    # window holds every datapoint up to now, the current minute's too.
    now = now or datetime.now(UTC)
    end = now.replace(second=0, microsecond=0)
    if end < now:
        end += timedelta(minutes=1)
    reports = []
    for window in windows:
        start = end - timedelta(seconds=window.seconds)
        counts = cloudwatch.read_counts(client, model.signature, model.baseline, namespace, model.version, start, end)
        reports.append(WindowReport(window, start, end, counts, judge_window(model, counts, thresholds)))
    return MonitorReport(model, namespace, tuple(reports))
