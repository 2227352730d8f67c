"""Turn raw runs into figures, ratios and the PASS/MISS verdict of every target, as a markdown table."""

from __future__ import annotations

import statistics
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import cost

BASELINE, IMAGE, S3, FLOOR = "baseline", "ours_image", "ours_s3", "floor"
TITLES = {
    BASELINE: "baseline (seed-style)",
    IMAGE: "ours, model in image",
    S3: "ours, model on S3",
    FLOOR: "floor: import json, numpy, onnxruntime",
}
MIB = 1024 * 1024


def percentile(values: list[float], fraction: float) -> float:
    """Nearest-rank percentile: with 2,000 samples p99 is the 1,980th smallest, a real observation."""
    ordered = sorted(values)
    rank = max(1, round(fraction * len(ordered) + 0.5 - 1e-9))
    return ordered[min(rank, len(ordered)) - 1]


def summarise(raw: dict[str, Any]) -> dict[str, Any]:
    """Median and range of cold starts; per-round warm percentiles, then their median over rounds."""
    cold = {
        name: {"median_s": statistics.median(runs), "min_s": min(runs), "max_s": max(runs), "runs": len(runs)}
        for name, runs in raw["cold_seconds"].items()
    }
    warm = {}
    for name, rounds in raw["warm_rounds"].items():
        warm[name] = {
            "p50_s": statistics.median(percentile(r["latencies_s"], 0.50) for r in rounds),
            "p99_s": statistics.median(percentile(r["latencies_s"], 0.99) for r in rounds),
            "p99_range_s": [
                min(percentile(r["latencies_s"], 0.99) for r in rounds),
                max(percentile(r["latencies_s"], 0.99) for r in rounds),
            ],
            "requests_per_round": len(rounds[0]["latencies_s"]),
            "rounds": len(rounds),
        }
    peak_rss = {name: statistics.median(values) * 1024 for name, values in raw["peak_rss_kib"].items()}
    return {"cold": cold, "warm": warm, "peak_rss_bytes": peak_rss, "dependency_bytes": raw["dependency_bytes"]}


@dataclass(frozen=True)
class Target:
    title: str
    required: str
    measured: float  # a ratio: "x faster" or a fraction of the baseline
    passed: bool
    shortfall: str  # empty when passed


def _faster(title: str, slow: float, fast: float, at_least: float) -> Target:
    ratio = slow / fast
    shortfall = "" if ratio >= at_least else f"{ratio:.1f}x instead of {at_least:g}x ({1 - ratio / at_least:.0%} short)"
    return Target(title, f"≥ {at_least:g}x faster", ratio, ratio >= at_least, shortfall)


def _at_most(title: str, ours: float, reference: float, fraction: float, unit: str) -> Target:
    ratio = ours / reference
    shortfall = "" if ratio <= fraction else f"{ratio:.2f}{unit} instead of ≤ {fraction:g}{unit}"
    return Target(title, f"≤ {fraction:g}{unit}", ratio, ratio <= fraction, shortfall)


def evaluate(summary: dict[str, Any]) -> list[Target]:
    cold = {name: figures["median_s"] for name, figures in summary["cold"].items()}
    warm_p99 = {name: figures["p99_s"] for name, figures in summary["warm"].items()}
    rss = summary["peak_rss_bytes"]
    deps = summary["dependency_bytes"]
    return [
        _faster("cold start, model in image vs baseline", cold[BASELINE], cold[IMAGE], 8),
        _at_most("cold start, model in image vs floor", cold[IMAGE], cold[FLOOR], 1.25, "x the floor"),
        _faster("cold start, model on S3 vs baseline", cold[BASELINE], cold[S3], 3),
        _faster("warm p99 vs baseline", warm_p99[BASELINE], warm_p99[IMAGE], 20),
        _at_most("peak RSS vs baseline", rss[IMAGE], rss[BASELINE], 0.5, "x the baseline"),
        _at_most("serving dependencies vs baseline", deps[IMAGE], deps[BASELINE], 0.4, "x the baseline"),
    ]


def duration(seconds: float) -> str:
    if seconds >= 1:
        return f"{seconds:.2f} s"
    if seconds >= 1e-3:
        return f"{seconds * 1e3:.0f} ms" if seconds >= 0.1 else f"{seconds * 1e3:.2f} ms"
    return f"{seconds * 1e6:.0f} µs"


def _row(title: str, cell: Callable[[str], str], names: list[str]) -> str:
    return "| " + " | ".join([title, *(cell(name) for name in names)]) + " |"


