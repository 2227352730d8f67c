"""The gate's frozen reference set: labelled rows stored with the registry, written once, never changed.

    <root>/reference/<name>-<first 16 hex digits of the file's sha256>.csv

The name carries the content's hash, so a reader can tell the file is the one that was written: a reference
set that was edited in place no longer matches its name and fails the gate instead of silently moving the
goalposts. A new reference set is a new file (a new name), never a rewrite.
"""

from __future__ import annotations

import csv
import hashlib
import io

from botocore.exceptions import BotoCoreError, ClientError

from lambda_model.contract import CLASSES, FEATURES
from lambda_model.registry.store import LocalStore, ModelStore, S3Store, StoreError
from lambda_model.training.data import LABEL_COLUMN, Dataset, parse_csv

REFERENCE_DIR = "reference"
DIGEST_LENGTH = 16


def reference_csv(dataset: Dataset) -> bytes:
    """The rows as CSV, with full float precision so the file reproduces the rows exactly."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow([*FEATURES, LABEL_COLUMN])
    for features, label in zip(dataset.features, dataset.labels, strict=True):
        writer.writerow([*(repr(float(value)) for value in features), CLASSES[int(label)]])
    return buffer.getvalue().encode()


def file_name(name: str, content: bytes) -> str:
    return f"{name}-{hashlib.sha256(content).hexdigest()[:DIGEST_LENGTH]}.csv"


def _s3(store: ModelStore) -> S3Store:
    if not isinstance(store, S3Store):
        raise StoreError(f"{store.uri}: reference sets live in local folders or S3 stores")
    return store


def _list(store: ModelStore, name: str) -> list[str]:
    prefix = f"{name}-"
    try:
        if isinstance(store, LocalStore):
            folder = store.root / REFERENCE_DIR
            return sorted(p.name for p in folder.glob(f"{prefix}*.csv")) if folder.is_dir() else []
        s3 = _s3(store)
        pages = s3.client.get_paginator("list_objects_v2").paginate(
            Bucket=s3.bucket, Prefix=f"{s3._key(REFERENCE_DIR)}/{prefix}"
        )
        return sorted(item["Key"].rsplit("/", 1)[-1] for page in pages for item in page.get("Contents", []))
    except (OSError, ClientError, BotoCoreError) as error:
        raise StoreError(f"cannot list the reference sets in {store.uri}: {error}") from error


def _read(store: ModelStore, file: str) -> bytes:
    try:
        if isinstance(store, LocalStore):
            return (store.root / REFERENCE_DIR / file).read_bytes()
        s3 = _s3(store)
        return s3.client.get_object(Bucket=s3.bucket, Key=s3._key(REFERENCE_DIR, file))["Body"].read()
    except (OSError, ClientError, BotoCoreError) as error:
        raise StoreError(f"cannot read the reference set {file} in {store.uri}: {error}") from error


def _create(store: ModelStore, file: str, content: bytes) -> None:
    """Write only if absent: a concurrent writer of the same content wins harmlessly, nobody overwrites."""
    try:
        if isinstance(store, LocalStore):
            folder = store.root / REFERENCE_DIR
            folder.mkdir(parents=True, exist_ok=True)
            with open(folder / file, "xb") as handle:
                handle.write(content)
            return
        s3 = _s3(store)
        s3.client.put_object(Bucket=s3.bucket, Key=s3._key(REFERENCE_DIR, file), Body=content, IfNoneMatch="*")
    except FileExistsError:
        return
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") in ("PreconditionFailed", "412"):
            return
        raise StoreError(f"cannot write the reference set {file} into {store.uri}: {error}") from error
    except (OSError, BotoCoreError) as error:
        raise StoreError(f"cannot write the reference set {file} into {store.uri}: {error}") from error


def frozen_reference(store: ModelStore, name: str, seed: Dataset) -> tuple[str, Dataset]:
    """The store's reference set `name`; the first call freezes `seed` as it. Returns (file name, rows).

    Raises StoreError when the stored file does not match the hash in its name, or when several files
    claim the same name: the gate must not guess which rows production is judged on.
    """
    files = _list(store, name)
    if not files:
        content = reference_csv(seed)
        _create(store, file_name(name, content), content)
        files = _list(store, name)
    if len(files) != 1:
        raise StoreError(f"{store.uri}/{REFERENCE_DIR} holds {len(files)} reference sets named {name}: {files}")
    (file,) = files
    content = _read(store, file)
    if file_name(name, content) != file:
        raise StoreError(f"{store.uri}/{REFERENCE_DIR}/{file} was changed after it was written (its hash differs)")
    return file, parse_csv(content, f"{store.uri}/{REFERENCE_DIR}/{file}")
