"""The handler's metrics read back from CloudWatch: the counts per bin and per class drift.judge() consumes.

For one ModelVersion over one window, GetMetricData is asked (one datapoint per query, Period = the window):
- per feature and bin i, the count of Bin_<feature> values equal to i: the statistic TC(i-0.5:i+0.5). TC(a:b)
  counts the values in (a, b]; the values are integers, so each lies half a unit from both bounds and the
  count is that of the bin whatever CloudWatch's approximate representation of values does within that half
  unit. It is checked, not trusted: the bins of a feature must add up to SampleCount(Bin_<feature>), the
  exact number of values seen, or the window is reported as inconsistent and not judged. (The exact
  alternative, one 0/1 metric per feature and bin, would cost ten custom metrics per feature.)
- per class, Sum(Class_<label>) (each record carries 1 for its class, 0 for the others);
- the records: SampleCount(Confidence), one value per scored record;
- Sum(LowConfidence), Sum(OutOfRange), Sum(Imputed): the rates are these over the records.
Every statistic is a count or a sum, so several datapoints (a window CloudWatch splits) add up exactly.

The metric names come from the model's signature through lambda_model.serving.metrics, the handler's own
helpers, so the names read here are the names written there.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from lambda_model.registry.baseline import Baseline
from lambda_model.registry.signature import Signature
from lambda_model.serving import metrics

MAX_QUERIES_PER_CALL = 500  # GetMetricData's limit on MetricDataQueries
# The flags each record carries (0/1), reported as rates over the records.
FLAGS = (metrics.LOW_CONFIDENCE, metrics.OUT_OF_RANGE, metrics.IMPUTED)


class MetricsError(Exception):
    """CloudWatch could not be asked, or answered something that cannot be counted."""


@dataclass(frozen=True)
class Query:
    id: str  # GetMetricData's Id: ^[a-z][a-zA-Z0-9_]*$
    metric: str
    stat: str


def bin_statistic(index: int) -> str:
    return f"TC({index - 0.5:g}:{index + 0.5:g})"


@dataclass(frozen=True)
class Plan:
    """The queries for one model, and where each answer goes."""

    queries: tuple[Query, ...]
    bins: dict[str, tuple[str, ...]]  # feature -> the query id of each bin
    values: dict[str, str]  # feature -> the query id of SampleCount(Bin_<feature>)
    classes: tuple[str, ...]  # the query id of each class, in the signature's order
    records: str
    flags: dict[str, str]  # flag metric -> query id of its Sum


def plan(signature: Signature, baseline: Baseline) -> Plan:
    queries: list[Query] = []

    def add(metric: str, stat: str) -> str:
        query = Query(f"q{len(queries)}", metric, stat)
        queries.append(query)
        return query.id

    bins, values = {}, {}
    for feature in baseline.features:
        name = metrics.bin_metric_name(feature.name)
        bins[feature.name] = tuple(add(name, bin_statistic(index)) for index in range(len(feature.shares)))
        values[feature.name] = add(name, "SampleCount")
    classes = tuple(add(name, "Sum") for name in metrics.class_metric_names(signature.classes))
    records = add(metrics.CONFIDENCE, "SampleCount")
    flags = {flag: add(flag, "Sum") for flag in FLAGS}
    return Plan(tuple(queries), bins, values, classes, records, flags)


@dataclass(frozen=True)
class LiveCounts:
    """What the handler reported for one version in one window."""

    records: int
    feature_counts: dict[str, list[int]]
    class_counts: list[int]
    feature_values: dict[str, int]  # SampleCount(Bin_<feature>): the values present (not null)
    flags: dict[str, int]

    def rate(self, flag: str) -> float | None:
        return self.flags[flag] / self.records if self.records else None

    def inconsistencies(self) -> list[str]:
        """Counts that do not add up: TC was not exact, or the metrics are not the handler's."""
        problems = [
            f"{name}: its bins count {sum(counts)} values, SampleCount {self.feature_values[name]}"
            for name, counts in self.feature_counts.items()
            if sum(counts) != self.feature_values[name]
        ]
        if sum(self.class_counts) != self.records:
            problems.append(f"the classes count {sum(self.class_counts)} records, SampleCount {self.records}")
        return problems


def counts_of(answers: dict[str, float], query_plan: Plan) -> LiveCounts:
    def count(query_id: str) -> int:
        return round(answers.get(query_id, 0.0))

    return LiveCounts(
        records=count(query_plan.records),
        feature_counts={name: [count(q) for q in ids] for name, ids in query_plan.bins.items()},
        class_counts=[count(q) for q in query_plan.classes],
        feature_values={name: count(q) for name, q in query_plan.values.items()},
        flags={flag: count(q) for flag, q in query_plan.flags.items()},
    )


def _chunks(queries: Sequence[Query], size: int) -> Iterator[Sequence[Query]]:
    for start in range(0, len(queries), size):
        yield queries[start : start + size]


def metric_data(
    client: Any,
    queries: Sequence[Query],
    namespace: str,
    version: str,
    start: datetime,
    end: datetime,
) -> dict[str, float]:
    """Each query's values over [start, end), summed; ≤ 500 queries per call, every NextToken followed."""
    from botocore.exceptions import BotoCoreError, ClientError

    period = int((end - start).total_seconds())
    dimensions = [{"Name": metrics.DIMENSION, "Value": version}]
    totals = {query.id: 0.0 for query in queries}
    for chunk in _chunks(queries, MAX_QUERIES_PER_CALL):
        request: dict[str, Any] = {
            "MetricDataQueries": [
                {
                    "Id": query.id,
                    "MetricStat": {
                        "Metric": {"Namespace": namespace, "MetricName": query.metric, "Dimensions": dimensions},
                        "Period": period,
                        "Stat": query.stat,
                    },
                    "ReturnData": True,
                }
                for query in chunk
            ],
            "StartTime": start,
            "EndTime": end,
        }
        while True:
            try:
                response = client.get_metric_data(**request)
            except (ClientError, BotoCoreError) as error:
                raise MetricsError(f"GetMetricData in namespace {namespace} failed: {error}") from error
            for result in response.get("MetricDataResults", []):
                if result.get("StatusCode") not in ("Complete", "PartialData"):
                    raise MetricsError(f"GetMetricData answered {result.get('StatusCode')} for {result.get('Id')}")
                if result["Id"] not in totals:
                    raise MetricsError(f"GetMetricData answered an unknown query {result['Id']!r}")
                totals[result["Id"]] += sum(result.get("Values", []))
            errors = [m for m in response.get("Messages", []) if not _benign(m)]
            if errors:
                raise MetricsError(f"GetMetricData: {'; '.join(str(m.get('Value')) for m in errors)}")
            token = response.get("NextToken")
            if not token:
                break
            request["NextToken"] = token
        request.pop("NextToken", None)
    return totals


# A message that describes no failure: a page cut short, which its NextToken continues.
BENIGN_MESSAGES = {"MaxDatapointsExceeded"}


def _benign(message: dict[str, Any]) -> bool:
    return message.get("Code") in BENIGN_MESSAGES


def read_counts(
    client: Any,
    signature: Signature,
    baseline: Baseline,
    namespace: str,
    version: str,
    start: datetime,
    end: datetime,
) -> LiveCounts:
    query_plan = plan(signature, baseline)
    return counts_of(metric_data(client, query_plan.queries, namespace, version, start, end), query_plan)


def cloudwatch_client() -> Any:
    import boto3  # imported on first use: the package imports without boto3 (the image has none)

    return boto3.client("cloudwatch")
