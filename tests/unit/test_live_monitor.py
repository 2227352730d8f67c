"""The monitor: the served model's metrics read back from CloudWatch (a botocore Stubber here) and judged."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import boto3
import numpy as np
import pytest
from botocore.stub import Stubber

from lambda_model.cli import main
from lambda_model.monitoring import cloudwatch
from lambda_model.monitoring.drift import Thresholds, bin_counts
from lambda_model.monitoring.live import MonitorError, Window, monitor, parse_windows, served_model
from lambda_model.registry.baseline import Baseline, FeatureBaseline
from lambda_model.registry.signature import Feature, Signature
from lambda_model.serving import metrics
from lambda_model.serving.predictor import Predictor
from lambda_model.training.data import load_dataset

NOW = datetime(2026, 12, 3, 6, 0, tzinfo=UTC)
NAMESPACE = "lambda-model-prod"


def stubbed_client() -> tuple[object, Stubber]:
    client = boto3.client(
        "cloudwatch", region_name="eu-central-1", aws_access_key_id="test", aws_secret_access_key="test"
    )
    return client, Stubber(client)


def request_of(queries, version, start, end, token=None):
    request = {
        "MetricDataQueries": [
            {
                "Id": query.id,
                "MetricStat": {
                    "Metric": {
                        "Namespace": NAMESPACE,
                        "MetricName": query.metric,
                        "Dimensions": [{"Name": "ModelVersion", "Value": version}],
                    },
                    "Period": int((end - start).total_seconds()),
                    "Stat": query.stat,
                },
                "ReturnData": True,
            }
            for query in queries
        ],
        "StartTime": start,
        "EndTime": end,
    }
    return {**request, "NextToken": token} if token else request


def answers_of(plan: cloudwatch.Plan, features: np.ndarray, classes: np.ndarray, baseline: Baseline) -> dict:
    """What CloudWatch holds for these records, by query id: the handler's metrics, counted exactly."""
    answers = {}
    counts = bin_counts(baseline, features)
    for name, ids in plan.bins.items():
        answers.update(zip(ids, counts[name], strict=True))
        answers[plan.values[name]] = sum(counts[name])
    answers.update(zip(plan.classes, np.bincount(classes, minlength=len(plan.classes)).tolist(), strict=True))
    answers[plan.records] = len(features)
    answers.update({query_id: 0 for query_id in plan.flags.values()})
    return answers


