"""The EMF stand-in: the handler's own log lines made into metrics, and GetMetricData answered from them the
way CloudWatch answers it (per period, the statistics the monitor asks for), behind the rehearsal's proxy."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime, timedelta

import boto3
import numpy as np
import pytest

from lambda_model.monitoring.drift import Thresholds
from lambda_model.monitoring.live import monitor, parse_windows
from lambda_model.serving import metrics
from lambda_model.serving.logs import JsonLineFormatter
from lambda_model.training.data import load_dataset
from rehearsal.emf_metrics import EmfMetrics, Unsupported, answer, datapoints, emf_documents, statistic
from rehearsal.proxy import proxy_to

NAMESPACE = "rehearsal-live"


def handler_lines(serving, caplog, rows: np.ndarray, names: tuple[str, ...]) -> list[str]:
    """What the handler logs for these records, sent in batches of 100 as clients do."""
    formatter = JsonLineFormatter()
    with caplog.at_level(logging.INFO, logger="lambda_model.requests"):
        for start in range(0, len(rows), 100):
            records = [dict(zip(names, map(float, row), strict=True)) for row in rows[start : start + 100]]
            assert serving.handler({"body": json.dumps(records)})["statusCode"] == 200
    lines = [formatter.format(record) for record in caplog.records if record.name == "lambda_model.requests"]
    caplog.clear()
    return lines


@pytest.fixture
def served(serving, monkeypatch):
    monkeypatch.setenv(metrics.NAMESPACE_VARIABLE, NAMESPACE)
    return serving


def test_each_value_of_each_metric_is_a_datapoint_and_other_lines_are_skipped(served, caplog):
    names = served.model.get().signature.names
    rows = load_dataset(None).features[:150]
    lines = handler_lines(served, caplog, rows, names)
    points = list(datapoints(emf_documents(["not json", '{"level": "INFO"}', *lines])))
    version = served.model.get().version
    confidence = [p for p in points if p.metric == metrics.CONFIDENCE]
    assert len(confidence) == 150
    assert {(p.namespace, p.dimensions) for p in points} == {(NAMESPACE, frozenset({("ModelVersion", version)}))}
    bins = [p.value for p in points if p.metric == metrics.bin_metric_name(names[0])]
    assert len(bins) == 150
    assert set(bins) <= set(map(float, range(10)))


def test_statistics_as_cloudwatch_defines_them():
    values = [0.0, 1.0, 1.0, 2.0, 9.0]
    assert statistic("SampleCount", values) == 5
    assert statistic("Sum", values) == 13
    assert statistic("Average", values) == 2.6
    assert (statistic("Minimum", values), statistic("Maximum", values)) == (0, 9)
    # TC(a:b) counts the values in (a, b]: exclusive below, inclusive above.
    assert statistic("TC(0.5:1.5)", values) == 2
    assert statistic("TC(-0.5:0.5)", values) == 1
    assert statistic("TC(1:2)", values) == 1
    assert statistic("TC(:1)", values) == 3
    with pytest.raises(Unsupported):
        statistic("p90", values)
    with pytest.raises(Unsupported):
        statistic("TC(10%:90%)", values)


def test_datapoints_are_grouped_by_period_from_the_start_and_kept_inside_the_window():
    line = {
        "_aws": {
            "Timestamp": 0,
            "CloudWatchMetrics": [{"Namespace": "ns", "Dimensions": [["V"]], "Metrics": [{"Name": "m"}]}],
        },
        "V": "1",
        "m": [1, 2],
    }
    lines = []
    for seconds in (100, 160, 230, 400):
        lines.append(json.dumps({**line, "_aws": {**line["_aws"], "Timestamp": seconds * 1000}}))
    points = list(datapoints(emf_documents(lines)))
    query = {
        "Id": "q",
        "MetricStat": {
            "Metric": {"Namespace": "ns", "MetricName": "m", "Dimensions": [{"Name": "V", "Value": "1"}]},
            "Period": 60,
            "Stat": "SampleCount",
        },
    }
    result = answer(query, points, 100, 400)  # 400 is the end: excluded
    assert (result["Timestamps"], result["Values"]) == ([220, 160, 100], [2.0, 2.0, 2.0])
    other = {**query, "MetricStat": {**query["MetricStat"], "Metric": {**query["MetricStat"]["Metric"]}}}
    other["MetricStat"]["Metric"]["Dimensions"] = [{"Name": "V", "Value": "2"}]
    assert answer(other, points, 0, 1000)["Values"] == []
    with pytest.raises(Unsupported, match="MetricStat queries only"):
        answer({"Id": "e", "Expression": "SEARCH('x', 'Sum')"}, points, 0, 1000)


def test_the_monitor_judges_what_the_handler_wrote_through_the_stand_in(served, caplog, rehearsal_moto, model_store):
    """The rehearsal's path end to end, paged: handler lines → stand-in behind the proxy → monitor's verdict."""
    model = served.model.get()
    names, baseline = model.signature.names, model.baseline
    data = load_dataset(None).features
    rows = data[np.random.default_rng(11).integers(0, len(data), 600)]
    lines = handler_lines(served, caplog, rows, names)
    stand_in = EmfMetrics(lambda: lines, page_size=7)
    asked_moto = []

    def handle(request, ask_moto):
        return stand_in.handle(request, lambda: asked_moto.append(request.path) or ask_moto())

    with proxy_to(rehearsal_moto, handle) as endpoint:
        client = boto3.client(
            "cloudwatch",
            endpoint_url=endpoint,
            region_name="eu-central-1",
            aws_access_key_id="test",
            aws_secret_access_key="test",
        )
        windows = parse_windows("1d,7d")
        now = datetime.now(UTC) + timedelta(seconds=1)
        report = monitor(str(model_store), NAMESPACE, windows, Thresholds(), client=client, now=now)
        assert report.exit_code == 0, report.markdown()
        assert f"| {names[0]} | 600 |" in report.markdown()
        notes = stand_in.take_notes()
        assert len(notes) > 2 * 2, "the queries came in pages of 7, each page one call"
        assert all("answered by the EMF stand-in" in note for note in notes)

        shifted = rows.copy()
        shifted[:, 0] += 2 * baseline.features[0].std
        lines += handler_lines(served, caplog, shifted, names)
        report = monitor(str(model_store), NAMESPACE, windows, Thresholds(), client=client, now=now)
        assert report.exit_code == 1
        assert f"drift: {names[0]} (PSI" in report.verdict()

        # Everything else reaches moto; a statistic the stand-in does not compute is an error, not a number.
        client.describe_alarms()
        with pytest.raises(client.exceptions.ClientError, match="does not compute the statistic"):
            client.get_metric_data(
                MetricDataQueries=[
                    {
                        "Id": "p",
                        "MetricStat": {
                            "Metric": {"Namespace": NAMESPACE, "MetricName": metrics.CONFIDENCE},
                            "Period": 60,
                            "Stat": "p90",
                        },
                    }
                ],
                StartTime=now - timedelta(hours=1),
                EndTime=now,
            )
    assert asked_moto == ["/"]
