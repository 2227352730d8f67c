"""A model's signature: what it takes and what it answers, recorded in its artifact.

Training writes it from the data the model learned; serving validates requests against it, builds the
OpenAPI document from it and shows it on /health; the gate compares two signatures before anything
else, because a different signature is a different API. Nothing else in the code holds a list of
feature names or classes: the signature of the loaded model is the one source.

Imports nothing heavy: the serving path reads it.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from dataclasses import dataclass
from typing import Any

NAME_PATTERN = re.compile(r"[A-Za-z][A-Za-z0-9_]*")
"""Feature names are identifiers: they are JSON keys, OpenAPI property names and parts of metric names."""
MAX_NAME_LENGTH = 64
MAX_CLASS_LENGTH = 100
MIN_CLASSES = 2
MAX_FEATURES = 60
MAX_CLASSES = 30
"""A request's metrics must fit one EMF directive (at most 100 metrics): 5 fixed, one per class, one per feature."""


class SignatureError(ValueError):
    """A signature (or a name in one) that cannot describe a model's API."""


def check_feature_name(name: str) -> str | None:
    """Why `name` cannot be a feature name, or None when it can."""
    if not name:
        return "is empty"
    if len(name) > MAX_NAME_LENGTH:
        return f"is {len(name)} characters long; the limit is {MAX_NAME_LENGTH}"
    if not NAME_PATTERN.fullmatch(name):
        return "must start with a letter and hold only letters, digits and underscores"
    return None


def check_class_name(name: str) -> str | None:
    """Why `name` cannot be a class label, or None when it can."""
    if not name:
        return "is empty"
    if len(name) > MAX_CLASS_LENGTH:
        return f"is {len(name)} characters long; the limit is {MAX_CLASS_LENGTH}"
    if not name.isprintable():
        return "holds a control character"
    return None


@dataclass(frozen=True)
class Feature:
    """One input column, with what training saw of it (None in artifacts older than format 2)."""

    name: str
    minimum: float | None = None
    maximum: float | None = None
    mean: float | None = None

    def as_json(self) -> dict[str, Any]:
        return {"name": self.name, "min": self.minimum, "max": self.maximum, "mean": self.mean}


@dataclass(frozen=True)
class Signature:
    features: tuple[Feature, ...]
    classes: tuple[str, ...]
    input_example: dict[str, float] | None = None
    """A record taken from the training data; None in artifacts older than format 2."""

    def __post_init__(self) -> None:
        problems = [f"feature {f.name!r} {why}" for f in self.features if (why := check_feature_name(f.name))]
        problems += [f"class {c!r} {why}" for c in self.classes if (why := check_class_name(c))]
        if not self.features:
            problems.append("it has no features")
        if len({f.name for f in self.features}) != len(self.features):
            problems.append("a feature name appears twice")
        if len(self.classes) < MIN_CLASSES or len(set(self.classes)) != len(self.classes):
            problems.append(f"it needs at least {MIN_CLASSES} distinct classes, has {list(self.classes)}")
        if len(self.features) > MAX_FEATURES:
            problems.append(f"it has {len(self.features)} features; at most {MAX_FEATURES} are served")
        if len(self.classes) > MAX_CLASSES:
            problems.append(f"it has {len(self.classes)} classes; at most {MAX_CLASSES} are served")
        if self.input_example is not None and set(self.input_example) != set(self.names):
            problems.append("its input example does not have exactly its features")
        if problems:
            raise SignatureError("; ".join(problems))

    @property
    def names(self) -> tuple[str, ...]:
        """The feature names, in the column order of the model's input matrix."""
        return tuple(feature.name for feature in self.features)

    @property
    def fingerprint(self) -> str:
        """Short hash of what a client depends on (feature names and order, classes); statistics do not count."""
        text = json.dumps({"features": self.names, "classes": self.classes})
        return hashlib.sha256(text.encode()).hexdigest()[:12]

    def example_record(self) -> dict[str, float]:
        """A valid record: the input example, or each feature's training mean (0 where nothing is known)."""
        if self.input_example is not None:
            return {name: self.input_example[name] for name in self.names}
        return {f.name: 0.0 if f.mean is None else f.mean for f in self.features}

    def differences(self, other: Signature) -> list[str]:
        """What a client of `other` would see change if this signature replaced it; [] when nothing."""
        changes = []
        added = [name for name in self.names if name not in other.names]
        removed = [name for name in other.names if name not in self.names]
        if added:
            changes.append(f"features added: {', '.join(added)}")
        if removed:
            changes.append(f"features removed: {', '.join(removed)}")
        shared_new = [name for name in self.names if name in other.names]
        shared_old = [name for name in other.names if name in self.names]
        if shared_new != shared_old:
            changes.append(f"feature order changed: {', '.join(shared_old)} → {', '.join(shared_new)}")
        if self.classes != other.classes:
            changes.append(f"classes changed: {', '.join(other.classes)} → {', '.join(self.classes)}")
        return changes

    def as_json(self) -> dict[str, Any]:
        return {
            "features": [feature.as_json() for feature in self.features],
            "classes": list(self.classes),
            "input_example": self.input_example,
        }

    @property
    def sha256(self) -> str:
        """The digest metadata.json records for the signature, so an edited signature fails verification."""
        return hashlib.sha256(json.dumps(self.as_json(), sort_keys=True).encode()).hexdigest()

    @classmethod
    def from_json(cls, document: Any) -> Signature:
        """Read a signature written by as_json(); SignatureError names what is wrong."""
        try:
            features = tuple(
                Feature(item["name"], _number(item.get("min")), _number(item.get("max")), _number(item.get("mean")))
                for item in document["features"]
            )
            classes = tuple(document["classes"])
            example = document.get("input_example")
            if example is not None:
                example = {str(name): _required_number(value) for name, value in example.items()}
        except (KeyError, TypeError, AttributeError, ValueError) as error:
            raise SignatureError(f"not a valid signature: {error!r}") from None
        if not all(isinstance(name, str) for name in (*(f.name for f in features), *classes)):
            raise SignatureError("not a valid signature: feature names and classes must be strings")
        return cls(features, classes, example)


def _number(value: Any) -> float | None:
    return None if value is None else _required_number(value)


def _required_number(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ValueError(f"{value!r} is not a finite number")
    return float(value)
