"""A signature or baseline that cannot describe a model's API is refused, each problem named once in one line."""

import pytest

from lambda_model.registry.baseline import Baseline, BaselineError
from lambda_model.registry.signature import MAX_CLASSES, MAX_FEATURES, Feature, Signature, SignatureError

FEATURES = (Feature("a"), Feature("b"))
TOO_MANY_FEATURES = tuple(Feature(f"f{i}") for i in range(MAX_FEATURES + 1))
CLASSES = ("yes", "no")


@pytest.mark.parametrize(
    ("features", "classes", "example", "problem"),
    [
        ((), CLASSES, None, "it has no features"),
        ((Feature("a"), Feature("a")), CLASSES, None, "a feature name appears twice"),
        (FEATURES, ("yes", "yes"), None, "it needs at least 2 distinct classes, has ['yes', 'yes']"),
        (FEATURES, ("only",), None, "it needs at least 2 distinct classes, has ['only']"),
        (
            tuple(Feature(f"f{i}") for i in range(MAX_FEATURES + 1)),
            CLASSES,
            None,
            "has 61 features; at most 60 are served",
        ),
        (FEATURES, tuple(f"c{i}" for i in range(MAX_CLASSES + 1)), None, "has 31 classes; at most 30 are served"),
        (FEATURES, CLASSES, {"a": 1.0}, "its input example does not have exactly its features"),
        (FEATURES, ("yes", "x" * 101), None, "is 101 characters long; the limit is 100"),
        (FEATURES, ("yes", "tab\there"), None, "holds a control character"),
        ((Feature("1a"), Feature("b")), CLASSES, None, "feature '1a' must start with a letter"),
    ],
)
def test_a_signature_that_cannot_describe_an_api_is_refused(features, classes, example, problem):
    with pytest.raises(SignatureError) as raised:
        Signature(features, classes, example)
    assert problem in str(raised.value)
    assert "\n" not in str(raised.value)


def test_every_problem_of_a_signature_is_named_at_once():
    with pytest.raises(SignatureError, match="a feature name appears twice; its input example"):
        Signature((Feature("a"), Feature("a")), CLASSES, {"b": 1.0})


@pytest.mark.parametrize(
    ("document", "problem"),
    [
        ({"features": [{"name": 1}], "classes": list(CLASSES)}, "feature names and classes must be strings"),
        ({"features": [{"name": "a", "min": float("nan")}], "classes": list(CLASSES)}, "is not a finite number"),
        ({"features": [{"name": "a", "min": True}], "classes": list(CLASSES)}, "is not a finite number"),
        ({"classes": list(CLASSES)}, "not a valid signature: KeyError('features')"),
    ],
)
def test_a_signature_document_that_is_not_one_is_refused_in_one_line(document, problem):
    with pytest.raises(SignatureError, match="not a valid signature") as raised:
        Signature.from_json(document)
    assert problem in str(raised.value)


def test_a_feature_order_change_is_a_difference_a_client_sees():
    before = Signature(FEATURES, CLASSES)
    after = Signature(tuple(reversed(FEATURES)), CLASSES)
    assert after.differences(before) == ["feature order changed: a, b → b, a"]


def baseline_document(**changes):
    feature = {"name": "a", "count": 10, "missing": 0, "min": 0, "max": 1, "mean": 0.5, "std": 0.3}
    feature.update({"edges": [0.5], "shares": [0.5, 0.5]})
    document = {
        "features": [feature],
        "class_priors": [0.5, 0.5],
        "confidence_quantiles": {"p50": 0.9},
        "low_confidence_threshold": 0.6,
    }
    for key, value in changes.items():
        if key in feature:
            feature[key] = value
        else:
            document[key] = value
    return document


def test_a_valid_baseline_document_reads_back_to_itself():
    assert Baseline.from_json(baseline_document()).as_json() == baseline_document()


@pytest.mark.parametrize(
    ("changes", "problem"),
    [
        ({"shares": [1.0]}, "feature 'a': 1 edges need ascending edges and one share more, has 1"),
        ({"edges": [0.7, 0.2], "shares": [0.2, 0.3, 0.5]}, "feature 'a': 2 edges need ascending edges"),
        ({"low_confidence_threshold": 1.5}, "low-confidence threshold 1.5 is not within [0, 1]"),
        ({"mean": float("inf")}, "not a valid baseline: ValueError('inf is not a finite number')"),
        ({"class_priors": None}, "not a valid baseline: TypeError("),
    ],
)
def test_a_baseline_that_cannot_describe_its_features_is_refused_in_one_line(changes, problem):
    with pytest.raises(BaselineError) as raised:
        Baseline.from_json(baseline_document(**changes))
    assert problem in str(raised.value)
    assert "\n" not in str(raised.value)
