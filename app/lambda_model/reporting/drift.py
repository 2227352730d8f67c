"""The drift check's and the monitor's reports: PSI per feature against the watch and act levels, and each
feature's live shares against the baseline's, drawn from the DriftReport that judged them (its own counts
per bin). `drift --report` draws one CSV's report; `monitor --report` one per window, on one page."""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

from lambda_model.monitoring.drift import DriftReport
from lambda_model.monitoring.live import MonitorReport
from lambda_model.registry.baseline import Baseline
from lambda_model.registry.signature import Signature
from lambda_model.reporting import document, figures
from lambda_model.reporting.document import Section

PICTURES = ("psi*.png", "features*.png")


def psi_body(drift: DriftReport, title: str) -> str:
    """The drift table (without its heading: the section has one) and the same PSI as a Mermaid chart."""
    table = drift.markdown(title).split("\n", 2)[2]
    levels = f"watch {drift.thresholds.psi_watch:g}, act {drift.thresholds.psi_act:g}"
    judged = [row for row in drift.rows if not math.isnan(row.psi)]  # a feature with no values has no PSI
    if not judged:
        return f"**{title}**\n\n{table}"
    return f"**{title}**\n\n{table}\n" + document.mermaid_bars(
        f"PSI per feature ({levels})",
        [row.name for row in judged],
        "PSI",
        max(drift.thresholds.psi_act * 1.2, *(row.psi for row in judged)),
        [[row.psi for row in judged]],
    )


def sections_of(
    drift: DriftReport, signature: Signature, baseline: Baseline, source: str, folder: Path, suffix: str = ""
) -> list[Section]:
    """The PSI chart and the histograms of one judgement; `suffix` tells one window's pictures from another's."""
    psi_picture = figures.psi_chart(folder / f"psi{suffix}.png", drift, f"PSI per feature: {source}")
    histograms = figures.distributions(
        folder / f"features{suffix}.png",
        baseline,
        drift,
        ("baseline (training data)", "live inputs"),
        figures.unit_of(signature),
        f"Share of rows per bin of the model's baseline: {source}",
    )
    return [
        Section(f"{source}: {drift.verdict()}", psi_body(drift, source), psi_picture, f"PSI per feature, {source}"),
        Section(f"{source}: inputs against the baseline", "Each feature's bins are the baseline's own.", histograms),
    ]


def write_report(
    drift: DriftReport, version: str, signature: Signature, baseline: Baseline, source: str, folder: Path
) -> document.Written:
    document.clear(folder, PICTURES)
    sections = sections_of(drift, signature, baseline, f"{source} against model {version}'s baseline", folder)
    return document.write(folder, f"Drift report: model {version}", sections)


def write_monitor_report(report: MonitorReport, folder: Path) -> document.Written:
    document.clear(folder, PICTURES)
    model = report.model
    sections: Sequence[Section] = [
        section
        for window in report.windows
        for section in sections_of(
            window.drift,
            model.signature,
            model.baseline,
            f"last {window.window.label}",
            folder,
            f"-{window.window.label}",
        )
    ]
    return document.write(folder, f"Model monitor: model {model.version}: {report.verdict()}", sections)
