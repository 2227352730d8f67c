"""Every bad command line a user is likely to type: one line on stderr, exit 2, no traceback, nothing written.

Run as a user runs it (`python -m lambda_model ...` in a subprocess), so an exception raised while the
parser is built, or one that escapes main(), shows here as the traceback the user would see.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest


def run_cli(*arguments: str, cwd: Path | None = None, **environment: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "lambda_model", *arguments],
        env={**os.environ, **environment},
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def assert_one_line_refusal(completed: subprocess.CompletedProcess[str], names: str) -> None:
    assert completed.returncode == 2, completed.stderr
    assert "Traceback" not in completed.stderr
    # argparse prints its usage line before the error; the error itself is the last, and only other, line.
    error_lines = [line for line in completed.stderr.splitlines() if not line.startswith(("usage:", " "))]
    assert len(error_lines) == 1, completed.stderr
    assert names in error_lines[0], completed.stderr


@pytest.mark.parametrize("value", ["nan", "1.5", "-1", "inf", "lots"])
@pytest.mark.parametrize("option", ["--min-accuracy", "--max-regression", "--max-disagreement"])
def test_a_gate_threshold_outside_0_to_1_is_refused(model_dir, option, value):
    arguments = ["gate", "--candidate", str(model_dir), "--min-accuracy", "0.9", option, value]
    assert_one_line_refusal(run_cli(*arguments), f"argument {option}")


@pytest.mark.parametrize("port", ["eighty", "0", "70000"])
def test_a_bad_port_is_refused_by_serve_and_ignored_by_commands_that_never_listen(model_store, port):
    assert_one_line_refusal(run_cli("serve", "--model", str(model_store), PORT=port), "argument --port")
    assert run_cli("versions", "--store", str(model_store), PORT=port).returncode == 0


def test_serve_on_a_port_in_use_names_the_port(model_dir):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        assert_one_line_refusal(run_cli("serve", "--model", str(model_dir), "--port", str(port)), f":{port}")


def test_train_refuses_a_summary_it_cannot_write_before_storing_anything(tmp_path):
    store = tmp_path / "store"
    folder = tmp_path / "a-folder"
    folder.mkdir()
    for summary, names in [(folder, "is a folder"), (tmp_path / "absent" / "s.json", "does not exist")]:
        completed = run_cli("train", "--store", str(store), "--summary-json", str(summary))
        assert_one_line_refusal(completed, "--summary-json")
        assert names in completed.stderr
    assert not store.exists()


def test_train_refuses_a_store_that_is_a_file(tmp_path):
    store = tmp_path / "store"
    store.write_text("not a folder")
    assert_one_line_refusal(run_cli("train", "--store", str(store)), "is a file, not a folder")


def test_train_with_too_few_rows_per_class_names_the_classes(tmp_path):
    data = tmp_path / "few.csv"
    data.write_text(
        "sepal_length,sepal_width,petal_length,petal_width,species\n"
        + "5.1,3.5,1.4,0.2,setosa\n7.0,3.2,4.7,1.4,versicolor\n6.3,3.3,6.0,2.5,virginica\n" * 2
    )
    completed = run_cli("train", "--data", str(data), "--store", str(tmp_path / "store"))
    assert_one_line_refusal(completed, "too few rows of class setosa (2)")
    assert not (tmp_path / "store").exists()


def test_gate_refuses_a_summary_that_is_a_folder(model_dir, tmp_path):
    completed = run_cli("gate", "--candidate", str(model_dir), "--min-accuracy", "0.5", "--summary-md", str(tmp_path))
    assert_one_line_refusal(completed, "--summary-md")


def test_export_to_a_url_is_refused_and_writes_no_local_folder(model_dir, tmp_path):
    completed = run_cli("export", "--model", str(model_dir), "--to", "s3://bucket/x", cwd=tmp_path)
    assert_one_line_refusal(completed, "not a URL")
    assert list(tmp_path.iterdir()) == []


def test_export_to_an_impossible_path_is_refused(model_dir, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("a file where a folder would go")
    assert_one_line_refusal(run_cli("export", "--model", str(model_dir), "--to", str(blocker / "model")), "--to")


def test_versions_of_a_store_that_does_not_exist_is_an_error_not_an_empty_list(tmp_path):
    assert_one_line_refusal(run_cli("versions", "--store", str(tmp_path / "no-such-store")), "no such folder")
    empty = tmp_path / "empty"
    empty.mkdir()
    listed = run_cli("versions", "--store", str(empty))
    assert (listed.returncode, listed.stdout) == (0, "")
