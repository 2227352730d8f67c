"""Training data: the iris set scikit-learn ships, or a CSV file (local or s3://) with the same columns."""

from __future__ import annotations

import csv
import hashlib
import io
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from lambda_model.contract import CLASSES, FEATURES, FLOAT32_MAX

LABEL_COLUMN = "species"
BUNDLED_IRIS = "sklearn:iris"
MIN_ROWS_PER_CLASS = 5
"""The stratified 20 % hold-out then holds at least one row of every class, and training at least four."""


class DataError(Exception):
    """The training data cannot be used; the message names the file, row or column."""


@dataclass(frozen=True)
class Dataset:
    features: np.ndarray  # float64, one column per FEATURES entry, NaN where a value is missing
    labels: np.ndarray  # class indices into CLASSES
    source: str
    sha256: str

    def __len__(self) -> int:
        return len(self.labels)


def load_dataset(source: str | None = None) -> Dataset:
    if source in (None, "", BUNDLED_IRIS):
        return _bundled_iris()
    if source.startswith("s3://"):
        return parse_csv(_read_s3(source), source)
    path = Path(source)
    if not path.is_file():
        raise DataError(f"{source}: no such file")
    return parse_csv(path.read_bytes(), source)


def _bundled_iris() -> Dataset:
    from sklearn.datasets import load_iris

    iris = load_iris()
    features = np.ascontiguousarray(iris.data, dtype=np.float64)
    labels = np.asarray(iris.target, dtype=np.int64)
    digest = hashlib.sha256(features.tobytes() + labels.tobytes()).hexdigest()
    return Dataset(features, labels, BUNDLED_IRIS, digest)


def _read_s3(uri: str) -> bytes:
    import boto3
    from botocore.exceptions import BotoCoreError, ClientError

    bucket, _, key = uri.removeprefix("s3://").partition("/")
    if not bucket or not key:
        raise DataError(f"{uri}: expected s3://bucket/key.csv")
    try:
        return boto3.client("s3").get_object(Bucket=bucket, Key=key)["Body"].read()
    except (BotoCoreError, ClientError) as error:
        raise DataError(f"{uri}: cannot read: {error}") from None


def _number(text: str, where: str) -> float:
    if text.strip() == "":
        return math.nan  # a missing measurement: the pipeline imputes it
    try:
        value = float(text)
    except ValueError:
        raise DataError(f"{where}: {text!r} is not a number") from None
    if not math.isfinite(value):
        raise DataError(f"{where}: {text!r} is not a finite number")
    if abs(value) > FLOAT32_MAX:
        raise DataError(f"{where}: {text[:40]!r} is beyond the float32 range the model computes in")
    return value


def parse_csv(raw: bytes, source: str) -> Dataset:
    """Parse and validate a CSV with a header of exactly FEATURES plus `species`, in any order."""
    if not raw.strip():
        raise DataError(f"{source}: the file is empty")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise DataError(f"{source}: not UTF-8 text") from None
    reader = csv.reader(io.StringIO(text))
    header = [name.strip() for name in next(reader)]
    expected = (*FEATURES, LABEL_COLUMN)
    missing = [name for name in expected if name not in header]
    if missing:
        raise DataError(f"{source}: missing column(s) {', '.join(missing)}; expected {', '.join(expected)}")
    extra = [name for name in header if name not in expected]
    if extra:
        raise DataError(f"{source}: unexpected column(s) {', '.join(extra)}; expected {', '.join(expected)}")
    duplicated = sorted({name for name in header if header.count(name) > 1})
    if duplicated:
        raise DataError(f"{source}: column(s) {', '.join(duplicated)} appear more than once")
    positions = [header.index(name) for name in FEATURES]
    label_position = header.index(LABEL_COLUMN)
    rows: list[list[float]] = []
    labels: list[int] = []
    for line, record in enumerate(reader, start=2):
        if not record or all(not cell.strip() for cell in record):
            continue
        if len(record) != len(header):
            raise DataError(f"{source}, line {line}: {len(record)} fields, the header has {len(header)}")
        label = record[label_position].strip()
        if label not in CLASSES:
            raise DataError(f"{source}, line {line}: unknown species {label!r}; expected one of {', '.join(CLASSES)}")
        rows.append([_number(record[p], f"{source}, line {line}, column {header[p]}") for p in positions])
        labels.append(CLASSES.index(label))
    if not rows:
        raise DataError(f"{source}: the file has a header but no data rows")
    missing_classes = [name for index, name in enumerate(CLASSES) if index not in labels]
    if missing_classes:
        raise DataError(f"{source}: no rows of species {', '.join(missing_classes)}; every class needs examples")
    scarce = [
        f"{name} ({labels.count(index)})"
        for index, name in enumerate(CLASSES)
        if labels.count(index) < MIN_ROWS_PER_CLASS
    ]
    if scarce:
        raise DataError(
            f"{source}, column {LABEL_COLUMN}: too few rows of species {', '.join(scarce)}; "
            f"the hold-out split needs at least {MIN_ROWS_PER_CLASS} rows of every class"
        )
    features = np.array(rows, dtype=np.float64)
    for position, name in enumerate(FEATURES):
        if np.isnan(features[:, position]).all():
            raise DataError(f"{source}, column {name}: every value is empty; the model cannot learn from it")
    return Dataset(
        features,
        np.array(labels, dtype=np.int64),
        source,
        hashlib.sha256(raw).hexdigest(),
    )
