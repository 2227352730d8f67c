"""The retrain and drift reports: pictures that decode at their size, pages that show every picture,
numbers that are the gate's own, and a serving image that never gets matplotlib."""

import base64
import re
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from lambda_model.cli import main
from lambda_model.registry.local_store import LocalStore
from lambda_model.reporting import figures
from lambda_model.reporting.retrain import NO_PRODUCTION, per_class
from lambda_model.training.gate import run_gate
from lambda_model.training.train import train
from tests.support.servers import REPO_ROOT

RETRAIN_PICTURES = {"confusion.png", "per_class.png", "features.png", "confidence.png", "disagreement.png"}


@pytest.fixture(scope="module")
def stores(tmp_path_factory):
    """Production (promoted) and a weaker candidate (not promoted), so the two models differ somewhere."""
    root = tmp_path_factory.mktemp("report-store")
    train(None, str(root), report=lambda _: None)
    candidate = train(
        None, str(root), {"n_estimators": 3, "max_depth": 1}, promote=False, report=lambda _: None
    ).summary()["uri"]
    return root, candidate


@pytest.fixture(scope="module")
def compared(stores, tmp_path_factory):
    root, candidate = stores
    out = tmp_path_factory.mktemp("report")
    assert main(["report", "--candidate", candidate, "--baseline", str(root), "--out", str(out)]) == 0
    gate = run_gate(candidate, str(root), None, 0.9, 0.0)
    return out, gate


@pytest.fixture(scope="module")
def alone(stores, tmp_path_factory):
    _, candidate = stores
    empty = tmp_path_factory.mktemp("no-production")
    out = tmp_path_factory.mktemp("alone")
    assert main(["report", "--candidate", candidate, "--baseline", str(empty), "--out", str(out)]) == 0
    return out


def expected_size(name: str, features: int = 4) -> tuple[int, int]:
    if name.startswith("features"):
        return figures.pixels(figures.size_of_features_figure(features))
    return figures.pixels(figures.WIDE)


def assert_pictures_shown(out: Path, pictures: set[str]) -> None:
    assert {path.name for path in out.glob("*.png")} == pictures
    markdown = (out / "report.md").read_text()
    page = (out / "report.html").read_text()
    for name in pictures:
        data = (out / name).read_bytes()
        with Image.open(out / name) as image:
            image.load()  # decodes every pixel: a truncated file fails here
            assert image.format == "PNG"
            assert image.size == expected_size(name)
        assert f"]({name})" in markdown
        assert base64.b64encode(data).decode("ascii") in page
    # Self-contained: the only image sources are the inlined ones, nothing fetched from elsewhere.
    assert re.findall(r'src="([^"]{0,22})', page) == ["data:image/png;base64,"] * len(pictures)
    summary = (out / "summary.md").read_text()
    assert ".png" not in summary  # a job summary shows no relative image; the artifact links stand in
    assert "```mermaid\nxychart-beta" in summary


def test_every_picture_decodes_at_its_size_and_both_pages_show_it(compared):
    out, _ = compared
    assert_pictures_shown(out, RETRAIN_PICTURES)


def test_the_report_carries_the_gates_own_table_and_verdict(compared):
    out, gate = compared
    for name in ("report.md", "summary.md"):
        assert gate.markdown in (out / name).read_text()
    page = (out / "report.html").read_text()
    assert f"Model gate: {'passed' if gate.result.passed else 'failed'}" in page


def test_per_class_tables_are_tallies_of_the_gates_answers(compared):
    out, gate = compared
    evidence = gate.evidence
    markdown = (out / "report.md").read_text()
    rows = [
        line for line in markdown.splitlines() if line.startswith(tuple(f"| {c} |" for c in evidence.dataset.classes))
    ]
    table = np.array([[float(cell) for cell in row.strip("|").split("|")[1:]] for row in rows])
    for offset, model, answers in (
        (0, "candidate", evidence.candidate_holdout),
        (3, "production", evidence.production_holdout),
    ):
        scores = per_class(evidence.split.holdout_labels, answers, len(evidence.dataset.classes))
        for column, metric in enumerate(("precision", "recall", "f1")):
            assert table[:, offset + column] == pytest.approx(scores[metric], abs=5e-5)
        # The per-class F1 averages to the macro F1 the gate judged by.
        judged = gate.result.candidate if model == "candidate" else gate.result.baseline
        assert np.mean(scores["f1"]) == pytest.approx(judged["macro_f1"], abs=1e-6)
    disagreeing = int(np.sum(evidence.candidate_reference != evidence.production_reference))
    assert f"disagree on {disagreeing} of {len(evidence.reference.labels)} rows" in markdown
    assert f"{evidence.disagreement:.2%}, the share the gate capped" in markdown


