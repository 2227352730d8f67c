"""What moto cannot do for the monitor and the canary: turn the handler's EMF log lines into metrics, take
Lambda's own per-invocation metrics from the Lambda stand-in, and answer GetMetricData with the statistics
the monitor and the release's canary ask for (TC among them, which moto cannot compute).

CloudWatch extracts a metric from every EMF line a function logs; moto reads no logs. This stand-in reads the
lines the handler wrote (the Lambda stand-in's container logs), makes one datapoint per value of each metric
of each dimension set, as the EMF specification says CloudWatch does, and answers GetMetricData (the JSON 1.0
protocol boto3 speaks to CloudWatch) for MetricStat queries from them: SampleCount, Sum, Average, Minimum,
Maximum and TC(a:b), the count of values in (a, b]. Every other request goes on to moto. Each answer is noted
in `notes`, which the rehearsal writes into the job's log: the numbers are this stand-in's, not CloudWatch's.
"""

from __future__ import annotations

import json
import math
import re
import threading
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from rehearsal.proxy import ProxiedRequest, Reply

TARGET = "GraniteServiceVersion20100801.GetMetricData"
JSON_TYPE = "application/x-amz-json-1.0"
_TRIMMED_COUNT = re.compile(r"^TC\((?P<low>-?[0-9.]*):(?P<high>-?[0-9.]*)\)$")


class Unsupported(ValueError):
    """A query this stand-in does not compute: it answers an error rather than a number it made up."""


@dataclass(frozen=True)
class Datapoint:
    namespace: str
    metric: str
    dimensions: frozenset[tuple[str, str]]
    timestamp: float  # seconds
    value: float


def emf_documents(lines: Iterable[str]) -> Iterator[dict[str, Any]]:
    """The log lines that are EMF documents (a JSON object with an `_aws` directive); others are skipped."""
    for line in lines:
        try:
            document = json.loads(line)
        except ValueError:
            continue
        if isinstance(document, dict) and isinstance(document.get("_aws"), dict):
            yield document


def datapoints(documents: Iterable[dict[str, Any]]) -> Iterator[Datapoint]:
    """One datapoint per value of each metric in each dimension set of each EMF document."""
    for document in documents:
        directive = document["_aws"]
        timestamp = directive["Timestamp"] / 1000
        for block in directive["CloudWatchMetrics"]:
            for dimension_set in block["Dimensions"]:
                dimensions = frozenset((key, str(document[key])) for key in dimension_set)
                for definition in block["Metrics"]:
                    values = document[definition["Name"]]
                    for value in values if isinstance(values, list) else [values]:
                        yield Datapoint(block["Namespace"], definition["Name"], dimensions, timestamp, float(value))


SIMPLE_STATISTICS: dict[str, Callable[[list[float]], float]] = {
    "SampleCount": lambda values: float(len(values)),
    "Sum": math.fsum,
    "Average": lambda values: math.fsum(values) / len(values),
    "Minimum": min,
    "Maximum": max,
}


def statistic_of(stat: str) -> Callable[[list[float]], float]:
    """The statistic as a function of a period's values; Unsupported before any value is looked at."""
    if stat in SIMPLE_STATISTICS:
        return SIMPLE_STATISTICS[stat]
    trimmed = _TRIMMED_COUNT.match(stat)
    if not trimmed:
        raise Unsupported(f"the EMF stand-in does not compute the statistic {stat!r}")
    low = float(trimmed["low"]) if trimmed["low"] else -math.inf
    high = float(trimmed["high"]) if trimmed["high"] else math.inf
    return lambda values: float(sum(1 for value in values if low < value <= high))


def statistic(stat: str, values: list[float]) -> float:
    return statistic_of(stat)(values)


def _seconds(value: Any) -> float:
    """A JSON 1.0 timestamp: epoch seconds, or an ISO 8601 string."""
    if isinstance(value, int | float):
        return float(value)
    return datetime.fromisoformat(str(value).replace("Z", "+00:00")).timestamp()


