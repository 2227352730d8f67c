"""The drift check's report: PSI per feature against the watch and act levels, and each feature's live
shares against the baseline's, drawn from the DriftReport that judged them (its own counts per bin)."""

from __future__ import annotations

from pathlib import Path

from lambda_model.monitoring.drift import DriftReport
from lambda_model.registry.loaded_model import LoadedModel
from lambda_model.reporting import document, figures
from lambda_model.reporting.document import Section

PICTURES = ("psi.png", "features.png")


def psi_body(drift: DriftReport, title: str) -> str:
    """The drift table (without its heading: the section has one) and the same PSI as a Mermaid chart."""
    table = drift.markdown(title).split("\n", 2)[2]
    levels = f"watch {drift.thresholds.psi_watch:g}, act {drift.thresholds.psi_act:g}"
    return f"**{title}**\n\n{table}\n" + document.mermaid_bars(
        f"PSI per feature ({levels})",
        [row.name for row in drift.rows],
        "PSI",
        max(drift.thresholds.psi_act * 1.2, *(row.psi for row in drift.rows)),
        [[row.psi for row in drift.rows]],
    )


def write_report(drift: DriftReport, model: LoadedModel, source: str, folder: Path) -> document.Written:
    if model.baseline is None:  # drift_of_csv refuses such a model before a report is asked for
        raise ValueError(f"model {model.version} has no baseline to draw")
    document.clear(folder, PICTURES)
    psi_picture = figures.psi_chart(folder / "psi.png", drift, f"PSI per feature: {source} against the baseline")
    body = psi_body(drift, f"`{source}` against model {model.version}'s baseline")
    histograms = figures.distributions(
        folder / "features.png",
        model.baseline,
        drift,
        ("baseline (training data)", "live inputs"),
        figures.unit_of(model.signature),
        "Share of rows per bin of the model's baseline",
    )
    sections = [
        Section(f"Drift: {drift.verdict()}", body, psi_picture, "PSI per feature with the watch and act levels"),
        Section("Live inputs against the baseline", "Each feature's bins are the baseline's own.", histograms),
    ]
    return document.write(folder, f"Drift report: model {model.version}", sections)
