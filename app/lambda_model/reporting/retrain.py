"""The retrain report: the candidate against production, drawn from the gate's own evidence.

Every number comes from the GateReport's Evidence: the hold-out answers of the two refitted recipes, the
shipped artifacts' answers on the frozen reference set, and the disagreement share the gate capped.
Per-class scores and confusion matrices are tallies of those same answers (their macro F1 is the gate's),
and the feature PSI is the drift check's judge() on production's baseline, so nothing here is a second
training, a second scoring or a second PSI.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from sklearn.metrics import confusion_matrix, precision_recall_fscore_support

from lambda_model.monitoring.drift import DriftReport, Thresholds, bin_counts, judge
from lambda_model.registry.baseline import Baseline
from lambda_model.reporting import document, figures
from lambda_model.reporting.document import Section
from lambda_model.reporting.drift import psi_body
from lambda_model.training.gate import Answers, Evidence, GateReport

PICTURES = ("confusion.png", "per_class.png", "features.png", "confidence.png", "disagreement.png")
NO_PRODUCTION = "No production model yet: this report shows the candidate alone."


def per_class(labels: np.ndarray, answers: Answers, classes: int) -> dict[str, np.ndarray]:
    precision, recall, f1, _ = precision_recall_fscore_support(
        labels, answers.labels, labels=range(classes), zero_division=0
    )
    return {"precision": precision, "recall": recall, "f1": f1}


def separating_features(features: np.ndarray, labels: np.ndarray) -> tuple[int, int]:
    """The two columns whose class means lie furthest apart for their spread (Fisher's ratio), best first."""
    means = np.array([np.nanmean(features[labels == k], axis=0) for k in np.unique(labels)])
    spread = np.array([np.nanvar(features[labels == k], axis=0) for k in np.unique(labels)]).mean(axis=0)
    ratio = means.var(axis=0) / np.maximum(spread, 1e-12)
    first, second = np.argsort(-ratio)[:2]
    return int(first), int(second)


def training_drift(evidence: Evidence) -> tuple[DriftReport, Baseline] | None:
    """The candidate's training data judged against production's baseline, as the drift check judges inputs."""
    production = evidence.production
    if production is None or evidence.production_holdout is None or production.model.baseline is None:
        return None
    baseline = production.model.baseline
    class_counts = np.bincount(evidence.dataset.labels, minlength=len(evidence.dataset.classes)).tolist()
    return judge(baseline, bin_counts(baseline, evidence.dataset.features), class_counts, Thresholds()), baseline


def write_report(gate: GateReport, folder: Path) -> document.Written:
    evidence = gate.evidence
    if evidence is None:
        raise ValueError("the gate report carries no evidence to draw")
    document.clear(folder, PICTURES)
    classes = evidence.dataset.classes
    holdout = evidence.split.holdout_labels
    compared = evidence.production is not None and evidence.production_holdout is not None
    models: list[tuple[str, str, Answers]] = [("candidate", figures.CANDIDATE, evidence.candidate_holdout)]
    if compared:
        models.append(("production", figures.PRODUCTION, evidence.production_holdout))

    candidate_name = evidence.candidate.version
    if evidence.production is None:
        title = f"Retrain report: candidate {candidate_name}"
        intro = NO_PRODUCTION
    elif not compared:
        title = f"Retrain report: candidate {candidate_name} (production {evidence.production.version})"
        intro = (
            f"Production ({evidence.production.version}) has another signature: {'; '.join(gate.signature_changes)}. "
            "The two models take different inputs, so this report shows the candidate alone."
        )
    else:
        title = f"Retrain report: candidate {candidate_name} against production {evidence.production.version}"
        intro = f"Both recipes were refitted on the same {len(evidence.split.train_labels)} rows by the gate."

    sections = [Section("The gate", f"{intro}\n\n{gate.markdown}")]
    sections.append(_confusion(folder, classes, holdout, models))
    sections.append(_per_class(folder, classes, holdout, models))
    sections.append(_training_data(folder, evidence, compared))
    sections.append(_confidence(folder, models))
    sections.append(_disagreement(folder, evidence, classes, compared))
    return document.write(folder, title, sections)


def _confusion(folder: Path, classes: tuple[str, ...], holdout: np.ndarray, models: list) -> Section:
    matrices = [
        (name, confusion_matrix(holdout, answers.labels, labels=range(len(classes)))) for name, _, answers in models
    ]
    picture = figures.confusion_matrices(folder / "confusion.png", classes, matrices)
    return Section(
        "Confusion on the hold-out",
        f"The gate's {len(holdout)} hold-out rows: each row counts once, under its true class and the predicted one.",
        picture,
        "Confusion matrices on the hold-out",
    )


def _per_class(folder: Path, classes: tuple[str, ...], holdout: np.ndarray, models: list) -> Section:
    scores = [(name, colour, per_class(holdout, answers, len(classes))) for name, colour, answers in models]
    header = "| class | " + " | ".join(
        f"{name} {metric}" for name, _, _ in scores for metric in ("precision", "recall", "F1")
    )
    rows = [header + " |", "|" + " --- |" * (1 + 3 * len(scores))]
    for index, name in enumerate(classes):
        cells = [f"{values[metric][index]:.4f}" for _, _, values in scores for metric in ("precision", "recall", "f1")]
        rows.append(f"| {name} | " + " | ".join(cells) + " |")
    macro = ", ".join(f"{name} {np.mean(values['f1']):.4f}" for name, _, values in scores)
    body = "\n".join(rows) + (
        f"\n\nThe F1 columns average to the gate's macro F1 ({macro}).\n\n"
        + document.mermaid_bars(
            "F1 per class (bars: candidate, line: production)" if len(scores) > 1 else "F1 per class (candidate)",
            classes,
            "F1",
            1,
            [values["f1"] for _, _, values in scores],
        )
    )
    picture = figures.per_class_scores(folder / "per_class.png", classes, scores)
    return Section("Precision, recall and F1 per class", body, picture, "Per-class precision, recall and F1")


def _training_data(folder: Path, evidence: Evidence, compared: bool) -> Section:
    heading = "The candidate's training data against production's"
    judged = training_drift(evidence) if compared else None
    if judged is None:
        reason = (
            NO_PRODUCTION
            if evidence.production is None
            else "Not compared: "
            + (
                "production's model has no baseline (trained before baselines)."
                if compared
                else "the signatures differ."
            )
        )
        return Section(heading, reason)
    drift, baseline = judged
    body = psi_body(drift, f"Training data `{evidence.dataset.source}` against production's baseline")
    if not drift.judged:
        body += (
            "\n\nAs a drift verdict this would not count ("
            + "; ".join(drift.problems)
            + "); the PSI is shown as a measure."
        )
    picture = figures.distributions(
        folder / "features.png",
        baseline,
        drift,
        ("production's training data", "candidate's training data"),
        figures.unit_of(evidence.candidate.signature),
        "Share of training rows per bin of production's baseline",
    )
    return Section(heading, body, picture, "Per-feature distributions and PSI")


def _confidence(folder: Path, models: list) -> Section:
    confidences = [(name, colour, answers.probabilities.max(axis=1)) for name, colour, answers in models]
    rows = ["| model | lowest | median | share under 90 % |", "| --- | --- | --- | --- |"]
    rows += [
        f"| {name} | {values.min():.2%} | {np.median(values):.2%} | {np.mean(values < 0.9):.2%} |"
        for name, _, values in confidences
    ]
    picture = figures.confidence_histograms(folder / "confidence.png", confidences)
    return Section("Confidence on the hold-out", "\n".join(rows), picture, "Hold-out confidence histograms")


def _disagreement(folder: Path, evidence: Evidence, classes: tuple[str, ...], compared: bool) -> Section:
    if compared and evidence.reference is not None:
        rows, labels = evidence.reference.features, evidence.reference.labels
        marked = evidence.candidate_reference != evidence.production_reference
        body = (
            f"The models disagree on {int(marked.sum())} of {len(labels)} rows of the frozen reference set "
            f"`{evidence.reference_file}`: "
            f"{evidence.disagreement:.2%}, the share the gate capped."
        )
        marked_label = "candidate and production differ"
    else:
        # No second model to disagree with: the candidate's own mistakes on the hold-out are what to look at.
        rows, labels = evidence.split.holdout_features, evidence.split.holdout_labels
        marked = evidence.candidate_holdout.labels != labels
        alone = NO_PRODUCTION if evidence.production is None else "No comparison."
        body = f"{alone} Ringed: the candidate's mistakes on the hold-out."
        marked_label = "candidate wrong"
    first, second = separating_features(rows, labels)
    names = evidence.dataset.feature_names
    unit = figures.unit_of(evidence.candidate.signature)
    picture = figures.disagreement_scatter(
        folder / "disagreement.png",
        rows[:, [first, second]],
        labels,
        marked,
        (f"{names[first]} ({unit})", f"{names[second]} ({unit})"),
        classes,
        f"{'Frozen reference set' if compared else 'Hold-out'}: the two features that separate the classes best",
        marked_label,
    )
    return Section("Where the models disagree", body, picture, "Disagreements on the two best-separating features")
