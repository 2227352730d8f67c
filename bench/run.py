"""`make bench`: the seed-style baseline and our serving path side by side, in one run.

Both sides run from their own `pip install --target` folder in `python -S`, with only that folder
on the path. S3 is a local moto server. This machine is noisy, so runs are interleaved (each round
runs every side once, in a rotating order) and figures are medians, ranges and ratios.

    .venv/bin/python bench/run.py [--rounds 10] [--requests 2000] [--warm-up 200] [--warm-rounds 3]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import statistics
import subprocess
import sys
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

# tests.support (moto and the image stand-in); the package itself is installed in the virtualenv.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import boto3
import installs
import measure
import report
from installs import BASELINE_DIR, WORK_DIR
from measure import Variant

from lambda_model.registry.store import resolve_model
from lambda_model.training.train import train
from tests.conftest import load_event
from tests.support import servers

RESULTS_DIR = installs.BENCH_DIR / "results"
LOG_DIR = WORK_DIR / "logs"
SEED_RECORD = {"sepal_length": 5.9, "sepal_width": 3, "petal_length": 5.1, "petal_width": 1.8}
SEED_LABEL = "virginica"
# Where iris measurements fall (cm); requests are drawn a little wider, with one value in ten null.
FEATURE_RANGES = {
    "sepal_length": (4.0, 8.2),
    "sepal_width": (1.8, 4.6),
    "petal_length": (0.8, 7.2),
    "petal_width": (0.0, 2.7),
}
NULL_SHARE = 0.1
FLOOR_MODULES = "json,numpy,onnxruntime"
EVENT_TEMPLATES = ("rest_api_predict.json", "http_api_predict.json", "direct_invoke.json")


def parse_arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=10, help="cold starts per side (default: %(default)s)")
    parser.add_argument("--requests", type=int, default=2000, help="timed warm requests per round")
    parser.add_argument("--warm-up", type=int, default=200, help="untimed requests before the timed ones")
    parser.add_argument("--warm-rounds", type=int, default=3, help="warm processes per side, interleaved")
    return parser.parse_args()


def varied_events(count: int, seed: int = 5) -> list[dict[str, Any]]:
    """REST v1, HTTP API v2 and direct-invoke events in turn; the first is the seed's curl example."""
    generator = random.Random(seed)  # noqa: S311  (reproducible test data, not secrets)
    templates = [load_event(name) for name in EVENT_TEMPLATES]
    events = []
    for index in range(count):
        record = SEED_RECORD if index == 0 else random_record(generator)
        template = templates[index % len(templates)]
        body: Any = record if "httpMethod" not in template and "version" not in template else json.dumps(record)
        events.append({**template, "body": body})
    return events


def random_record(generator: random.Random) -> dict[str, float | None]:
    return {
        name: None if generator.random() < NULL_SHARE else round(generator.uniform(low, high), 1)
        for name, (low, high) in FEATURE_RANGES.items()
    }


def create_bucket(name: str) -> str:
    boto3.client("s3").create_bucket(Bucket=name, CreateBucketConfiguration={"LocationConstraint": "eu-central-1"})
    return name


def train_ours(store_uri: str) -> Path:
    """Train into the S3 store (moto) and fetch the promoted version: the model the image ships."""
    result = train(None, store_uri, report=lambda line: print(f"  ours: {line}", flush=True))
    return resolve_model(result.uri, WORK_DIR / "model-cache")


