"""A model of another data set, end to end: its signature is the API contract everywhere it is served or gated."""

import json
import re
import shutil

import pytest

from lambda_model.cli import main
from lambda_model.registry.local_store import LocalStore
from lambda_model.training.reference import LEGACY_REFERENCE_NAME, REFERENCE_DIR, file_name, reference_csv
from tests.conftest import load_event
from tests.support.artifacts import as_format_1
from tests.support.servers import REPO_ROOT
from tests.unit.test_cli import gate
from tests.unit.test_handler import body_of


@pytest.fixture
def cancer(cancer_serving):
    return cancer_serving


def invoke(handler, body):
    return handler.handler({"body": body})


def test_train_takes_any_numeric_csv_with_a_label_column(cancer_csv, tmp_path, capsys):
    store = tmp_path / "store"
    assert main(["train", "--data", str(cancer_csv), "--label", "diagnosis", "--store", str(store)]) == 0
    metadata = json.loads((LocalStore(store).fetch_current() / "metadata.json").read_text())
    assert len(metadata["signature"]["features"]) == 30
    assert metadata["signature"]["classes"] == ["benign", "malignant"]
    assert metadata["data"]["label_column"] == "diagnosis"
    assert metadata["metrics"]["accuracy"] > 0.9


def test_the_handler_validates_against_the_loaded_models_features(cancer):
    signature = cancer.model.get().signature
    record = signature.example_record()
    answer = invoke(cancer, record)
    assert answer["statusCode"] == 200
    assert body_of(answer)["prediction"]["label"] in signature.classes

    missing = {name: value for name, value in record.items() if name != "worst_symmetry"}
    error = body_of(invoke(cancer, missing))["error"]
    assert error == {
        "code": "missing_feature",
        "message": "missing feature 'worst_symmetry'; send null to have it imputed",
    }

    iris = json.loads((REPO_ROOT / "tests" / "events" / "direct_invoke.json").read_text())["body"]
    error = body_of(invoke(cancer, iris))["error"]
    assert error["code"] == "unknown_feature"
    assert error["message"].startswith("unknown feature 'petal_length'; expected exactly mean_radius, mean_texture,")

    batch = body_of(invoke(cancer, [record, {**record, "mean_radius": None}]))
    assert len(batch["predictions"]) == 2


def test_health_shows_the_signature(cancer):
    event = load_event("rest_api_health.json")
    model = body_of(cancer.handler(event))["model"]
    assert [feature["name"] for feature in model["signature"]["features"]][:2] == ["mean_radius", "mean_texture"]
    assert model["signature"]["classes"] == ["benign", "malignant"]
    assert set(model["signature"]["input_example"]) == {f["name"] for f in model["signature"]["features"]}


def test_the_gate_names_the_data_a_candidate_needs(cancer_store, cancer_csv, capsys):
    assert gate(cancer_store, "--min-accuracy", 0.5) == 2
    assert f"gate a candidate on the data it was trained on (--data {cancer_csv})" in capsys.readouterr().err


def test_a_signature_change_fails_the_gate_and_lists_what_changed(
    cancer_store, cancer_csv, model_store, tmp_path, capsys
):
    production = tmp_path / "production"
    shutil.copytree(model_store, production)
    summary = tmp_path / "summary.md"
    options = ("--data", cancer_csv, "--summary-md", summary)
    assert gate(cancer_store, "--baseline", production, "--min-accuracy", 0.5, *options) == 1
    out = capsys.readouterr().out
    assert "the signature differs from production's (features added: mean_radius," in out
    assert "features removed: sepal_length, sepal_width, petal_length, petal_width" in out
    assert "classes changed: setosa, versicolor, virginica → benign, malignant" in out
    assert "gate with --allow-signature-change to release it" in out
    assert not (production / REFERENCE_DIR).exists()


def test_an_allowed_signature_change_skips_the_paired_comparisons_but_not_the_minimum(
    cancer_store, cancer_csv, model_store, tmp_path, capsys
):
    production = tmp_path / "production"
    shutil.copytree(model_store, production)
    summary = tmp_path / "summary.md"
    options = ("--baseline", production, "--data", cancer_csv, "--allow-signature-change", "--summary-md", summary)
    assert gate(cancer_store, *options, "--min-accuracy", 0.5) == 0
    text = summary.read_text()
    assert "The API changed: allowed (--allow-signature-change): this release changes the API" in text
    assert "Skipped, because they need the same inputs for both models" in text
    assert "| n/a |" in text  # no production column: nothing was compared
    assert gate(cancer_store, *options, "--min-accuracy", 0.999) == 1
    assert "below the minimum" in capsys.readouterr().out


def test_the_first_gate_after_the_upgrade_judges_against_a_format_1_production(model_store, tmp_path, capsys):
    """Today's production (format 1, its reference set frozen as iris-holdout) stays the yardstick."""
    from lambda_model.training.data import load_dataset
    from lambda_model.training.evaluation import holdout_split

    production = tmp_path / "production"
    version = LocalStore(model_store).current_version()
    as_format_1(model_store / "versions" / version, production / "versions" / version)
    LocalStore(production).promote(version)
    iris = load_dataset(None)
    split = holdout_split(iris)
    import dataclasses

    legacy_rows = reference_csv(dataclasses.replace(iris, features=split.holdout_features, labels=split.holdout_labels))
    legacy = file_name(LEGACY_REFERENCE_NAME, legacy_rows)
    LocalStore(production).create_file(REFERENCE_DIR, legacy, legacy_rows)

    candidate = tmp_path / "candidate"
    assert main(["train", "--store", str(candidate)]) == 0
    capsys.readouterr()
    assert gate(candidate, "--baseline", production, "--min-accuracy", 0.9) == 0
    out = capsys.readouterr().out
    assert f"reference set `{legacy}`" in out
    assert "| disagreement | 0.00% (at most 5.00%) | |" in out
    assert sorted(path.name for path in (production / REFERENCE_DIR).iterdir()) == [legacy]


IRIS_WORDS = re.compile(r"\b(sepal_length|sepal_width|petal_length|petal_width|setosa|versicolor|virginica)\b")


def test_no_serving_registry_tool_or_workflow_code_names_an_iris_feature_or_class():
    """The loaded model's signature is the one source; a list typed here would drift from it."""
    roots = ["app/lambda_model/serving", "app/lambda_model/registry", "tools", ".github"]
    offenders = [
        f"{path.relative_to(REPO_ROOT)}:{number}: {line.strip()}"
        for root in roots
        for path in sorted((REPO_ROOT / root).rglob("*"))
        if path.is_file() and path.suffix in {".py", ".yml", ".yaml", ".sh", ".json"}
        for number, line in enumerate(path.read_text().splitlines(), start=1)
        if IRIS_WORDS.search(line)
    ]
    assert offenders == []
