"""Generators of what a hostile or careless client sends, and the rule for what the service must accept.

The acceptance rule is written here independently of lambda_model.serving.request, so a test comparing the
two can catch the service refusing valid input as well as accepting invalid input.
"""

from __future__ import annotations

import math
from typing import Any

from hypothesis import strategies as st

from lambda_model.contract import FLOAT32_MAX
from lambda_model.serving.request import MAX_BATCH_SIZE
from lambda_model.training.data import IRIS_FEATURES as FEATURES

HUGE_AND_TINY = st.sampled_from(
    [0.0, -0.0, 5e-324, -5e-324, 1e-45, 1.4e-45, FLOAT32_MAX, -FLOAT32_MAX, 3.5e38, 1e308, 10**39, 10**400, -(2**63)]
)
NUMBERS = st.one_of(st.floats(allow_nan=True, allow_infinity=True), st.integers(), st.floats(-10, 10), HUGE_AND_TINY)
JSON_SCALARS = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), st.text())
JSON_VALUES = st.recursive(
    JSON_SCALARS, lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(), children, max_size=4)
)
FEATURE_VALUES = st.one_of(st.none(), NUMBERS, NUMBERS, st.booleans(), st.text(max_size=5), JSON_VALUES)


def is_valid_value(value: Any) -> bool:
    if value is None:
        return True
    if isinstance(value, bool) or not isinstance(value, int | float):
        return False
    try:
        return math.isfinite(float(value)) and abs(value) <= FLOAT32_MAX
    except OverflowError:  # an integer too large for a float
        return False


def is_valid_record(record: Any) -> bool:
    return isinstance(record, dict) and set(record) == set(FEATURES) and all(map(is_valid_value, record.values()))


def is_valid_payload(payload: Any) -> bool:
    if isinstance(payload, list):
        return 1 <= len(payload) <= MAX_BATCH_SIZE and all(map(is_valid_record, payload))
    return is_valid_record(payload)


VALID_VALUES = st.one_of(
    st.none(),
    st.floats(0, 10),
    st.floats(-FLOAT32_MAX, FLOAT32_MAX),
    st.integers(-(10**30), 10**30),
    st.sampled_from([0.0, -0.0, 5e-324, 1e-45, FLOAT32_MAX, -FLOAT32_MAX]),
)


def clean_records() -> st.SearchStrategy[dict[str, Any]]:
    """Records the service must accept: every feature, each a number within float32's range or null."""
    return st.fixed_dictionaries({name: VALID_VALUES for name in FEATURES})


@st.composite
def hostile_records(draw: st.DrawFn) -> dict[str, Any]:
    """Records with hostile values, unicode keys and missing features mixed in."""
    record = {name: draw(VALID_VALUES | FEATURE_VALUES) for name in FEATURES}
    for name in draw(st.lists(st.sampled_from(FEATURES), max_size=2, unique=True)):
        del record[name]
    record.update(draw(st.dictionaries(st.text(min_size=1), FEATURE_VALUES, max_size=2)))
    return record


def records() -> st.SearchStrategy[dict[str, Any]]:
    """About half clean, half hostile, so both the accepting and the refusing paths are exercised."""
    return clean_records() | hostile_records()