def test_the_feature_psi_is_the_drift_checks(compared):
    from lambda_model.reporting.retrain import training_drift

    out, gate = compared
    drift, _ = training_drift(gate.evidence)
    markdown = (out / "report.md").read_text()
    for row in drift.rows:
        assert f"| {row.name} | {row.records} | {row.psi:.3f} | {row.ks:.3f} | {row.level} |" in markdown


def test_without_production_the_report_shows_the_candidate_alone_and_says_so(alone):
    markdown = (alone / "report.md").read_text()
    assert NO_PRODUCTION in markdown
    assert NO_PRODUCTION in (alone / "report.html").read_text()
    assert "production precision" not in markdown
    assert_pictures_shown(alone, RETRAIN_PICTURES - {"features.png"})


def test_gate_report_writes_the_same_report_as_the_verdict(stores, tmp_path, capsys):
    root, candidate = stores
    arguments = ["gate", "--candidate", candidate, "--baseline", str(root), "--min-accuracy", "0.5"]
    code = main(arguments)
    verdict = capsys.readouterr().out
    assert main([*arguments, "--report", str(tmp_path / "r")]) == code
    assert verdict.strip() in (tmp_path / "r" / "report.md").read_text()


def test_drift_report_draws_the_psi_chart_and_the_histograms(model_store, tmp_path):
    from sklearn.datasets import load_iris

    rows = np.tile(load_iris().data, (4, 1))
    data = tmp_path / "live.csv"
    data.write_text(
        "sepal_length,sepal_width,petal_length,petal_width\n"
        + "".join(",".join(f"{value:.1f}" for value in row) + "\n" for row in rows)
    )
    out = tmp_path / "drift"
    assert main(["drift", "--model", str(model_store), "--data", str(data), "--report", str(out)]) == 0
    assert_pictures_shown(out, {"psi.png", "features.png"})
    assert "watch" in (out / "report.md").read_text()


@pytest.mark.parametrize("out", ["file", "s3://bucket/report"])
def test_a_report_folder_that_cannot_be_written_is_one_line_and_exit_2(stores, tmp_path, capsys, out):
    root, candidate = stores
    if out == "file":
        out = str(tmp_path / "a-file")
        Path(out).write_text("")
    assert main(["report", "--candidate", candidate, "--baseline", str(root), "--out", out]) == 2
    error = capsys.readouterr().err
    assert error.startswith(f"error: --out {out}")
    assert error.count("\n") == 1


MATPLOTLIB_AND_ITS_DEPENDENCIES = {
    "matplotlib",
    "contourpy",
    "cycler",
    "fonttools",
    "kiwisolver",
    "pillow",
    "pyparsing",
}


def pins(path: Path) -> set[str]:
    return set(re.findall(r"^([A-Za-z0-9_.-]+)==", path.read_text(), flags=re.MULTILINE))


def test_matplotlib_is_for_training_only_and_the_serving_image_does_not_get_it():
    assert pins(REPO_ROOT / "app" / "requirements-train.txt") >= MATPLOTLIB_AND_ITS_DEPENDENCIES
    assert pins(REPO_ROOT / "app" / "requirements.txt").isdisjoint(MATPLOTLIB_AND_ITS_DEPENDENCIES)
    assert "matplotlib" not in (REPO_ROOT / "requirements" / "serving.in").read_text()
    # The serving image copies the registry and serving packages only; neither may reach the reports.
    for folder in ("registry", "serving"):
        for module in (REPO_ROOT / "app" / "lambda_model" / folder).glob("*.py"):
            text = module.read_text()
            assert "reporting" not in text, module
            assert "matplotlib" not in text, module


def test_a_production_of_another_signature_is_named_and_the_candidate_shown_alone(
    stores, cancer_store, cancer_csv, tmp_path
):
    root, _ = stores
    candidate = str(LocalStore(cancer_store).fetch_current())
    out = tmp_path / "changed"
    arguments = ["report", "--candidate", candidate, "--baseline", str(root), "--data", str(cancer_csv)]
    assert main([*arguments, "--out", str(out)]) == 0
    markdown = (out / "report.md").read_text()
    assert "has another signature" in markdown
    assert "The API changed: not allowed" in markdown
    assert "Not compared: the signatures differ." in markdown
    assert "production precision" not in markdown
    assert_pictures_shown(out, RETRAIN_PICTURES - {"features.png"})


def test_a_summary_too_large_for_github_points_at_the_page(compared, monkeypatch, tmp_path):
    from lambda_model.reporting import document
    from lambda_model.reporting.retrain import write_report

    _, gate = compared
    monkeypatch.setattr(document, "SUMMARY_LIMIT", 100)
    written = write_report(gate, tmp_path)
    assert "too large for a job summary" in written.summary.read_text()
    assert gate.markdown in written.markdown.read_text()
