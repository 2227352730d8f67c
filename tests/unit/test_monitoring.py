"""Issue 16's model side: the baseline training records, the EMF metrics the handler writes, the drift check."""

import json
import logging

import numpy as np
import pytest

from lambda_model.cli import main
from lambda_model.monitoring.drift import Thresholds, bin_counts, judge, psi
from lambda_model.registry.artifact import METADATA_FILE, ArtifactError, verify
from lambda_model.registry.baseline import Baseline
from lambda_model.registry.signature import MAX_CLASSES, MAX_FEATURES
from lambda_model.serving import metrics
from lambda_model.serving.logs import JsonLineFormatter
from lambda_model.serving.predictor import Predictor
from lambda_model.training.data import load_dataset, parse_csv
from lambda_model.training.profile import midpoint_edges
from tests.support.artifacts import as_format_1, rewrite_metadata
from tests.support.emf import check_emf_line
from tests.support.servers import REPO_ROOT

SEED = {"sepal_length": 5.9, "sepal_width": 3, "petal_length": 5.1, "petal_width": 1.8}


# ------------------------------------------------------------------------------------------ the baseline


def test_the_baseline_is_in_the_metadata_under_its_checksum(model_dir, tmp_path):
    metadata = json.loads((model_dir / METADATA_FILE).read_text())
    baseline = Baseline.from_json(metadata["baseline"])
    assert baseline.names == tuple(f["name"] for f in metadata["signature"]["features"])
    assert sum(baseline.class_priors) == pytest.approx(1)
    assert 0 < baseline.low_confidence_threshold <= baseline.confidence_quantiles["p50"] <= 1

    copy = tmp_path / "copy"
    import shutil

    shutil.copytree(model_dir, copy)
    edited = dict(metadata["baseline"], low_confidence_threshold=0.0)
    rewrite_metadata(copy, baseline=edited)
    with pytest.raises(ArtifactError, match=r"baseline .* does not match its recorded sha256"):
        verify(copy)


@pytest.mark.parametrize("fixture", ["model_dir", "cancer_store"])
def test_no_training_value_lies_on_a_bin_edge_and_the_shares_sum_to_one(request, fixture):
    model = Predictor.from_uri(request.getfixturevalue(fixture))
    source = model.metadata["data"]["source"]
    data = load_dataset(source, model.metadata["data"]["label_column"])
    for feature, column in zip(model.baseline.features, data.features.T, strict=True):
        assert not set(feature.edges) & set(column.tolist()), feature.name
        assert sum(feature.shares) == pytest.approx(1)
        assert len(feature.edges) <= 9
        assert (feature.minimum, feature.maximum) == (column.min(), column.max())
        assert feature.std == pytest.approx(column.std())


def resampled_max_psi(baseline: Baseline, features: np.ndarray, seed: int, records: int = 500) -> float:
    rows = features[np.random.default_rng(seed).integers(0, len(features), records)]
    counts = bin_counts(baseline, rows)
    return max(psi(feature.shares, counts[feature.name]) for feature in baseline.features)


def test_resampled_training_data_stays_far_below_the_watch_level(model_dir):
    """Measured on iris: 500 records, no drift, max PSI over the features ~0.03 (p95 0.04)."""
    iris = load_dataset(None).features
    baseline = Predictor(model_dir).baseline
    max_psi = [resampled_max_psi(baseline, iris, seed) for seed in range(40)]
    assert np.percentile(max_psi, 95) < 0.06


def test_a_value_off_by_a_rounding_error_stays_in_its_bin_only_with_midpoint_edges():
    """The tie trap: iris is measured to 0.1 cm, so a plain decile is itself a measured value.

    A record then lands on either side of the edge depending on float rounding (5.8 sent as 5.800000001,
    or parsed by another library), and whole bins swap share. Midway between distinct values nothing sits.
    """
    column = load_dataset(None).features[:, 0]
    quantile_edges = tuple(np.quantile(column, np.arange(1, 10) / 10))
    assert set(quantile_edges) & set(column.tolist()), "the trap exists: deciles fall on measured values"

    def flips(edges):
        below = np.searchsorted(edges, np.nextafter(column, -np.inf), side="right")
        above = np.searchsorted(edges, np.nextafter(column, np.inf), side="right")
        return int(np.sum(below != above))

    assert flips(quantile_edges) > 10
    assert flips(midpoint_edges(column)) == 0
    assert midpoint_edges(np.array([1.0, 1.0, 1.0, 2.0])) == (1.5,)


# ------------------------------------------------------------------------------------------ the drift check


def write_rows(path, names, rows, label=None):
    header = ",".join([*names, *([label[0]] if label else [])])
    lines = [",".join([*(repr(float(v)) for v in row), *([label[1]] if label else [])]) for row in rows]
    path.write_text("\n".join([header, *lines]) + "\n")
    return path


