"""The gate's frozen reference sets: labelled rows stored with the registry, written once, never changed.

    <root>/reference/holdout-<signature fingerprint>-<first 16 hex digits of the file's sha256>.csv

One set per signature: models with the same features and classes are judged on the same rows, and a
new signature gets its own set, frozen from the first gate's hold-out that has it. A store from before
signatures holds one `iris-holdout-<hash16>.csv`; the signature whose columns and classes it has adopts
it. The name carries the content's hash, so a reader can tell the file is the one that was written: a
reference set edited in place no longer matches its name and fails the gate instead of silently moving
the goalposts.
"""

from __future__ import annotations

import csv
import hashlib
import io

import numpy as np

from lambda_model.registry.signature import Signature
from lambda_model.registry.store import ModelStore, StoreError
from lambda_model.training.data import DataError, Dataset, read_table

REFERENCE_DIR = "reference"
DIGEST_LENGTH = 16
LEGACY_REFERENCE_NAME = "iris-holdout"
"""The one set of stores written before signatures (artifact format 1), when every model was iris."""


def reference_name(signature: Signature) -> str:
    return f"holdout-{signature.fingerprint}"


def reference_csv(dataset: Dataset) -> bytes:
    """The rows as CSV, with full float precision so the file reproduces the rows exactly."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow([*dataset.feature_names, dataset.label_column])
    for features, label in zip(dataset.features, dataset.labels, strict=True):
        writer.writerow([*(repr(float(value)) for value in features), dataset.classes[int(label)]])
    return buffer.getvalue().encode()


def file_name(name: str, content: bytes) -> str:
    return f"{name}-{hashlib.sha256(content).hexdigest()[:DIGEST_LENGTH]}.csv"


def frozen_reference(store: ModelStore, signature: Signature, seed: Dataset) -> tuple[str, Dataset]:
    """The store's reference set for `signature`; the first call freezes `seed` as it. Returns (file name, rows).

    Raises StoreError when the stored file does not match the hash in its name, when several files claim
    the same name, or when its columns or classes are not the signature's: the gate must not guess which
    rows production is judged on.
    """
    name = reference_name(signature)
    files = store.list_files(REFERENCE_DIR, f"{name}-")
    if not files:
        adopted = _legacy_reference(store, signature, seed.label_column)
        if adopted is not None:
            return adopted
        content = reference_csv(seed)
        store.create_file(REFERENCE_DIR, file_name(name, content), content)
        files = store.list_files(REFERENCE_DIR, f"{name}-")
    file = _only(store, name, files)
    return file, _rows_of(
        _checked_content(store, name, file), f"{store.uri}/{REFERENCE_DIR}/{file}", signature, seed.label_column
    )


def _legacy_reference(store: ModelStore, signature: Signature, label_column: str) -> tuple[str, Dataset] | None:
    """The set a store frozen before signatures existed, when it has this signature's columns and classes.

    Those stores judged every model on that one set; adopting it keeps the first gate after the upgrade
    on the rows production was judged on, instead of freezing new ones.
    """
    files = store.list_files(REFERENCE_DIR, f"{LEGACY_REFERENCE_NAME}-")
    if not files:
        return None
    file = _only(store, LEGACY_REFERENCE_NAME, files)
    content = _checked_content(store, LEGACY_REFERENCE_NAME, file)
    try:
        return file, _rows_of(content, f"{store.uri}/{REFERENCE_DIR}/{file}", signature, label_column)
    except StoreError:
        return None  # another signature's rows: this signature gets a set of its own


def _only(store: ModelStore, name: str, files: list[str]) -> str:
    if len(files) != 1:
        raise StoreError(f"{store.uri}/{REFERENCE_DIR} holds {len(files)} reference sets named {name}: {files}")
    return files[0]


def _checked_content(store: ModelStore, name: str, file: str) -> bytes:
    content = store.read_file(REFERENCE_DIR, file)
    if file_name(name, content) != file:
        raise StoreError(f"{store.uri}/{REFERENCE_DIR}/{file} was changed after it was written (its hash differs)")
    return content


def _rows_of(content: bytes, where: str, signature: Signature, label_column: str) -> Dataset:
    """The stored rows, with class indices in the signature's order (a small hold-out may lack a class)."""
    try:
        table = read_table(content, where, label_column)
    except DataError as error:
        raise StoreError(f"the reference set is unusable: {error}") from None
    unknown = sorted(set(table.labels) - set(signature.classes))
    if table.feature_names != signature.names or unknown:
        raise StoreError(f"{where} does not hold the columns and classes of signature {signature.fingerprint}")
    labels = np.array([signature.classes.index(label) for label in table.labels], dtype=np.int64)
    digest = hashlib.sha256(content).hexdigest()
    return Dataset(table.features, labels, table.feature_names, signature.classes, label_column, where, digest)
