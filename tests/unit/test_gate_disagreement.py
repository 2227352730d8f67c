"""The gate's disagreement cap, tested for its value: a candidate that is accurate enough but answers
differently from production on too many reference rows fails on that alone.

The candidate is trained on the bundled data with the labels of `k` reference rows changed (rows whose
features appear once in the data, so the fitted model answers the changed label for them). Its recipe
scores equal production's on the candidate's data, its reference accuracy drops by k/30, and
`--max-regression 0.1` lets that pass: only the disagreement (k of the 30 reference rows) can fail it.
"""

from __future__ import annotations

import dataclasses
import shutil

import numpy as np
import pytest
from sklearn.model_selection import train_test_split

from lambda_model.cli import main
from lambda_model.training.data import load_dataset
from lambda_model.training.evaluation import HOLDOUT_FRACTION
from lambda_model.training.pipeline import RANDOM_SEED
from lambda_model.training.reference import reference_csv

ACCURATE_ENOUGH = ["--min-accuracy", "0.9", "--max-regression", "0.1"]


def reference_rows_changed(tmp_path, count: int):
    """A CSV of the bundled data with `count` of its reference (hold-out) rows labelled as the next class."""
    iris = load_dataset(None)
    _, holdout = train_test_split(
        np.arange(len(iris)), test_size=HOLDOUT_FRACTION, stratify=iris.labels, random_state=RANDOM_SEED
    )
    rows = [tuple(row) for row in iris.features]
    unique = [index for index in holdout if rows.count(rows[index]) == 1][:count]
    assert len(unique) == count
    labels = iris.labels.copy()
    labels[unique] = (labels[unique] + 1) % len(iris.classes)
    path = tmp_path / f"changed-{count}.csv"
    path.write_bytes(reference_csv(dataclasses.replace(iris, labels=labels)))
    return path


def train_candidate(tmp_path, count: int):
    data = reference_rows_changed(tmp_path, count)
    store = tmp_path / f"candidate-{count}"
    assert main(["train", "--store", str(store), "--data", str(data)]) == 0
    return store, data


def gate(candidate, data, production, *options: str) -> int:
    argv = ["gate", "--candidate", str(candidate), "--data", str(data), "--baseline", str(production)]
    return main([*argv, *ACCURATE_ENOUGH, *options])


@pytest.fixture(scope="module")
def production(model_store, tmp_path_factory):
    """A copy of the session's store: the first gate freezes its reference set into it."""
    copy = tmp_path_factory.mktemp("production") / "store"
    shutil.copytree(model_store, copy)
    return copy


@pytest.fixture(scope="module")
def two_rows_changed(tmp_path_factory):
    return train_candidate(tmp_path_factory.mktemp("gate"), 2)


def test_two_changed_answers_in_thirty_fail_the_default_cap_alone(two_rows_changed, production, capsys):
    candidate, data = two_rows_changed
    capsys.readouterr()
    assert gate(candidate, data, production) == 1
    report = capsys.readouterr().out
    assert "| disagreement | 6.67% (at most 5.00%) | |" in report
    failures = [line for line in report.splitlines() if line.startswith("- ")]
    assert failures == ["- the candidate disagrees with production on 6.67% of the reference rows (at most 5.00%)"]


@pytest.mark.parametrize(("cap", "verdict"), [("0.07", 0), ("0.06", 1)])
def test_a_given_cap_is_the_one_applied(two_rows_changed, production, capsys, cap, verdict):
    candidate, data = two_rows_changed
    assert gate(candidate, data, production, "--max-disagreement", cap) == verdict
    assert f"(at most {float(cap):.2%})" in capsys.readouterr().out


def test_one_changed_answer_in_thirty_is_within_the_default_cap(tmp_path, production, capsys):
    candidate, data = train_candidate(tmp_path, 1)
    assert gate(candidate, data, production) == 0
    assert "| disagreement | 3.33% (at most 5.00%) | |" in capsys.readouterr().out