def train_baseline(variant: Variant) -> None:
    """The seed's way: fit inside the baseline's own install and upload a pickle."""
    scratch = WORK_DIR / "scratch"
    scratch.mkdir(parents=True, exist_ok=True)
    completed = subprocess.run(
        [sys.executable, "-S", str(BASELINE_DIR / "train.py")],
        env=measure.child_environment(variant, scratch),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    if completed.returncode != 0:
        raise RuntimeError(f"baseline training failed:\n{completed.stderr}")
    print("\n".join(f"  baseline: {line}" for line in completed.stdout.splitlines()), flush=True)


def build_variants(baseline_dir: Path, task_root: Any, aws: dict[str, str], bucket: str, store: str) -> list[Variant]:
    return [
        Variant(report.BASELINE, (baseline_dir, BASELINE_DIR), "app.handler", {**aws, "BUCKET_NAME": bucket}),
        Variant(report.IMAGE, (task_root.path,), task_root.handler, dict(task_root.environment), FLOOR_MODULES),
        Variant(
            report.S3,
            # Lambda's sys.path: the task root, then the runtime's own packages (boto3) in /var/runtime.
            (task_root.path, installs.install_runtime_sdk()),
            task_root.handler,
            {**task_root.environment, **aws, "MODEL_URI": store},
            FLOOR_MODULES,
        ),
        Variant(report.FLOOR, (task_root.path,), None),
    ]


def rotated(variants: list[Variant], turn: int) -> list[Variant]:
    """A different side goes first each round, so no side always runs right after the same neighbour."""
    shift = turn % len(variants)
    return variants[shift:] + variants[:shift]


def check_answer(variant: Variant, run: measure.Run) -> None:
    if variant.handler is not None and (run.report["status"] != 200 or run.report["label"] != SEED_LABEL):
        raise RuntimeError(f"{variant.name} answered {run.report} to the seed example, expected {SEED_LABEL}")


def measure_cold_starts(variants: list[Variant], events_file: Path, rounds: int) -> dict[str, list[measure.Run]]:
    for variant in variants:  # one untimed start each: the page cache holds every side's files from here on
        check_answer(variant, measure.spawn(variant, "cold", events_file, LOG_DIR))
    runs: dict[str, list[measure.Run]] = {variant.name: [] for variant in variants}
    for turn in range(rounds):
        for variant in rotated(variants, turn):
            run = measure.spawn(variant, "cold", events_file, LOG_DIR)
            check_answer(variant, run)
            runs[variant.name].append(run)
        print(f"  cold starts: round {turn + 1}/{rounds} done", flush=True)
    return runs


def measure_warm(variants: list[Variant], events_file: Path, rounds: int, warm_up: int) -> dict[str, list[dict]]:
    handlers = [variant for variant in variants if variant.handler is not None]
    results: dict[str, list[dict]] = {variant.name: [] for variant in handlers}
    for turn in range(rounds):
        for variant in rotated(handlers, turn):
            answer = measure.spawn(variant, "warm", events_file, LOG_DIR, warm_up).report
            if answer["statuses"] != [200]:
                raise RuntimeError(f"{variant.name} answered statuses {answer['statuses']} to valid requests")
            results[variant.name].append(answer)
        print(f"  warm requests: round {turn + 1}/{rounds} done", flush=True)
    return results


def label_agreement(warm: dict[str, list[dict]]) -> float:
    """Share of warm requests where the baseline and our service name the same class."""
    ours, theirs = warm[report.IMAGE][0]["labels"], warm[report.BASELINE][0]["labels"]
    return sum(a == b for a, b in zip(ours, theirs, strict=True)) / len(ours)


def collect_raw(cold: dict[str, list[measure.Run]], warm: dict[str, list[dict]], sizes: dict[str, int]) -> dict:
    peak_rss = {name: [round_["peak_rss_kib"] for round_ in rounds] for name, rounds in warm.items()}
    peak_rss[report.FLOOR] = [run.report["peak_rss_kib"] for run in cold[report.FLOOR]]
    return {
        "cold_seconds": {name: [run.seconds for run in runs] for name, runs in cold.items()},
        "cold_inside_process": {
            name: {
                "preload_s": statistics.median(run.report["preload_s"] for run in runs),
                "import_s": statistics.median(run.report["import_s"] for run in runs),
                "first_answer_s": statistics.median(run.report["first_answer_s"] for run in runs),
            }
            for name, runs in cold.items()
            if name != report.FLOOR
        },
        "warm_rounds": {
            name: [
                {"latencies_s": [ns / 1e9 for ns in round_["latencies_ns"]], "log_bytes": round_["log_bytes"]}
                for round_ in rounds
            ]
            for name, rounds in warm.items()
        },
        "peak_rss_kib": peak_rss,
        "dependency_bytes": sizes,
        "label_agreement": label_agreement(warm),
    }


def machine() -> dict[str, Any]:
    return {
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
        "platform": platform.platform(),
        "OPENBLAS_CORETYPE": os.environ.get("OPENBLAS_CORETYPE"),
    }


def write_results(document: dict[str, Any]) -> Path:
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    path = RESULTS_DIR / f"bench-{stamp}.json"
    text = json.dumps(document, indent=2) + "\n"
    path.write_text(text)
    (RESULTS_DIR / "latest.json").write_text(text)
    return path


def run(arguments: argparse.Namespace) -> dict[str, Any]:
    with servers.moto_server() as endpoint:
        aws = servers.aws_env(endpoint)
        os.environ.update(aws)
        suffix = uuid.uuid4().hex[:8]
        baseline_bucket, models_bucket = create_bucket(f"bench-seed-{suffix}"), create_bucket(f"bench-models-{suffix}")
        store = f"s3://{models_bucket}/models"
        print("training both models ...", flush=True)
        task_root = installs.install_ours(train_ours(store))
        variants = build_variants(installs.install_baseline(), task_root, aws, baseline_bucket, store)
        train_baseline(variants[0])
        events = varied_events(arguments.warm_up + arguments.requests)
        events_file, first_event_file = WORK_DIR / "events.json", WORK_DIR / "first-event.json"
        events_file.write_text(json.dumps(events))
        # A cold start answers one event: reading all of them (1.6 MB of JSON, about 15 ms) would be timed
        # as part of every handler's cold start and of none of the floor's.
        first_event_file.write_text(json.dumps(events[:1]))
        print(f"measuring {arguments.rounds} interleaved cold starts per side ...", flush=True)
        cold = measure_cold_starts(variants, first_event_file, arguments.rounds)
        print(f"measuring {arguments.requests} warm requests per side, {arguments.warm_rounds} rounds ...", flush=True)
        warm = measure_warm(variants, events_file, arguments.warm_rounds, arguments.warm_up)
    ours_bytes = sum(installs.dependency_sizes(task_root.path, installs.ours_own_files(task_root)).values())
    baseline_bytes = sum(installs.dependency_sizes(variants[0].python_path[0], set()).values())
    sizes = {report.BASELINE: baseline_bytes, report.IMAGE: ours_bytes, report.S3: ours_bytes}
    raw = collect_raw(cold, warm, sizes)
    installed = installs.dependency_sizes(task_root.path, installs.ours_own_files(task_root))
    raw["largest_dependencies"] = largest(installed)
    return raw


def largest(sizes: dict[str, int], count: int = 4) -> dict[str, int]:
    return dict(sorted(sizes.items(), key=lambda item: -item[1])[:count])


def main() -> int:
    arguments = parse_arguments()
    raw = run(arguments)
    summary = report.summarise(raw)
    targets = report.evaluate(summary)
    notes = report.explain_misses(targets, summary, raw)
    text = report.render(summary, targets, notes, raw, machine(), arguments)
    print("\n" + text)
    path = write_results(
        {
            "machine": machine(),
            "arguments": vars(arguments),
            "summary": summary,
            "targets": [target.__dict__ for target in targets],
            "notes": notes,
            "raw": raw,
        }
    )
    print(f"\nresults: {path.relative_to(installs.REPO_ROOT)} (and bench/results/latest.json)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
