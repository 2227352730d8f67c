"""The promotion gate: the candidate against what production really serves.

Two measurements, both must pass:

1. The recipes on the candidate's data. A shipped model is refit on every row of its data (as the original
   service was), so scoring an artifact on a hold-out drawn from that data would flatter it. Each model's
   recipe (its recorded parameters) is refit on the training part of the split and scored on the hold-out
   part, the same rows for both; this reproduces the metrics recorded at training time exactly.
2. The shipped artifacts on the frozen reference set. Measurement 1 cannot see bad data: with swapped labels
   both recipes learn the same wrong thing and agree. So the production artifact itself (the ONNX model users
   get) and the candidate's are scored on the registry's reference set, labelled rows written once and never
   changed (lambda_model.training.reference), and the share of rows where they disagree is capped.

A production store that cannot be read, or a pointer naming a model that cannot be loaded, fails the gate
(StoreError: exit 2). Only a store that exists and has no `current` pointer means "no production yet".
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from lambda_model.registry.artifact import verify
from lambda_model.registry.store import VERSIONS_DIR, LocalStore, ModelStore, StoreError, open_store, resolve_model
from lambda_model.serving.predictor import Predictor
from lambda_model.training.data import Dataset, load_dataset
from lambda_model.training.evaluation import GateResult, Split, gate, holdout_split, metrics, score
from lambda_model.training.pipeline import build_pipeline
from lambda_model.training.reference import frozen_reference

# The reference set every gate of this registry uses; its rows are the bundled iris data's hold-out, frozen
# into the store the first time a gate runs against it.
REFERENCE_NAME = "iris-holdout"
DEFAULT_MAX_DISAGREEMENT = 0.05


@dataclass(frozen=True)
class GateReport:
    """The verdict, its markdown, and the production pointer's tag as the gate read it (None: no baseline).

    Promoting with `promote --if-pointer <tag>` then succeeds only if production is still what was judged.
    """

    result: GateResult
    markdown: str
    pointer_tag: str | None


@dataclass(frozen=True)
class Production:
    """What production serves: the store, its pointer's version and the verified artifact folder."""

    store: ModelStore
    version: str
    metadata: dict[str, Any]
    folder: Any


def _store_exists(store: ModelStore) -> bool:
    """A folder that is there, or an S3 prefix holding anything: a typo'd path or prefix holds nothing."""
    if isinstance(store, LocalStore):
        return store.root.is_dir()
    return bool(store.versions())


def production(uri: str | None) -> tuple[Production | None, str | None]:
    """Production's model (None when the store exists and has promoted nothing yet), and its pointer's tag.

    The tag is read before the pointer: should the pointer move in between, the tag is the older one and the
    conditional promotion refuses, rather than promote against a production that was never judged.
    """
    if not uri:
        return None, None
    text = uri.rstrip("/")
    if f"/{VERSIONS_DIR}/" in text:
        raise StoreError(f"--baseline names one version ({uri}); give the production store, whose pointer decides")
    store = open_store(text)
    if not _store_exists(store):
        raise StoreError(f"the production store {uri} does not exist (no folder, or nothing under the prefix)")
    tag = store.pointer_tag()
    version = store.current_version()
    if version is None:
        return None, tag
    folder = store.fetch_current()
    return Production(store, version, verify(folder), folder), tag


def holdout_metrics(metadata: dict[str, Any], split: Split) -> dict[str, float]:
    model = build_pipeline(metadata["parameters"]).fit(split.train_features, split.train_labels)
    return score(model.predict, split.holdout_features, split.holdout_labels)


def artifact_predictions(folder: Any, features: np.ndarray) -> np.ndarray:
    """Class indices the shipped ONNX artifact predicts: the same runtime and graph users are served by."""
    return Predictor(folder).probabilities(features.astype(np.float32)).argmax(axis=1)


def run_gate(
    candidate_uri: str,
    baseline_uri: str | None,
    data: str | None,
    min_accuracy: float,
    max_regression: float,
    max_disagreement: float = DEFAULT_MAX_DISAGREEMENT,
) -> GateReport:
    split = holdout_split(load_dataset(data))
    candidate_folder = resolve_model(candidate_uri)
    candidate = verify(candidate_folder)
    live, pointer_tag = production(baseline_uri)
    recipes = gate(
        holdout_metrics(candidate, split),
        None if live is None else holdout_metrics(live.metadata, split),
        min_accuracy,
        max_regression,
    )
    recipe_note = (
        f"Both recipes were fitted on the same {len(split.train_labels)} training rows "
        f"and scored on the same {len(split.holdout_labels)} hold-out rows.\n"
    )
    candidate_name = f"{candidate['version']} ({candidate_uri})"
    if live is None:
        return GateReport(recipes, recipes.markdown(candidate_name, None) + recipe_note, pointer_tag)
    bundled = holdout_split(load_dataset(None))
    seed = Dataset(bundled.holdout_features, bundled.holdout_labels, REFERENCE_NAME, "")
    reference_file, reference = frozen_reference(live.store, REFERENCE_NAME, seed)
    candidate_labels = artifact_predictions(candidate_folder, reference.features)
    production_labels = artifact_predictions(live.folder, reference.features)
    shipped = gate(
        metrics(reference.labels, candidate_labels),
        metrics(reference.labels, production_labels),
        min_accuracy,
        max_regression,
    )
    disagreement = float(np.mean(candidate_labels != production_labels))
    reasons = [*recipes.reasons, *(f"reference set: {reason}" for reason in shipped.reasons)]
    if disagreement > max_disagreement:
        reasons.append(
            f"the candidate disagrees with production on {disagreement:.2%} of the reference rows "
            f"(at most {max_disagreement:.2%})"
        )
    result = GateResult(recipes.candidate, recipes.baseline, min_accuracy, max_regression, reasons)
    markdown = result.markdown(candidate_name, f"{live.version} ({baseline_uri})") + recipe_note
    markdown += (
        f"\n#### The shipped artifacts on the reference set `{reference_file}` ({len(reference.labels)} rows)\n\n"
        "| metric | candidate | production |\n| --- | --- | --- |\n"
        + "".join(
            f"| {name} | {value:.4f} | {shipped.baseline[name]:.4f} |\n" for name, value in shipped.candidate.items()
        )
        + f"| disagreement | {disagreement:.2%} (at most {max_disagreement:.2%}) | |\n"
    )
    return GateReport(result, markdown, pointer_tag)