def answer(query: dict[str, Any], points: list[Datapoint], start: float, end: float) -> dict[str, Any]:
    """One MetricDataResult: a datapoint per period from `start` that has values, newest first (ScanBy's default)."""
    if "MetricStat" not in query:
        raise Unsupported(f"query {query.get('Id')}: the EMF stand-in answers MetricStat queries only")
    metric_stat = query["MetricStat"]
    metric, period, compute = metric_stat["Metric"], int(metric_stat["Period"]), statistic_of(metric_stat["Stat"])
    dimensions = frozenset((item["Name"], item["Value"]) for item in metric.get("Dimensions", []))
    wanted = (metric["Namespace"], metric["MetricName"], dimensions)
    buckets: dict[int, list[float]] = {}
    for point in points:
        if (point.namespace, point.metric, point.dimensions) == wanted and start <= point.timestamp < end:
            buckets.setdefault(int((point.timestamp - start) // period), []).append(point.value)
    ordered = sorted(buckets, reverse=True)
    return {
        "Id": query["Id"],
        "Label": f"{metric['MetricName']} {metric_stat['Stat']}",
        "Timestamps": [start + index * period for index in ordered],
        "Values": [compute(buckets[index]) for index in ordered],
        "StatusCode": "Complete",
    }


def is_get_metric_data(request: ProxiedRequest) -> bool:
    target = next((v for k, v in request.headers.items() if k.lower() == "x-amz-target"), "")
    return request.method == "POST" and target == TARGET


def log_lines(folder: Path) -> Callable[[], Iterator[str]]:
    """The lines of every log in `folder` (the Lambda stand-in's containers), read afresh at each call."""

    def read() -> Iterator[str]:
        for path in sorted(folder.glob("*.log")):
            yield from path.read_text(errors="replace").splitlines()

    return read


@dataclass
class EmfMetrics:
    """Answers GetMetricData from the EMF lines `lines()` yields; `page_size` results per page (NextToken)."""

    lines: Callable[[], Iterable[str]]
    page_size: int | None = None
    # Lambda's own metrics (AWS/Lambda), which moto does not publish: the Lambda stand-in's invocation counts.
    lambda_metrics: Callable[[], Iterable[Datapoint]] = lambda: ()
    notes: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def get_metric_data(self, body: dict[str, Any]) -> dict[str, Any]:
        documents = list(emf_documents(self.lines()))
        counted = list(self.lambda_metrics())
        points = [*datapoints(documents), *counted]
        start, end = _seconds(body["StartTime"]), _seconds(body["EndTime"])
        queries = body["MetricDataQueries"]
        offset = int(body.get("NextToken") or 0)
        size = self.page_size or len(queries)
        page = queries[offset : offset + size]
        results = [answer(query, points, start, end) for query in page if query.get("ReturnData", True)]
        response: dict[str, Any] = {"MetricDataResults": results, "Messages": []}
        if offset + size < len(queries):
            response["NextToken"] = str(offset + size)
        with self.lock:
            self.notes.append(
                f"GetMetricData ({len(page)} queries) answered by the EMF stand-in (rehearsal.emf_metrics) from "
                f"the {len(documents)} EMF lines the handler wrote and the Lambda stand-in's {len(counted)} "
                f"invocation metrics ({len(points)} values), not by CloudWatch"
            )
        return response

    def handle(self, request: ProxiedRequest, ask_moto: Callable[[], Reply]) -> Reply:
        if not is_get_metric_data(request):
            return ask_moto()
        try:
            document = self.get_metric_data(json.loads(request.body or b"{}"))
        except Unsupported as error:
            error_body = {"__type": "InvalidParameterValue", "message": str(error)}
            return Reply(400, {"Content-Type": JSON_TYPE}, json.dumps(error_body).encode())
        return Reply(200, {"Content-Type": JSON_TYPE}, json.dumps(document).encode())

    def take_notes(self) -> list[str]:
        with self.lock:
            notes, self.notes = self.notes, []
        return notes