@pytest.mark.parametrize("fixture", ["model_store", "cancer_store"])
def test_the_drift_command_separates_a_shifted_set_from_a_resampled_one(request, fixture, tmp_path, capsys):
    store = request.getfixturevalue(fixture)
    model = Predictor.from_uri(store)
    data = load_dataset(model.metadata["data"]["source"], model.metadata["data"]["label_column"])
    rows = data.features[np.random.default_rng(7).integers(0, len(data), 600)]
    names = model.signature.names
    resampled = write_rows(tmp_path / "resampled.csv", names, rows, label=("ignored_label", "x"))
    shifted_rows = rows.copy()
    shifted_rows[:, 2] += data.features[:, 2].std()  # one feature moved by one standard deviation
    shifted = write_rows(tmp_path / "shifted.csv", names, shifted_rows)
    summary = tmp_path / "drift.md"

    assert main(["drift", "--model", str(store), "--data", str(resampled), "--label", "ignored_label"]) == 0
    assert "### Drift check: no drift" in capsys.readouterr().out
    assert main(["drift", "--model", str(store), "--data", str(shifted), "--summary-md", str(summary)]) == 1
    out = capsys.readouterr().out
    assert f"drift: {names[2]} (PSI" in out
    assert f"| {names[2]} | 600 |" in summary.read_text()


def test_the_drift_command_cannot_judge_too_few_records_or_other_columns(model_store, tmp_path, capsys):
    iris = load_dataset(None)
    sample = iris.features[np.random.default_rng(3).integers(0, len(iris), 600)]
    few = write_rows(tmp_path / "few.csv", iris.feature_names, sample[:100])
    assert main(["drift", "--model", str(model_store), "--data", str(few)]) == 2
    assert "error: cannot judge: 100 records; at least 500 are needed" in capsys.readouterr().err
    assert main(["drift", "--model", str(model_store), "--data", str(few), "--min-records", "100"]) == 0
    capsys.readouterr()
    other = write_rows(tmp_path / "other.csv", ("sepal_length", "stem"), sample[:, :2])
    assert main(["drift", "--model", str(model_store), "--data", str(other)]) == 2
    err = capsys.readouterr().err
    assert "its columns are not model" in err
    assert "missing sepal_width, petal_length, petal_width; unknown stem" in err
    with pytest.raises(SystemExit) as refused:
        main(["drift", "--model", str(model_store), "--data", str(few), "--psi-threshold", "nan"])
    assert refused.value.code == 2
    assert "--psi-threshold: 'nan' is not a finite number above 0" in capsys.readouterr().err


def test_the_predicted_classes_are_judged_against_the_priors(model_dir):
    model = Predictor(model_dir)
    iris = load_dataset(None)
    only_setosa = iris.features[iris.labels == 0]
    rows = only_setosa[np.random.default_rng(1).integers(0, len(only_setosa), 600)]
    report = judge(
        model.baseline,
        bin_counts(model.baseline, rows),
        np.bincount(model.predicted_classes(rows), minlength=3).tolist(),
        Thresholds(),
    )
    assert report.rows[-1].name == "predicted class"
    assert report.rows[-1].level == "drift"


def test_a_model_without_a_baseline_says_so(model_dir, tmp_path, capsys):
    legacy = as_format_1(model_dir, tmp_path / "legacy")
    data = write_rows(tmp_path / "rows.csv", tuple(SEED), [tuple(SEED.values())] * 500)
    assert main(["drift", "--model", str(legacy), "--data", str(data)]) == 2
    assert "has no baseline (trained before baselines): retrain it" in capsys.readouterr().err


# ------------------------------------------------------------------------------------------ EMF metrics


def request_lines(serving, caplog, events):
    with caplog.at_level(logging.INFO, logger="lambda_model.requests"):
        for event in events:
            serving.handler(event)
    formatter = JsonLineFormatter()
    return [formatter.format(record) for record in caplog.records if record.name == "lambda_model.requests"]


@pytest.fixture
def fresh_container(serving, monkeypatch):
    monkeypatch.setattr(serving, "_cold_start_reported", False)
    monkeypatch.setenv(metrics.NAMESPACE_VARIABLE, "lambda-model-test")
    return serving


