"""What makes a log line a valid CloudWatch Embedded Metric Format document (the spec's rules, checked)."""

import json
import numbers

MAX_METRICS = 100
MAX_DIMENSION_KEYS = 30
MAX_VALUES = 100
MAX_LINE_BYTES = 1024 * 1024


def check_emf_line(line: str) -> dict:
    """Parse one JSON log line and assert it is valid EMF; returns the parsed line."""
    assert len(line.encode()) < MAX_LINE_BYTES, "an EMF event must be under 1 MB"
    document = json.loads(line)
    directive = document["_aws"]
    assert isinstance(directive["Timestamp"], int)
    assert directive["Timestamp"] > 0
    (metrics,) = directive["CloudWatchMetrics"]
    assert isinstance(metrics["Namespace"], str)
    assert 1 <= len(metrics["Namespace"]) <= 1024
    definitions = metrics["Metrics"]
    assert 1 <= len(definitions) <= MAX_METRICS
    names = [definition["Name"] for definition in definitions]
    assert len(set(names)) == len(names), "a metric defined twice"
    for definition in definitions:
        assert isinstance(definition["Name"], str)
        assert 1 <= len(definition["Name"]) <= 255
        assert definition.get("Unit", "None") in {"None", "Count", "Percent", "Milliseconds", "Seconds"}
        value = document[definition["Name"]]  # every metric is a top-level member
        values = value if isinstance(value, list) else [value]
        assert 1 <= len(values) <= MAX_VALUES
        assert all(isinstance(v, numbers.Real) and not isinstance(v, bool) for v in values), definition["Name"]
    for dimension_set in metrics["Dimensions"]:
        assert 1 <= len(dimension_set) <= MAX_DIMENSION_KEYS
        for key in dimension_set:
            assert isinstance(document[key], str), f"dimension {key} must be a string"
            assert document[key], f"dimension {key} must not be empty"
    return document