def respond(stubber, plan, answers, version, start, end, pages=1):
    """One GetMetricData call, answered in `pages` pages joined by NextToken."""
    results = [
        {"Id": q.id, "Timestamps": [start], "Values": [float(answers[q.id])], "StatusCode": "Complete"}
        for q in plan.queries
    ]
    size = -(-len(results) // pages)
    for page in range(pages):
        token = f"page-{page}" if page else None
        response = {"MetricDataResults": results[page * size : (page + 1) * size], "Messages": []}
        if page < pages - 1:
            response["NextToken"] = f"page-{page + 1}"
        stubber.add_response("get_metric_data", response, request_of(plan.queries, version, start, end, token))


@pytest.fixture(scope="module")
def iris(model_store):
    model = served_model(str(model_store))
    predictor = Predictor.from_uri(model_store)
    data = load_dataset(None).features
    rows = data[np.random.default_rng(3).integers(0, len(data), 600)]
    return model, predictor, rows


ONE_DAY = (Window("1d", 86400),)


def run(model_store, model, predictor, rows, windows=ONE_DAY, **thresholds):
    client, stubber = stubbed_client()
    plan = cloudwatch.plan(model.signature, model.baseline)
    answers = answers_of(plan, rows, predictor.predicted_classes(rows), model.baseline)
    for window in windows:
        respond(stubber, plan, answers, model.version, NOW - timedelta(seconds=window.seconds), NOW, pages=2)
    with stubber:
        report = monitor(str(model_store), NAMESPACE, windows, Thresholds(**thresholds), client=client, now=NOW)
        stubber.assert_no_pending_responses()
    return report


def test_the_queries_are_the_handlers_metric_names_and_one_tc_per_bin(iris):
    model, _, _ = iris
    plan = cloudwatch.plan(model.signature, model.baseline)
    emitted = {
        metrics.CONFIDENCE,
        metrics.LOW_CONFIDENCE,
        metrics.OUT_OF_RANGE,
        metrics.IMPUTED,
        *metrics.class_metric_names(model.signature.classes),
        *(metrics.bin_metric_name(name) for name in model.signature.names),
    }
    assert {query.metric for query in plan.queries} == emitted
    for feature in model.baseline.features:
        stats = [query.stat for query in plan.queries if query.id in plan.bins[feature.name]]
        assert stats == [f"TC({i - 0.5:g}:{i + 0.5:g})" for i in range(len(feature.shares))]
    assert stats[:2] == ["TC(-0.5:0.5)", "TC(0.5:1.5)"]
    assert len({query.id for query in plan.queries}) == len(plan.queries)


def test_resampled_training_traffic_passes_and_shifted_traffic_drifts(model_store, iris):
    model, predictor, rows = iris
    windows = parse_windows("1d,7d")
    report = run(model_store, model, predictor, rows, windows)
    assert report.exit_code == 0, report.markdown()
    assert "no drift" in report.verdict()
    assert "### Last 7d (2026-11-26 06:00 to 2026-12-03 06:00 UTC): no drift" in report.markdown()

    shifted = rows.copy()
    column = int(np.argmax([feature.std for feature in model.baseline.features]))
    shifted[:, column] += model.baseline.features[column].std
    report = run(model_store, model, predictor, shifted, windows)
    assert report.exit_code == 1
    assert f"last 1d: drift: {model.signature.names[column]} (PSI" in report.verdict()


def test_too_few_records_cannot_be_judged(model_store, iris):
    model, predictor, rows = iris
    report = run(model_store, model, predictor, rows[:100])
    assert report.exit_code == 2
    assert "100 records; at least 500 are needed" in report.verdict()


def test_bins_that_do_not_add_up_to_the_sample_count_are_not_judged(model_store, iris):
    """The check on TC: an approximate count that moves values between bins or loses them is caught."""
    model, predictor, rows = iris
    client, stubber = stubbed_client()
    plan = cloudwatch.plan(model.signature, model.baseline)
    answers = answers_of(plan, rows, predictor.predicted_classes(rows), model.baseline)
    first = model.signature.names[0]
    answers[plan.bins[first][0]] += 3
    respond(stubber, plan, answers, model.version, NOW - timedelta(days=1), NOW)
    with stubber:
        report = monitor(str(model_store), NAMESPACE, [Window("1d", 86400)], Thresholds(), client=client, now=NOW)
    assert report.exit_code == 2
    assert f"{first}: its bins count 603 values, SampleCount 600" in report.verdict()


def test_more_than_500_queries_are_split_and_every_page_is_read():
    names = [f"f{index}" for index in range(55)]
    signature = Signature(tuple(Feature(name, 0.0) for name in names), ("a", "b"))
    baseline = Baseline(
        tuple(FeatureBaseline(n, 10, 0, 0.0, 9.0, 4.5, 3.0, tuple(i + 0.5 for i in range(9)), (0.1,) * 10)
              for n in names),
        (0.5, 0.5), {"p05": 0.9}, 0.9,
    )  # fmt: skip
    plan = cloudwatch.plan(signature, baseline)
    assert len(plan.queries) == 55 * 11 + 2 + 1 + 3
    client, stubber = stubbed_client()
    start, end = NOW - timedelta(days=1), NOW
    chunks = [plan.queries[:500], plan.queries[500:]]
    for chunk in chunks:
        half = len(chunk) // 2
        pages = [chunk[:half], chunk[half:]]
        for number, page in enumerate(pages):
            response = {
                "MetricDataResults": [
                    {"Id": q.id, "Timestamps": [start, end], "Values": [1.0, 2.0], "StatusCode": "Complete"}
                    for q in page
                ],
                **({"NextToken": "next"} if number == 0 else {}),
            }
            token = "next" if number else None
            stubber.add_response("get_metric_data", response, request_of(chunk, "v1", start, end, token))
    with stubber:
        totals = cloudwatch.metric_data(client, plan.queries, NAMESPACE, "v1", start, end)
        stubber.assert_no_pending_responses()
    assert totals == {query.id: 3.0 for query in plan.queries}


def test_a_refused_query_is_one_clear_line_and_exit_2(model_store, monkeypatch, capsys):
    client, stubber = stubbed_client()
    stubber.add_client_error("get_metric_data", "AccessDenied", "not authorized to perform cloudwatch:GetMetricData")
    monkeypatch.setattr(cloudwatch, "cloudwatch_client", lambda: client)
    with stubber:
        assert main(["monitor", "--store", str(model_store), "--namespace", NAMESPACE]) == 2
    (line,) = capsys.readouterr().err.strip().splitlines()
    assert line.startswith(f"error: GetMetricData in namespace {NAMESPACE} failed:")
    assert "AccessDenied" in line


def test_no_model_served_yet_and_bad_windows_are_exit_2(model_store, tmp_path, capsys):
    empty = tmp_path / "empty"
    (empty / "versions").mkdir(parents=True)
    assert main(["monitor", "--store", str(empty)]) == 2
    assert capsys.readouterr().err.strip() == f"error: no model served yet: {empty} has no current version"
    assert main(["monitor", "--store", str(tmp_path / "typo")]) == 2
    assert "the store does not exist" in capsys.readouterr().err
    for window in ("7w", "1d,24h", "0d", "64d"):
        assert main(["monitor", "--store", str(model_store), "--window", window]) == 2
        (line,) = capsys.readouterr().err.strip().splitlines()
        assert line.startswith(f"error: --window {window}: ")


def test_a_model_without_a_baseline_cannot_be_monitored(model_store, tmp_path):
    from lambda_model.registry.local_store import LocalStore
    from tests.support.artifacts import as_format_1

    old = as_format_1(LocalStore(model_store).fetch_current(), tmp_path / "old-artifact")
    store = LocalStore(tmp_path / "old")
    store.promote(store.put(old))
    with pytest.raises(MonitorError, match="has no baseline"):
        served_model(str(store.root))


def test_the_summary_carries_each_windows_table_and_rates(model_store, iris, monkeypatch, tmp_path, capsys):
    model, predictor, rows = iris
    client, stubber = stubbed_client()
    plan = cloudwatch.plan(model.signature, model.baseline)
    answers = answers_of(plan, rows, predictor.predicted_classes(rows), model.baseline)
    answers[plan.flags[metrics.LOW_CONFIDENCE]] = 30
    monkeypatch.setattr(cloudwatch, "cloudwatch_client", lambda: client)
    stubber.add_response(
        "get_metric_data",
        {"MetricDataResults": [{"Id": q.id, "Values": [float(answers[q.id])], "StatusCode": "Complete"}
                               for q in plan.queries]},
    )  # fmt: skip
    summary = tmp_path / "summary.md"
    with stubber:
        code = main(["monitor", "--store", str(model_store), "--namespace", NAMESPACE, "--window", "12h",
                     "--summary-md", str(summary)])  # fmt: skip
    assert code == 0
    text = summary.read_text()
    assert text.startswith(f"## Model monitor: model {model.version} in namespace {NAMESPACE}: no drift")
    assert f"| {model.signature.names[0]} | 600 |" in text
    assert "LowConfidence 5.0%" in text
    assert text in capsys.readouterr().out


def test_the_window_ends_at_the_next_whole_minute_so_the_latest_records_count(model_store, iris):
    model, predictor, rows = iris
    client, stubber = stubbed_client()
    plan = cloudwatch.plan(model.signature, model.baseline)
    answers = answers_of(plan, rows, predictor.predicted_classes(rows), model.baseline)
    end = NOW + timedelta(minutes=1)
    respond(stubber, plan, answers, model.version, end - timedelta(days=1), end)
    with stubber:
        report = monitor(
            str(model_store), NAMESPACE, ONE_DAY, Thresholds(), client=client, now=NOW + timedelta(seconds=30)
        )
    assert (report.windows[0].start, report.windows[0].end) == (end - timedelta(days=1), end)
    assert report.exit_code == 0


def test_the_monitor_report_draws_each_windows_psi_chart_and_histograms(model_store, iris, tmp_path):
    from lambda_model.reporting.drift import write_monitor_report
    from tests.unit.test_report import assert_pictures_shown

    model, predictor, rows = iris
    report = run(model_store, model, predictor, rows, parse_windows("1d,7d"))
    written = write_monitor_report(report, tmp_path)
    assert_pictures_shown(tmp_path, {"psi-1d.png", "features-1d.png", "psi-7d.png", "features-7d.png"})
    assert report.verdict() in written.markdown.read_text()
    for window in report.windows:
        assert window.drift.markdown("x").split("\n", 2)[2] in written.summary.read_text()
