"""Training data: the iris set scikit-learn ships (the default), or any numeric tabular CSV (local or s3://).

A CSV has a header row; its label column (`species` unless told otherwise) gives the classes, the
sorted distinct labels; every other column is a numeric feature, in file order. That column order
becomes the model's signature, so it is the API's contract: this module is where it is decided.
"""

from __future__ import annotations

import csv
import hashlib
import io
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from lambda_model.contract import FLOAT32_MAX
from lambda_model.registry.signature import (
    MAX_CLASSES,
    MAX_FEATURES,
    Feature,
    Signature,
    check_class_name,
    check_feature_name,
)

DEFAULT_LABEL_COLUMN = "species"
BUNDLED_IRIS = "sklearn:iris"
IRIS_FEATURES = ("sepal_length", "sepal_width", "petal_length", "petal_width")
"""The seed's names for scikit-learn's iris columns (its own are "sepal length (cm)", ...)."""
IRIS_CLASSES = ("setosa", "versicolor", "virginica")
MIN_ROWS_PER_CLASS = 5
"""The stratified 20 % hold-out then holds at least one row of every class, and training at least four."""


class DataError(Exception):
    """The training data cannot be used; the message names the file, row or column."""


@dataclass(frozen=True)
class Dataset:
    features: np.ndarray  # float64, one column per feature name, NaN where a value is missing
    labels: np.ndarray  # class indices into `classes`
    feature_names: tuple[str, ...]
    classes: tuple[str, ...]
    label_column: str
    source: str
    sha256: str

    def __len__(self) -> int:
        return len(self.labels)

    def signature(self) -> Signature:
        """Names, classes, each feature's training min/max/mean, and the first complete row as the input example."""
        features = tuple(
            Feature(name, float(np.nanmin(column)), float(np.nanmax(column)), float(np.nanmean(column)))
            for name, column in zip(self.feature_names, self.features.T, strict=True)
        )
        complete = np.flatnonzero(~np.isnan(self.features).any(axis=1))
        example = None
        if complete.size:
            row = self.features[complete[0]]
            example = {name: float(value) for name, value in zip(self.feature_names, row, strict=True)}
        return Signature(features, self.classes, example)


def load_dataset(source: str | None = None, label_column: str = DEFAULT_LABEL_COLUMN) -> Dataset:
    if source in (None, "", BUNDLED_IRIS):
        return bundled_iris()
    return parse_csv(read_source(source), source, label_column)


def read_source(source: str) -> bytes:
    """The bytes of a local file or an s3://bucket/key object."""
    if source.startswith("s3://"):
        return _read_s3(source)
    path = Path(source)
    if not path.is_file():
        raise DataError(f"{source}: no such file")
    try:
        return path.read_bytes()
    except OSError as error:
        raise DataError(f"{source}: cannot read: {error.strerror}") from None


def bundled_iris() -> Dataset:
    from sklearn.datasets import load_iris

    iris = load_iris()
    features = np.ascontiguousarray(iris.data, dtype=np.float64)
    labels = np.asarray(iris.target, dtype=np.int64)
    digest = hashlib.sha256(features.tobytes() + labels.tobytes()).hexdigest()
    return Dataset(features, labels, IRIS_FEATURES, IRIS_CLASSES, DEFAULT_LABEL_COLUMN, BUNDLED_IRIS, digest)


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
        return math.nan  # a missing value: the pipeline imputes it
    try:
        value = float(text)
    except ValueError:
        raise DataError(f"{where}: {text[:40]!r} is not a number") from None
    if not math.isfinite(value):
        raise DataError(f"{where}: {text[:40]!r} is not a finite number")
    if abs(value) > FLOAT32_MAX:
        raise DataError(f"{where}: {text[:40]!r} is beyond the float32 range the model computes in")
    return value


