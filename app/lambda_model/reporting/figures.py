"""The report's pictures: small fixed-size PNGs drawn with matplotlib's Agg backend (no display needed).

Every figure has a fixed size in inches at DPI, never a "tight" bounding box: the tests then know each
picture's pixel size, and GitHub shows them all at the same scale. Colours are Okabe-Ito, which stay
distinct with every common colour-vision deficiency.
"""

from __future__ import annotations

import math
import textwrap
from collections.abc import Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # before pyplot: a CI runner has no display

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.figure import Figure
from matplotlib.patches import Patch

from lambda_model.monitoring.drift import DriftReport
from lambda_model.registry.baseline import Baseline
from lambda_model.registry.signature import Signature
from lambda_model.training.data import load_dataset

DPI = 100
# What fits one line of a 12-point title across a 9-inch figure.
TITLE_CHARACTERS = 90
WIDE = (9.0, 3.6)
"""Inches of a one-row figure: 900 x 360 pixels, readable at the width GitHub shows an image."""
PANEL_HEIGHT = 2.6
"""Inches per row of per-feature panels (two panels a row)."""

METRIC_NAMES = {"precision": "Precision", "recall": "Recall", "f1": "F1"}
CLASS_MARKERS = ("o", "s", "^", "D", "v", "P", "X", "*")
"""Each class has a shape as well as a colour, so the scatter reads without colour at all."""
CANDIDATE = "#0072B2"  # Okabe-Ito blue
PRODUCTION = "#E69F00"  # orange
CLASS_COLOURS = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442", "#000000")
WATCH = "#E69F00"
ACT = "#D55E00"  # vermillion


def unit_of(signature: Signature) -> str:
    """The features' unit for axis labels: iris is measured in cm; another CSV's unit is not in the data."""
    return "cm" if signature.fingerprint == load_dataset(None).signature().fingerprint else "the data's unit"


def panel_rows(features: int) -> int:
    return math.ceil(features / 2)


def size_of_features_figure(features: int) -> tuple[float, float]:
    return (WIDE[0], PANEL_HEIGHT * panel_rows(features))


def pixels(size: tuple[float, float]) -> tuple[int, int]:
    """(width, height) in pixels of a figure of `size` inches."""
    return round(size[0] * DPI), round(size[1] * DPI)


def _save(figure: Figure, path: Path) -> Path:
    figure.savefig(path, dpi=DPI, format="png")
    plt.close(figure)
    return path


def _class_colour(index: int) -> str:
    return CLASS_COLOURS[index % len(CLASS_COLOURS)]


def confusion_matrices(path: Path, classes: Sequence[str], matrices: Sequence[tuple[str, np.ndarray]]) -> Path:
    """One panel per (model name, matrix): rows are the true class, columns the predicted one, rows counted."""
    figure, axes = plt.subplots(1, len(matrices), figsize=WIDE, squeeze=False, layout="constrained")
    for axis, (name, matrix) in zip(axes[0], matrices, strict=True):
        axis.imshow(matrix, cmap="Blues", vmin=0, vmax=max(int(matrix.max()), 1))
        for (row, column), count in np.ndenumerate(matrix):
            dark = count > matrix.max() / 2
            axis.text(column, row, str(count), ha="center", va="center", color="white" if dark else "black")
        axis.set_title(f"{name}: hold-out rows by class")
        axis.set_xticks(range(len(classes)), classes)
        axis.set_yticks(range(len(classes)), classes)
        axis.set_xlabel("predicted class")
        axis.set_ylabel("true class")
    return _save(figure, path)


def per_class_scores(
    path: Path, classes: Sequence[str], scores: Sequence[tuple[str, str, dict[str, np.ndarray]]]
) -> Path:
    """Precision, recall and F1 per class, one bar per model: scores are (model name, colour, {metric: per class})."""
    metrics = ("precision", "recall", "f1")
    figure, axes = plt.subplots(1, len(metrics), figsize=WIDE, sharey=True, layout="constrained")
    width = 0.8 / len(scores)
    positions = np.arange(len(classes))
    for axis, metric in zip(axes, metrics, strict=True):
        for offset, (name, colour, values) in enumerate(scores):
            axis.bar(
                positions + (offset - (len(scores) - 1) / 2) * width, values[metric], width, label=name, color=colour
            )
        axis.set_title(f"{METRIC_NAMES[metric]} per class (hold-out)")
        axis.set_xticks(positions, classes)
        axis.set_xlabel("class")
        axis.set_ylim(0, 1.05)
    axes[0].set_ylabel("score (0 to 1)")
    if len(scores) > 1:  # outside the panels: a legend inside would hide the bars it names
        figure.legend(*axes[0].get_legend_handles_labels(), loc="outside lower center", ncols=len(scores))
    return _save(figure, path)


def confidence_histograms(path: Path, confidences: Sequence[tuple[str, str, np.ndarray]]) -> Path:
    """The top-class probability of each hold-out row, one outlined histogram per (model name, colour, values)."""
    figure, axis = plt.subplots(figsize=WIDE, layout="constrained")
    # From the lowest answer rounded down to 5 %: healthy models answer near 100 %, and a fixed 0-100 % axis
    # would squash them into one bar.
    lowest = math.floor(min(float(values.min()) for _, _, values in confidences) * 20) / 20
    bins = np.linspace(min(lowest, 0.95), 1, 21)
    # Dashed after the first: two models that answer alike draw the same outline, and one would hide the other.
    for index, (name, colour, values) in enumerate(confidences):
        style = "solid" if index == 0 else "dashed"
        axis.hist(values * 100, bins * 100, histtype="step", linewidth=2, linestyle=style, label=name, color=colour)
    axis.set_title("Confidence on the hold-out: the probability each model gave its answer")
    axis.set_xlabel("top-class probability (%)")
    axis.set_ylabel("hold-out rows")
    axis.legend(loc="upper left")
    return _save(figure, path)


