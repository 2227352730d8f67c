import json
import subprocess
import sys

import pytest

from lambda_model.cli import build_parser, main
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
    assert "missing column" in capsys.readouterr().err
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


def test_gate_passes_a_good_first_model_and_fails_a_too_high_bar(model_store, tmp_path, capsys):
    summary = tmp_path / "summary.md"
    empty_store = tmp_path / "empty"
    empty_store.mkdir()
    assert gate(model_store, "--baseline", empty_store, "--min-accuracy", 0.9, "--summary-md", summary) == 0
    assert "Model gate: passed" in summary.read_text()
    assert gate(model_store, "--baseline", model_store, "--min-accuracy", 1.01) == 1
    assert "below the minimum" in capsys.readouterr().out


def test_gate_fails_a_candidate_that_regresses(model_store, tmp_path, capsys):
    weak = tmp_path / "weak"
    assert main(["train", "--store", str(weak), "--param", "n_estimators=1", "--param", "max_depth=1"]) == 0
    assert gate(weak, "--baseline", model_store, "--min-accuracy", 0.5) == 1
    assert "regresses from production" in capsys.readouterr().out


def test_export_copies_a_verified_model(model_store, tmp_path):
    destination = tmp_path / "build" / "model"
    assert main(["export", "--model", str(model_store), "--to", str(destination)]) == 0
    assert sorted(p.name for p in destination.iterdir()) == ["metadata.json", "model.joblib", "model.onnx"]


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


def test_retraining_the_same_recipe_on_the_same_data_passes_the_gate(model_store, tmp_path):
    again = tmp_path / "again"
    assert main(["train", "--store", str(again)]) == 0
    assert gate(again, "--baseline", model_store, "--min-accuracy", 0.9) == 0
