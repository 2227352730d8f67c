import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from lambda_model.cli import build_parser, main
from lambda_model.registry.local_store import LocalStore
from tests.support.servers import REPO_ROOT

SETOSA = '{"sepal_length": 5.1, "sepal_width": 3.5, "petal_length": 1.4, "petal_width": 0.2}'


def test_predict_prints_like_the_seed(model_dir, capsys):
    assert main(["predict", SETOSA, "--model", str(model_dir)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "Loading model."
    assert lines[1] == "Data: {'sepal_length': 5.1, 'sepal_width': 3.5, 'petal_length': 1.4, 'petal_width': 0.2}"
    assert lines[2].startswith("Prediction: ('setosa', 0.9999")


def test_predict_script_is_the_seed_entry_point(model_dir):
    completed = subprocess.run(
        [sys.executable, "predict.py", SETOSA.replace("1.4", "null"), "--model", str(model_dir)],
        cwd=REPO_ROOT / "app",
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr
    assert "'petal_length': None" in completed.stdout


def test_bad_input_on_the_command_line_is_exit_2_with_a_message(model_dir, capsys):
    assert main(["predict", '{"sepal_length": "x"}', "--model", str(model_dir)]) == 2
    assert "error:" in capsys.readouterr().err


def test_train_with_bad_data_is_exit_2_and_stores_nothing(tmp_path, capsys):
    bad = tmp_path / "bad.csv"
    bad.write_text("a,b\n1,2\n")
    assert main(["train", "--data", str(bad), "--store", str(tmp_path / "store")]) == 2
    assert "no label column 'species' (columns: a, b); name it with --label" in capsys.readouterr().err
    assert not (tmp_path / "store" / "versions").exists()


def test_train_writes_a_summary_and_versions_lists_it(tmp_path, capsys):
    summary_file = tmp_path / "summary.json"
    store = tmp_path / "store"
    assert main(["train", "--store", str(store), "--no-promote", "--summary-json", str(summary_file)]) == 0
    summary = json.loads(summary_file.read_text())
    assert summary["uri"] == f"{store.resolve()}/versions/{summary['version']}"
    assert summary["promoted"] is False
    capsys.readouterr()
    assert main(["promote", "--store", str(store), "--version", summary["version"]]) == 0
    assert main(["versions", "--store", str(store)]) == 0
    assert f"* {summary['version']}" in capsys.readouterr().out


def gate(candidate, *options) -> int:
    return main(["gate", "--candidate", str(candidate), *map(str, options)])


def test_gate_passes_a_good_first_model_and_fails_a_too_high_bar(model_store, store_copy, tmp_path, capsys):
    summary = tmp_path / "summary.md"
    empty_store = tmp_path / "empty"
    empty_store.mkdir()
    assert gate(model_store, "--baseline", empty_store, "--min-accuracy", 0.9, "--summary-md", summary) == 0
    assert "Model gate: passed" in summary.read_text()
    assert gate(model_store, "--baseline", store_copy, "--min-accuracy", 1.0) == 1
    assert "below the minimum" in capsys.readouterr().out


def test_gate_fails_a_candidate_that_regresses(store_copy, tmp_path, capsys):
    weak = tmp_path / "weak"
    assert main(["train", "--store", str(weak), "--param", "n_estimators=1", "--param", "max_depth=1"]) == 0
    assert gate(weak, "--baseline", store_copy, "--min-accuracy", 0.5) == 1
    assert "regresses from production" in capsys.readouterr().out


def test_export_copies_a_verified_model_and_replaces_an_earlier_export(model_store, tmp_path):
    destination = tmp_path / "build" / "model"
    assert main(["export", "--model", str(model_store), "--to", str(destination)]) == 0
    assert sorted(p.name for p in destination.iterdir()) == ["metadata.json", "model.joblib", "model.onnx"]
    (destination / "model.onnx").write_bytes(b"an export from an older version")
    assert main(["export", "--model", str(model_store), "--to", str(destination)]) == 0
    assert main(["predict", SETOSA, "--model", str(destination)]) == 0
    assert sorted(p.name for p in destination.parent.iterdir()) == ["model"], "no scratch folder is left behind"


@pytest.fixture
def store_copy(model_store, tmp_path):
    copy = tmp_path / "store"
    shutil.copytree(model_store, copy)
    return copy


def store_files(root):
    return sorted((path.relative_to(root), path.read_bytes()) for path in root.rglob("*") if path.is_file())


@pytest.mark.parametrize(
    "destination_of",
    [
        pytest.param(lambda model: model, id="the model folder itself"),
        pytest.param(lambda model: model.parent, id="the store's versions folder"),
        pytest.param(lambda model: model.parents[1], id="the whole store"),
    ],
)
def test_export_refuses_a_destination_holding_the_model(store_copy, capsys, destination_of):
    model = LocalStore(store_copy).fetch_current()
    before = store_files(store_copy)
    assert main(["export", "--model", str(model), "--to", str(destination_of(model))]) == 2
    assert "holds the model itself" in capsys.readouterr().err
    assert store_files(store_copy) == before


def test_export_refuses_a_file_or_a_folder_that_holds_no_model(model_store, tmp_path, capsys):
    a_file = tmp_path / "notes.txt"
    a_file.write_text("keep me")
    assert main(["export", "--model", str(model_store), "--to", str(a_file)]) == 2
    assert "is a file" in capsys.readouterr().err
    a_folder = tmp_path / "project"
    (a_folder / "src").mkdir(parents=True)
    assert main(["export", "--model", str(model_store), "--to", str(a_folder)]) == 2
    assert "holds no model to replace" in capsys.readouterr().err
    assert a_file.read_text() == "keep me"
    assert (a_folder / "src").is_dir()


def test_export_refuses_a_model_folder_that_holds_other_files_too(model_store, tmp_path, capsys):
    destination = tmp_path / "model"
    assert main(["export", "--model", str(model_store), "--to", str(destination)]) == 0
    (destination / "README.md").write_text("what this folder is for")
    before = store_files(destination)
    assert main(["export", "--model", str(model_store), "--to", str(destination)]) == 2
    assert "besides a model it holds README.md; move them out first" in capsys.readouterr().err
    assert store_files(destination) == before


def test_versions_and_promote_ignore_a_leftover_staging_folder(store_copy, capsys):
    current = LocalStore(store_copy).current_version()
    shutil.copytree(store_copy / "versions" / current, store_copy / "versions" / ".staging-0123abcd")
    assert main(["versions", "--store", str(store_copy)]) == 0
    assert capsys.readouterr().out.split() == ["*", current]
    assert main(["promote", "--store", str(store_copy), "--version", ".staging-0123abcd"]) == 2
    assert "no such version" in capsys.readouterr().err
    assert LocalStore(store_copy).current_version() == current


def test_versions_records_the_pointer_tag_a_later_promotion_can_be_refused_by(store_copy, tmp_path, capsys):
    """What staging records when it chooses models/current, and production compares before it ships."""
    outputs = tmp_path / "github-output"
    assert main(["versions", "--store", str(store_copy), "--pointer-tag-output", str(outputs)]) == 0
    tag = outputs.read_text().removeprefix("pointer-tag=").strip()
    assert tag == LocalStore(store_copy).pointer_tag() != "none"
    current = LocalStore(store_copy).current_version()
    assert capsys.readouterr().out.split() == ["*", current]
    # A promotion in between (a retrain) moves the tag: the recorded one no longer matches.
    assert main(["promote", "--store", str(store_copy), "--version", current]) == 0
    assert LocalStore(store_copy).pointer_tag() != tag
    assert main(["promote", "--store", str(store_copy), "--version", current, "--if-pointer", tag]) == 2


def test_versions_of_an_empty_store_records_no_pointer(tmp_path):
    (tmp_path / "store").mkdir()
    outputs = tmp_path / "github-output"
    assert main(["versions", "--store", str(tmp_path / "store"), "--pointer-tag-output", str(outputs)]) == 0
    assert outputs.read_text() == "pointer-tag=none\n"


def test_invoke_runs_the_handler_on_an_event_file(model_dir, capsys, monkeypatch):
    monkeypatch.delenv("MODEL_URI", raising=False)  # invoke sets it; restored after the test
    event = REPO_ROOT / "tests" / "events" / "direct_invoke.json"
    assert main(["invoke", str(event), "--model", str(model_dir)]) == 0
    assert json.loads(capsys.readouterr().out)["statusCode"] == 200


@pytest.mark.parametrize("command", ["train", "predict", "serve", "invoke", "gate", "promote", "export", "versions"])
def test_every_command_has_help(command):
    with pytest.raises(SystemExit) as exit_info:
        build_parser().parse_args([command, "--help"])
    assert exit_info.value.code == 0


def test_gate_reproduces_the_metrics_recorded_at_training(model_store, model_dir, capsys):
    recorded = json.loads((model_dir / "metadata.json").read_text())["metrics"]
    assert gate(model_store, "--min-accuracy", 0) == 0
    assert f"| accuracy | {recorded['accuracy']:.4f} | n/a |" in capsys.readouterr().out


def test_retraining_the_same_recipe_on_the_same_data_passes_the_gate(store_copy, tmp_path, capsys):
    again = tmp_path / "again"
    assert main(["train", "--store", str(again)]) == 0
    assert gate(again, "--baseline", store_copy, "--min-accuracy", 0.9) == 0
    report = capsys.readouterr().out
    assert "| disagreement | 0.00% (at most 5.00%) | |" in report
    assert "reference set `holdout-" in report


# ------------------------------------------------------------------------- a gate that measures production


def swapped_labels_csv(tmp_path):
    """The bundled iris data with versicolor and virginica swapped: bad data a recipe-only gate cannot see."""
    import dataclasses

    import numpy as np

    from lambda_model.training.data import load_dataset
    from lambda_model.training.reference import reference_csv

    iris = load_dataset(None)
    swap = np.array([0, 2, 1])[iris.labels]
    path = tmp_path / "swapped.csv"
    path.write_bytes(reference_csv(dataclasses.replace(iris, labels=swap)))
    return path


def test_a_candidate_trained_on_swapped_labels_fails_on_the_reference_set(store_copy, tmp_path, capsys):
    data = swapped_labels_csv(tmp_path)
    candidate = tmp_path / "candidate"
    assert main(["train", "--store", str(candidate), "--data", str(data)]) == 0
    capsys.readouterr()

    assert gate(candidate, "--baseline", store_copy, "--data", data, "--min-accuracy", 0.9) == 1

    report = capsys.readouterr().out
    assert "reference set: accuracy" in report
    assert "disagrees with production" in report


@pytest.mark.parametrize("baseline", ["typo", "store/versions/no-such-version"])
def test_a_baseline_that_cannot_be_loaded_fails_the_gate(model_store, store_copy, tmp_path, baseline, capsys):
    path = tmp_path / baseline if baseline == "typo" else store_copy / "versions" / "no-such-version"
    assert gate(model_store, "--baseline", path, "--min-accuracy", 0.5) == 2


def test_a_pointer_to_a_missing_version_fails_the_gate(model_store, store_copy, capsys):
    (store_copy / "current").write_text(json.dumps({"version": "20990101T000000000000Z-deadbeef"}))
    assert gate(model_store, "--baseline", store_copy, "--min-accuracy", 0.5) == 2


def test_a_tampered_reference_set_fails_the_gate(model_store, store_copy, capsys):
    assert gate(model_store, "--baseline", store_copy, "--min-accuracy", 0.5) == 0
    (reference,) = (store_copy / "reference").iterdir()
    reference.write_text(reference.read_text().replace("virginica", "setosa"))

    assert gate(model_store, "--baseline", store_copy, "--min-accuracy", 0.5) == 2
    assert "changed after it was written" in capsys.readouterr().err


def gated_candidate(store_copy: Path, tmp_path: Path) -> tuple[str, str]:
    """A new version trained elsewhere and copied into the store, gated against its production: (version,
    the pointer tag the gate read), as the retrain job hands them to the release."""
    again = tmp_path / "again"
    assert main(["train", "--store", str(again), "--no-promote"]) == 0
    (candidate,) = LocalStore(again).versions()
    shutil.copytree(again / "versions" / candidate, store_copy / "versions" / candidate)
    outputs = tmp_path / "gate-outputs"
    assert gate(store_copy / "versions" / candidate, "--baseline", store_copy, "--min-accuracy", 0.9,
                "--pointer-tag-output", outputs) == 0  # fmt: skip
    return candidate, outputs.read_text().strip().removeprefix("pointer-tag=")


def test_promotion_is_refused_when_the_pointer_moved_since_the_gate(store_copy, tmp_path, capsys):
    candidate, tag = gated_candidate(store_copy, tmp_path)
    production = LocalStore(store_copy).current_version()
    assert main(["promote", "--store", str(store_copy), "--version", production]) == 0  # a rollback meanwhile

    assert main(["promote", "--store", str(store_copy), "--version", candidate, "--if-pointer", tag]) == 2

    assert "moved since the gate read it" in capsys.readouterr().err
    assert LocalStore(store_copy).current_version() == production


def test_promotion_with_the_gate_s_pointer_tag_succeeds_when_nothing_moved(store_copy, tmp_path, capsys):
    candidate, tag = gated_candidate(store_copy, tmp_path)

    assert main(["promote", "--store", str(store_copy), "--version", candidate, "--if-pointer", tag]) == 0
    assert LocalStore(store_copy).current_version() == candidate