def figures_table(summary: dict[str, Any]) -> str:
    names = [BASELINE, IMAGE, S3, FLOOR]
    cold, warm = summary["cold"], summary["warm"]

    def cold_cell(name: str) -> str:
        figures = cold[name]
        return f"{duration(figures['median_s'])} [{duration(figures['min_s'])} to {duration(figures['max_s'])}]"

    def warm_cell(key: str) -> Callable[[str], str]:
        return lambda name: duration(warm[name][key]) if name in warm else "-"

    def megabytes(figures: dict[str, float]) -> Callable[[str], str]:
        return lambda name: f"{figures[name] / MIB:.0f} MiB" if name in figures else "-"

    runs = next(iter(cold.values()))["runs"]
    requests = next(iter(warm.values()))["requests_per_round"]
    rounds = next(iter(warm.values()))["rounds"]
    lines = [
        _row("", lambda name: TITLES[name], names),
        "|" + " --- |" * (len(names) + 1),
        _row(f"cold start, median [range] of {runs}", cold_cell, names),
        _row(f"warm p50 ({requests} requests, median of {rounds} rounds)", warm_cell("p50_s"), names),
        _row(f"warm p99 ({requests} requests, median of {rounds} rounds)", warm_cell("p99_s"), names),
        _row("peak RSS", megabytes(summary["peak_rss_bytes"]), names),
        _row("serving dependencies on disk", megabytes(summary["dependency_bytes"]), names),
    ]
    return "\n".join(lines)


def targets_table(targets: list[Target]) -> str:
    lines = ["| target | required | measured | result |", "| --- | --- | --- | --- |"]
    for target in targets:
        measured = f"{target.measured:.1f}x faster" if "faster" in target.required else f"{target.measured:.2f}x"
        verdict = "PASS" if target.passed else f"MISS: {target.shortfall}"
        lines.append(f"| {target.title} | {target.required} | {measured} | {verdict} |")
    return "\n".join(lines)


def _megabytes(count: float) -> str:
    return f"{count / MIB:.0f} MiB"


def explain_misses(targets: list[Target], summary: dict[str, Any], raw: dict[str, Any]) -> list[str]:
    """For each missed target: by how much, and where the time or the bytes go."""
    inside = raw["cold_inside_process"]
    cold = summary["cold"]

    def startup(name: str) -> str:
        floor_part = inside[name]["preload_s"]
        return (
            f"{TITLES[name]}, inside the process: "
            + (f"json + numpy + onnxruntime {duration(floor_part)}, then " if floor_part > 1e-3 else "")
            + f"the handler's import and model load {duration(inside[name]['import_s'])}, "
            + f"first answer {duration(inside[name]['first_answer_s'])}"
        )

    reasons = {
        "cold start, model in image vs baseline": (
            f"importing json, numpy and onnxruntime and nothing else (the floor) is only "
            f"{cold[BASELINE]['median_s'] / cold[FLOOR]['median_s']:.1f}x faster than the baseline in this run, "
            f"so 8x leaves {duration(cold[BASELINE]['median_s'] / 8 - cold[FLOOR]['median_s'])} for everything "
            f"else; " + startup(BASELINE) + "; " + startup(IMAGE)
        ),
        "cold start, model in image vs floor": (
            f"ours needs {duration(cold[IMAGE]['median_s'] - cold[FLOOR]['median_s'])} more than the floor; "
            + startup(IMAGE)
        ),
        "cold start, model on S3 vs baseline": startup(S3)
        + " (boto3 is imported and a client created before the model is downloaded)",
        "warm p99 vs baseline": "the tail of a warm call is noise of this shared machine (scheduling, GC); "
        "compare the p50 row",
        "peak RSS vs baseline": f"ours peaks at {_megabytes(summary['peak_rss_bytes'][IMAGE])}, of which the floor "
        f"(numpy and onnxruntime's native libraries) is {_megabytes(summary['peak_rss_bytes'][FLOOR])}",
        "serving dependencies vs baseline": "largest installed packages on our side: "
        + ", ".join(f"{name} {_megabytes(size)}" for name, size in raw["largest_dependencies"].items()),
    }
    return [
        f"{target.title}: MISS by {target.shortfall}. Why: {reasons[target.title]}."
        for target in targets
        if not target.passed
    ]


def render(
    summary: dict[str, Any], targets: list[Target], notes: list[str], raw: dict[str, Any], machine: dict, arguments: Any
) -> str:
    blanks = f", OPENBLAS_CORETYPE={machine['OPENBLAS_CORETYPE']}" if machine["OPENBLAS_CORETYPE"] else ""
    lines = [
        f"Measured with `make bench` (Python {machine['python']}, {machine['cpus']} CPUs{blanks}); "
        f"each side runs `python -S` from its own `pip install --target` folder.",
        "",
        figures_table(summary),
        "",
        targets_table(targets),
        "",
        f"Both sides named the same class for {raw['label_agreement']:.1%} of the warm requests.",
        "",
        f"What a million single-record predictions cost ({TITLES[IMAGE]}, warm):",
        "",
        cost.cost_table(raw, IMAGE),
    ]
    if notes:
        lines += ["", *(f"- {note}" for note in notes)]
    return "\n".join(lines)