def _header(reader: csv.reader, source: str, label_column: str, label_optional: bool) -> tuple[list[str], int | None]:
    """The header's names and the label column's position (None: absent, and optional); every name is checked."""
    try:
        header = [name.strip() for name in next(reader)]
    except StopIteration:
        raise DataError(f"{source}: the file is empty") from None
    for position, name in enumerate(header, start=1):
        if name != label_column and (why := check_feature_name(name)):
            raise DataError(f"{source}, line 1, column {position}: feature name {name[:70]!r} {why}")
    duplicated = sorted({name for name in header if header.count(name) > 1})
    if duplicated:
        raise DataError(f"{source}, line 1: column(s) {', '.join(duplicated)} appear more than once")
    if label_column not in header and label_optional:
        return header, None
    if label_column not in header:
        raise DataError(
            f"{source}, line 1: no label column {label_column!r} (columns: {', '.join(header)[:300]}); "
            "name it with --label"
        )
    if len(header) < 2:
        raise DataError(f"{source}, line 1: only the label column {label_column!r}; at least one feature is needed")
    if len(header) - 1 > MAX_FEATURES:
        raise DataError(
            f"{source}, line 1: {len(header) - 1} features; at most {MAX_FEATURES} are served "
            "(each feature is a metric of every request, and a request's metrics must fit one EMF directive)"
        )
    return header, header.index(label_column)


@dataclass(frozen=True)
class Table:
    """A CSV read and checked cell by cell: feature names in file order, values, and the label of each row."""

    feature_names: tuple[str, ...]
    features: np.ndarray
    labels: list[str]


def read_table(raw: bytes, source: str, label_column: str, label_optional: bool = False) -> Table:
    """Parse a CSV with a header row; every problem names the line and column.

    With `label_optional`, a file without the label column is read as features only (labels empty).
    """
    if not raw.strip():
        raise DataError(f"{source}: the file is empty")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise DataError(f"{source}: not UTF-8 text") from None
    reader = csv.reader(io.StringIO(text))
    try:
        header, label_position = _header(reader, source, label_column, label_optional)
        feature_positions = [position for position in range(len(header)) if position != label_position]
        rows: list[list[float]] = []
        labels: list[str] = []
        for line, record in enumerate(reader, start=2):
            if not record or all(not cell.strip() for cell in record):
                continue
            if len(record) != len(header):
                raise DataError(f"{source}, line {line}: {len(record)} fields, the header has {len(header)}")
            if label_position is not None:
                label = record[label_position].strip()
                if why := check_class_name(label):
                    raise DataError(f"{source}, line {line}, column {label_column}: the label {label[:40]!r} {why}")
                labels.append(label)
            rows.append([_number(record[p], f"{source}, line {line}, column {header[p]}") for p in feature_positions])
    except csv.Error as error:
        raise DataError(f"{source}, line {reader.line_num}: not valid CSV: {error}") from None
    if not rows:
        raise DataError(f"{source}: the file has a header but no data rows")
    feature_names = tuple(header[p] for p in feature_positions)
    return Table(feature_names, np.array(rows, dtype=np.float64), labels)


def parse_csv(raw: bytes, source: str, label_column: str = DEFAULT_LABEL_COLUMN) -> Dataset:
    """Training data from a CSV: a header, a label column, numeric features in file order, enough of each class."""
    table = read_table(raw, source, label_column)
    classes = tuple(sorted(set(table.labels)))
    _check_columns(table.features, table.feature_names, source)
    _check_classes(table.labels, classes, source, label_column)
    return Dataset(
        table.features,
        np.array([classes.index(label) for label in table.labels], dtype=np.int64),
        table.feature_names,
        classes,
        label_column,
        source,
        hashlib.sha256(raw).hexdigest(),
    )


def _check_columns(features: np.ndarray, names: tuple[str, ...], source: str) -> None:
    for name, column in zip(names, features.T, strict=True):
        present = column[~np.isnan(column)]
        if not present.size:
            raise DataError(f"{source}, column {name}: every value is empty; the model cannot learn from it")
        if np.all(present == present[0]):
            raise DataError(f"{source}, column {name}: every value is {present[0]:g}; a constant teaches nothing")


def _check_classes(labels: list[str], classes: tuple[str, ...], source: str, label_column: str) -> None:
    if len(classes) < 2:
        raise DataError(f"{source}, column {label_column}: only the class {classes[0]!r}; at least two are needed")
    if len(classes) > MAX_CLASSES:
        raise DataError(f"{source}, column {label_column}: {len(classes)} classes; at most {MAX_CLASSES} are served")
    counts = {name: labels.count(name) for name in classes}
    scarce = [f"{name} ({count})" for name, count in counts.items() if count < MIN_ROWS_PER_CLASS]
    if scarce:
        raise DataError(
            f"{source}, column {label_column}: too few rows of class {', '.join(scarce)[:300]}; "
            f"the hold-out split needs at least {MIN_ROWS_PER_CLASS} rows of every class"
        )