def test_a_single_record_line_is_valid_emf_with_every_metric(fresh_container, caplog):
    (line,) = request_lines(fresh_container, caplog, [{"body": SEED}])
    document = check_emf_line(line)
    definitions = {d["Name"] for d in document["_aws"]["CloudWatchMetrics"][0]["Metrics"]}
    model = fresh_container.model.get()
    assert definitions == set(metrics.metric_names(model))
    assert document["_aws"]["CloudWatchMetrics"][0]["Namespace"] == "lambda-model-test"
    assert document["_aws"]["CloudWatchMetrics"][0]["Dimensions"] == [["ModelVersion"]]
    assert document["ModelVersion"] == model.version
    answered = json.loads(fresh_container.handler({"body": SEED})["body"])["prediction"]
    assert document["Confidence"] == [answered["probability"]]
    assert (document["Class_setosa"], document["Class_versicolor"], document["Class_virginica"]) == ([0], [0], [1])
    assert document["ColdStart"] == [1]
    assert document["LowConfidence"] == [0]
    assert (document["Imputed"], document["OutOfRange"]) == ([0], [0])
    for feature in model.baseline.features:
        assert document[f"Bin_{feature.name}"] == [feature.bin_index(SEED[feature.name])]
    assert "5.9" not in line
    assert "1.8" not in line


def test_a_full_batch_with_nulls_and_out_of_range_values(fresh_container, caplog):
    in_millimetres = {name: value * 10 for name, value in SEED.items()}
    batch = [SEED] * 97 + [{**SEED, "petal_length": None}, in_millimetres, dict.fromkeys(SEED)]
    first, second = request_lines(fresh_container, caplog, [{"body": batch}, {"body": SEED}])
    document = check_emf_line(first)
    assert len(document["Confidence"]) == 100
    assert document["Imputed"][-3:] == [1, 0, 1]
    assert document["OutOfRange"][-3:] == [0, 1, 0]
    assert len(document["Bin_petal_length"]) == 98  # two records sent no petal_length: no bin
    assert len(document["Bin_sepal_length"]) == 99
    assert (
        sum(document[name][i] for name in ("Class_setosa", "Class_versicolor", "Class_virginica") for i in range(100))
        == 100
    )
    assert "ColdStart" not in check_emf_line(second), "a container's cold start is counted once"


def test_errors_and_other_routes_carry_no_directive(fresh_container, caplog):
    lines = request_lines(
        fresh_container,
        caplog,
        [{"body": {**SEED, "petal_width": "x"}}, {"body": "{"}, {"httpMethod": "GET", "path": "/health"}],
    )
    assert len(lines) == 3
    for line in lines:
        assert "_aws" not in json.loads(line)


def test_a_model_without_a_baseline_still_reports_what_needs_none(serving, model_dir, tmp_path, monkeypatch, caplog):
    monkeypatch.setenv("MODEL_URI", str(as_format_1(model_dir, tmp_path / "legacy")))
    serving.model.reset()
    (line,) = request_lines(serving, caplog, [{"body": SEED}])
    names = {d["Name"] for d in check_emf_line(line)["_aws"]["CloudWatchMetrics"][0]["Metrics"]}
    assert {"Confidence", "Class_virginica", "Imputed"} <= names
    assert not names & {"LowConfidence", "OutOfRange", "Bin_petal_length"}


def test_a_metrics_bug_never_fails_the_answer(fresh_container, monkeypatch, caplog):
    def broken(*args, **kwargs):
        raise RuntimeError("metrics bug")

    monkeypatch.setattr(metrics, "emf_fields", broken)
    with caplog.at_level(logging.INFO):
        assert fresh_container.handler({"body": SEED})["statusCode"] == 200
    assert "could not build the metrics" in caplog.text


def test_the_largest_signature_fits_one_directive():
    assert 5 + MAX_FEATURES + MAX_CLASSES <= 100
    labels = [f"class {i}" for i in range(MAX_CLASSES)]
    assert len(set(metrics.class_metric_names(labels))) == MAX_CLASSES
    assert metrics.class_metric_names(["a b", "a_b"]) == ("Class_0", "Class_1"), "colliding names fall back to indices"
    too_wide = ",".join(f"f{i}" for i in range(MAX_FEATURES + 1)) + ",species\n"
    with pytest.raises(Exception, match=f"at most {MAX_FEATURES} are served"):
        parse_csv(too_wide.encode(), "wide.csv")


def test_terraform_reads_the_names_the_handler_emits():
    mirrored = json.loads((REPO_ROOT / "terraform" / "handler_metrics.json").read_text())
    assert mirrored == metrics.contract(), "terraform/handler_metrics.json is stale: write metrics.contract() to it"


def test_the_cancer_models_metrics_are_named_after_its_signature(cancer_serving, caplog):
    model = cancer_serving.model.get()
    (line,) = request_lines(cancer_serving, caplog, [{"body": model.signature.example_record()}])
    document = check_emf_line(line)
    assert {"Class_benign", "Class_malignant", "Bin_worst_symmetry"} <= set(document)
    expected = 5 + 2 + 30 - ("ColdStart" not in document)  # 5 fixed names, one per class, one per feature
    assert len(document["_aws"]["CloudWatchMetrics"][0]["Metrics"]) == expected
