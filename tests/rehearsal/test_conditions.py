"""The `if:` subset the rehearsal evaluates, against what GitHub does with the workflows' own conditions."""

from __future__ import annotations

import pytest

from rehearsal.conditions import JobStatus, UnsupportedExpression, evaluate_condition, evaluate_expression
from rehearsal.steps import EXPRESSION
from tests.workflows.conftest import actions, steps_of, workflows

FAILED = JobStatus(failed=True)
CANCELLED = JobStatus(cancelled=True)
OK = JobStatus()


@pytest.mark.parametrize(
    ("condition", "context", "status", "runs"),
    [
        (None, {}, OK, True),
        (None, {}, FAILED, False),  # no condition means success()
        ("steps.model.outputs.uri != ''", {"steps.model.outputs.uri": "s3://b/m"}, OK, True),
        ("steps.model.outputs.uri != ''", {}, OK, False),  # a missing value is ''
        ("steps.model.outputs.uri != ''", {"steps.model.outputs.uri": "s3://b/m"}, FAILED, False),  # success() &&
        ("always() && steps.rollout.outputs.status != ''", {"steps.rollout.outputs.status": "live"}, FAILED, True),
        (
            "(cancelled() || failure()) && steps.rollout.outputs.version != ''",
            {"steps.rollout.outputs.version": "3"},
            FAILED,
            True,
        ),
        (
            "(cancelled() || failure()) && steps.rollout.outputs.version != ''",
            {"steps.rollout.outputs.version": "3"},
            CANCELLED,
            True,
        ),
        (
            "(cancelled() || failure()) && steps.rollout.outputs.version != ''",
            {"steps.rollout.outputs.version": "3"},
            OK,
            False,
        ),
        ("${{ inputs.terraform == 'true' }}", {"inputs.terraform": "true"}, OK, True),
        ("inputs.terraform == 'true'", {"inputs.terraform": "false"}, OK, False),
        ("!(inputs.x == 'a')", {"inputs.x": "b"}, OK, True),
        ("inputs.name == 'it''s'", {"inputs.name": "it's"}, OK, True),  # '' escapes a quote
        ("vars.AWS_PLAN_ROLE_ARN != ''", {}, OK, False),
        # GitHub ignores case when it compares strings: an input typed TRUE is true.
        ("inputs.terraform == 'true'", {"inputs.terraform": "TRUE"}, OK, True),
        ("'Main' != 'main'", {}, OK, False),
    ],
)
def test_conditions(condition, context, status, runs):
    assert evaluate_condition(condition, context, status) is runs


@pytest.mark.parametrize("condition", ["contains(github.ref, 'main')", "a == ", "(a == 'b'", "a > 1"])
def test_anything_else_is_refused_not_guessed(condition):
    with pytest.raises(UnsupportedExpression):
        evaluate_condition(condition, {"a": "b"}, OK)


def test_every_condition_in_the_workflows_can_be_read():
    """A new `if:` the evaluator cannot read fails here, not halfway through a rehearsal."""
    documents = [*workflows().values(), *actions().values()]
    conditions = [step["if"] for document in documents for _, step in steps_of(document) if "if" in step]
    conditions += [job["if"] for document in workflows().values() for job in document.jobs.values() if "if" in job]
    assert conditions
    for condition in conditions:
        evaluate_condition(condition, {}, OK)


@pytest.mark.parametrize(
    ("expression", "context", "value"),
    [
        ("inputs.repository", {"inputs.repository": "r"}, "r"),
        ("inputs.missing", {}, ""),
        (
            "format('{0}:{1}', inputs.repository, steps.model.outputs.tag)",
            {"inputs.repository": "r", "steps.model.outputs.tag": "t"},
            "r:t",
        ),
        # the build action's tag: a value picked with && and ||
        (
            "inputs.repository != '' && format('{0}:{1}', inputs.repository, 'v1') || format('lambda-model:{0}', 'v1')",
            {"inputs.repository": "ecr/r"},
            "ecr/r:v1",
        ),
        (
            "inputs.repository != '' && format('{0}:{1}', inputs.repository, 'v1') || format('lambda-model:{0}', 'v1')",
            {},
            "lambda-model:v1",
        ),
        ("inputs.repository != ''", {}, "false"),
        ("inputs.repository == ''", {}, "true"),
    ],
)
def test_expressions_give_values(expression, context, value):
    assert evaluate_expression(expression, context) == value


def test_every_expression_in_the_workflows_can_be_read():
    """with:, env: and the rest: a `${{ }}` the evaluator cannot read fails here."""
    for document in [*workflows().values(), *actions().values()]:
        expressions = [match.group(1) for match in EXPRESSION.finditer(document.text)]
        # Found by the rehearsal's own pattern, so every `${{` it would meet is checked, none skipped.
        assert len(expressions) == document.text.count("${{"), document.name
        for expression in expressions:
            evaluate_expression(expression, {})
