"""The promotion gate: the candidate against what production really serves.

First the signatures: a candidate that takes other features or answers other classes than production
is a different API, and fails unless the change is allowed (--allow-signature-change). Then two
measurements, both must pass:

1. The recipes on the candidate's data. A shipped model is refit on every row of its data (as the original
   service was), so scoring an artifact on a hold-out drawn from that data would flatter it. Each model's
   recipe (its recorded parameters) is refit on the training part of the split and scored on the hold-out
   part, the same rows for both; this reproduces the metrics recorded at training time exactly.
2. The shipped artifacts on the frozen reference set of their signature. Measurement 1 cannot see bad data:
   with swapped labels both recipes learn the same wrong thing and agree. So the production artifact itself
   (the ONNX model users get) and the candidate's are scored on the registry's reference set, labelled rows
   written once and never changed (lambda_model.training.reference), and the share of rows where they
   disagree is capped.

Both need the same inputs; after an allowed signature change they are skipped and reported as skipped,
and only the minimum accuracy judges the candidate.

A production store that cannot be read, or a pointer naming a model that cannot be loaded, fails the gate
(StoreError: exit 2). Only a store that exists and has no `current` pointer means "no production yet".
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from lambda_model.registry.loaded_model import LoadedModel
from lambda_model.registry.store import VERSIONS_DIR, ModelStore, StoreError, open_store, resolve_model
from lambda_model.training.data import DEFAULT_LABEL_COLUMN, DataError, Dataset, load_dataset
from lambda_model.training.evaluation import GateResult, Split, holdout_split, judge_metrics, metrics
from lambda_model.training.pipeline import build_pipeline
from lambda_model.training.reference import frozen_reference

DEFAULT_MAX_DISAGREEMENT = 0.05


@dataclass(frozen=True)
class GateReport:
    """The verdict, its markdown, the production pointer's tag as the gate read it (None: no baseline),
    and what changed in the API ([] when the signature is production's, or there is no production).

    Promoting with `promote --if-pointer <tag>` then succeeds only if production is still what was judged.
    """

    result: GateResult
    markdown: str
    pointer_tag: str | None
    signature_changes: list[str]
    evidence: Evidence | None = None
    """The rows and answers behind the verdict, for the report (None only where a test builds a report)."""


@dataclass(frozen=True)
class Answers:
    """One model's answers to rows: class indices and the class probabilities they came from."""

    labels: np.ndarray
    probabilities: np.ndarray


@dataclass(frozen=True)
class Evidence:
    """What the gate judged by, kept so the report draws the gate's own answers instead of a second fit.

    Production's fields are None without a production model, and after a signature change (then the two
    models have no inputs in common to be compared on).
    """

    candidate: LoadedModel
    dataset: Dataset
    split: Split
    candidate_holdout: Answers
    production: Production | None = None
    production_holdout: Answers | None = None
    reference: Dataset | None = None
    reference_file: str | None = None
    candidate_reference: np.ndarray | None = None
    production_reference: np.ndarray | None = None
    shipped: GateResult | None = None
    """The shipped artifacts' metrics on the reference set (candidate, baseline = production)."""
    disagreement: float | None = None


@dataclass(frozen=True)
class Production:
    """What production serves: the store, its pointer's version and the loaded, verified artifact."""

    store: ModelStore
    version: str
    model: LoadedModel


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
    if not store.exists():
        raise StoreError(f"the production store {uri} does not exist (no folder, or nothing under the prefix)")
    tag = store.pointer_tag()
    version = store.current_version()
    if version is None:
        return None, tag
    return Production(store, version, LoadedModel(store.fetch_current())), tag


def holdout_answers(parameters: dict[str, Any], split: Split) -> Answers:
    model = build_pipeline(parameters).fit(split.train_features, split.train_labels)
    return Answers(model.predict(split.holdout_features), model.predict_proba(split.holdout_features))


def _gate_data(candidate: LoadedModel, data: str | None, label_column: str | None) -> Dataset:
    """The gate's data, which must have the candidate's columns and classes."""
    recorded = candidate.metadata.get("data", {}).get("label_column", DEFAULT_LABEL_COLUMN)
    dataset = load_dataset(data, label_column or recorded)
    signature = candidate.signature
    if dataset.feature_names != signature.names or dataset.classes != signature.classes:
        raise DataError(
            f"{dataset.source}: its columns ({', '.join(dataset.feature_names)}) and classes "
            f"({', '.join(dataset.classes)}) are not the candidate's ({', '.join(signature.names)}; "
            f"{', '.join(signature.classes)}); gate a candidate on the data it was trained on "
            f"(--data {candidate.metadata.get('data', {}).get('source', '?')})"
        )
    return dataset


def run_gate(
    candidate_uri: str,
    baseline_uri: str | None,
    data: str | None,
    min_accuracy: float,
    max_regression: float,
    max_disagreement: float = DEFAULT_MAX_DISAGREEMENT,
    allow_signature_change: bool = False,
    label_column: str | None = None,
) -> GateReport:
    candidate = LoadedModel(resolve_model(candidate_uri))
    dataset = _gate_data(candidate, data, label_column)
    split = holdout_split(dataset)
    live, pointer_tag = production(baseline_uri)
    candidate_answers = holdout_answers(candidate.metadata["parameters"], split)
    candidate_metrics = metrics(split.holdout_labels, candidate_answers.labels)
    evidence = Evidence(candidate, dataset, split, candidate_answers)
    candidate_name = f"{candidate.version} ({candidate_uri})"
    recipe_note = (
        f"The recipes were fitted on the same {len(split.train_labels)} training rows "
        f"and scored on the same {len(split.holdout_labels)} hold-out rows.\n"
    )
    if live is None:
        result = judge_metrics(candidate_metrics, None, min_accuracy, max_regression)
        return GateReport(result, result.markdown(candidate_name, None) + recipe_note, pointer_tag, [], evidence)

    production_name = f"{live.version} ({baseline_uri})"
    changes = candidate.signature.differences(live.model.signature)
    if changes:
        result = judge_metrics(candidate_metrics, None, min_accuracy, max_regression)
        if not allow_signature_change:
            result.reasons.append(
                f"the signature differs from production's ({'; '.join(changes)}), which changes the API; "
                "gate with --allow-signature-change to release it"
            )
        return GateReport(
            result,
            result.markdown(candidate_name, production_name)
            + _signature_change_markdown(changes, allow_signature_change),
            pointer_tag,
            changes,
            replace(evidence, production=live),
        )

    production_answers = holdout_answers(live.model.metadata["parameters"], split)
    recipes = judge_metrics(
        candidate_metrics, metrics(split.holdout_labels, production_answers.labels), min_accuracy, max_regression
    )
    reference_file, reference = frozen_reference(live.store, candidate.signature, _reference_seed(dataset, split))
    candidate_labels = candidate.predicted_classes(reference.features)
    production_labels = live.model.predicted_classes(reference.features)
    shipped = judge_metrics(
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
    markdown = result.markdown(candidate_name, production_name) + recipe_note
    markdown += (
        f"\n#### The shipped artifacts on the reference set `{reference_file}` ({len(reference.labels)} rows)\n\n"
        "| metric | candidate | production |\n| --- | --- | --- |\n"
        + "".join(
            f"| {name} | {value:.4f} | {shipped.baseline[name]:.4f} |\n" for name, value in shipped.candidate.items()
        )
        + f"| disagreement | {disagreement:.2%} (at most {max_disagreement:.2%}) | |\n"
    )
    evidence = replace(
        evidence,
        production=live,
        production_holdout=production_answers,
        reference=reference,
        reference_file=reference_file,
        candidate_reference=candidate_labels,
        production_reference=production_labels,
        shipped=shipped,
        disagreement=disagreement,
    )
    return GateReport(result, markdown, pointer_tag, [], evidence)


def _reference_seed(dataset: Dataset, split: Split) -> Dataset:
    """The rows to freeze when production's signature has no reference set yet; afterwards the stored rows rule.

    For the bundled data's signature, its hold-out: then bad candidate data (swapped labels, say) cannot
    become the yardstick it is judged by. Any other signature has only the candidate's data to draw from.
    """
    bundled = load_dataset(None)
    if bundled.signature().fingerprint == dataset.signature().fingerprint:
        dataset, split = bundled, holdout_split(bundled)
    return replace(
        dataset, features=split.holdout_features, labels=split.holdout_labels, source=f"{dataset.source} hold-out"
    )


def _signature_change_markdown(changes: list[str], allowed: bool) -> str:
    verdict = "allowed (--allow-signature-change): this release changes the API" if allowed else "not allowed"
    lines = [
        "",
        f"#### The API changed: {verdict}",
        "",
        *(f"- {change}" for change in changes),
        "",
        "Skipped, because they need the same inputs for both models: the recipes on the same hold-out, "
        "and the shipped artifacts on the reference set. Only the minimum accuracy judged the candidate.",
    ]
    return "\n".join(lines) + "\n"