def disagreement_scatter(
    path: Path,
    features: np.ndarray,
    labels: np.ndarray,
    marked: np.ndarray,
    axes_names: tuple[str, str],
    classes: Sequence[str],
    title: str,
    marked_label: str,
) -> Path:
    """Rows of two feature columns coloured by true class; `marked` rows ringed (where the models differ)."""
    figure, axis = plt.subplots(figsize=WIDE, layout="constrained")
    for index, name in enumerate(classes):
        rows = labels == index
        marker = CLASS_MARKERS[index % len(CLASS_MARKERS)]
        axis.scatter(features[rows, 0], features[rows, 1], s=24, color=_class_colour(index), marker=marker, label=name)
    axis.scatter(
        features[marked, 0],
        features[marked, 1],
        s=140,
        facecolors="none",
        edgecolors="black",
        linewidths=1.6,
        label=f"{marked_label} ({int(marked.sum())})",
    )
    axis.set_title(title)
    axis.set_xlabel(axes_names[0])
    axis.set_ylabel(axes_names[1])
    axis.legend(loc="center left", bbox_to_anchor=(1.01, 0.5), title="true class")
    return _save(figure, path)


def psi_chart(path: Path, drift: DriftReport, title: str) -> Path:
    """PSI per feature as bars, with the watch and act levels as lines."""
    rows = [row for row in drift.rows if not math.isnan(row.psi)]
    figure, axis = plt.subplots(figsize=WIDE, layout="constrained")
    names = [row.name for row in rows]
    values = [row.psi for row in rows]
    level_colours = {"stable": CANDIDATE, "watch": WATCH, "drift": ACT}
    axis.barh(names, values, color=[level_colours.get(row.level, CANDIDATE) for row in rows])
    axis.axvline(
        drift.thresholds.psi_watch, color=WATCH, linestyle="--", label=f"watch ({drift.thresholds.psi_watch:g})"
    )
    axis.axvline(drift.thresholds.psi_act, color=ACT, linestyle="-", label=f"act ({drift.thresholds.psi_act:g})")
    axis.set_xlim(0, max([drift.thresholds.psi_act * 1.5, *values]) * 1.05)
    axis.invert_yaxis()  # the features in the table's order, top to bottom
    axis.set_title(title)
    axis.set_xlabel("PSI (population stability index, unitless)")
    # The bars' colours say the reading too, for whoever does not compare each bar with the lines.
    readings = [Patch(color=colour, label=level) for level, colour in level_colours.items()]
    handles = [*axis.get_legend_handles_labels()[0], *readings]
    axis.legend(handles=handles, loc="center left", bbox_to_anchor=(1.01, 0.5), title="levels, readings")
    return _save(figure, path)


def distributions(
    path: Path, baseline: Baseline, drift: DriftReport, names: tuple[str, str], unit: str, title: str
) -> Path:
    """Per feature, the baseline's share per bin against the judged counts' share, on the baseline's bins.

    names: (what the baseline describes, what the counts are). The bins are the baseline's own, so the bars
    are exactly what the PSI compared.
    """
    psi_of = {row.name: row for row in drift.rows}
    size = size_of_features_figure(len(baseline.features))
    figure, axes = plt.subplots(
        panel_rows(len(baseline.features)), 2, figsize=size, squeeze=False, layout="constrained"
    )
    for axis, feature in zip(axes.flat, baseline.features, strict=False):
        counts = np.asarray(drift.feature_counts[feature.name], dtype=float)
        positions = np.arange(len(feature.shares))
        axis.bar(positions - 0.2, np.asarray(feature.shares) * 100, 0.4, color=PRODUCTION, label=names[0])
        axis.bar(positions + 0.2, counts / max(counts.sum(), 1) * 100, 0.4, color=CANDIDATE, label=names[1])
        # Bins are labelled by their upper edge ("< 5.05"); the last bin is open above.
        ticks = [f"<{edge:g}" for edge in feature.edges] + [f"≥{feature.edges[-1]:g}" if feature.edges else "all"]
        axis.set_xticks(positions, ticks, rotation=45, fontsize=7)
        row = psi_of.get(feature.name)
        axis.set_title(f"{feature.name}: PSI {row.psi:.3f} ({row.level})" if row else feature.name, fontsize=10)
        axis.set_xlabel(f"{feature.name} bin ({unit})", fontsize=8)
        axis.set_ylabel("rows (%)", fontsize=8)
    for axis in axes.flat[len(baseline.features) :]:
        axis.set_visible(False)
    # The title and legend in one block at the top (a suptitle beside an outside legend overlaps it): on wide
    # data the figure is tall, and a legend at the bottom would be out of sight.
    handles, labels = axes.flat[0].get_legend_handles_labels()
    # Wrapped: the title names the data and the model version, which can be wider than the figure.
    wrapped = textwrap.fill(title, TITLE_CHARACTERS)
    figure.legend(handles, labels, loc="outside upper center", ncols=2, title=wrapped, title_fontsize=12, frameon=False)
    return _save(figure, path)
