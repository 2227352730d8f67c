"""The `if:` subset the rehearsal evaluates, against what GitHub does with the workflows' own conditions."""

from __future__ import annotations

import json

import pytest

from rehearsal.conditions import JobStatus, UnsupportedExpression, evaluate_condition, evaluate_expression
from rehearsal.steps import EXPRESSION
from tests.workflows.conftest import actions, steps_of, workflows

# vars.STAGES as the bootstrap writes it (its github_variables output): the workflows read it with fromJSON().
STAGES = json.dumps(
    {
        "staging": {"plan_role_arn": "arn:aws:iam::1:role/s-plan", "state_key": "p/staging/terraform.tfstate"},
        "production": {"plan_role_arn": "arn:aws:iam::1:role/p-plan", "state_key": "p/live/terraform.tfstate"},
    }
)
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
        evaluate_condition(condition, {"vars.STAGES": STAGES}, OK)


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
        # fromJSON: a property by name, by an expression's value, in any case, and null for a missing one
        ("fromJSON(vars.STAGES).staging.plan_role_arn", {"vars.STAGES": STAGES}, "arn:aws:iam::1:role/s-plan"),
        (
            "fromJSON(vars.STAGES)[inputs.stage].state_key",
            {"vars.STAGES": STAGES, "inputs.stage": "production"},
            "p/live/terraform.tfstate",
        ),
        ("fromJSON(vars.STAGES).PRODUCTION['plan_role_arn']", {"vars.STAGES": STAGES}, "arn:aws:iam::1:role/p-plan"),
        ("fromJSON(vars.STAGES)[inputs.stage].state_key", {"vars.STAGES": STAGES, "inputs.stage": "qa"}, ""),
        ("fromJSON(vars.STAGES).qa == ''", {"vars.STAGES": STAGES}, "true"),  # null prints as ''
        ('fromJSON(\'["a", "b"]\')[1]', {}, "b"),
        ("fromJSON('[\"a\"]')[3]", {}, ""),
        ("fromJSON('true') && 'yes' || 'no'", {}, "yes"),
        ("fromJSON('0') && 'yes' || 'no'", {}, "no"),  # 0 is false
        ("fromJSON('2')", {}, "2"),
        ("toJSON(fromJSON('{\"a\": 1}'))", {}, '{\n  "a": 1\n}'),
        # a context value's `.` is part of its name; a property of text is null
        ("(inputs.stage).name", {"inputs.stage": "staging"}, ""),
    ],
)
def test_expressions_give_values(expression, context, value):
    assert evaluate_expression(expression, context) == value


@pytest.mark.parametrize("expression", ["fromJSON(vars.STAGES)", "fromJSON('{')", "fromJSON(vars.STAGES)[inputs.x"])
def test_what_github_would_fail_on_fails_here(expression):
    """fromJSON of '' (an unset variable) or of broken JSON fails the step on GitHub: here too, with the text."""
    with pytest.raises(UnsupportedExpression, match=r"fromJSON|brackets"):
        evaluate_expression(expression, {"vars.STAGES": "" if "x" not in expression else STAGES})


def test_every_expression_in_the_workflows_can_be_read():
    """with:, env: and the rest: a `${{ }}` the evaluator cannot read fails here."""
    for document in [*workflows().values(), *actions().values()]:
        expressions = [match.group(1) for match in EXPRESSION.finditer(document.text)]
        # Found by the rehearsal's own pattern, so every `${{` it would meet is checked, none skipped.
        assert len(expressions) == document.text.count("${{"), document.name
        for expression in expressions:
            evaluate_expression(expression, {"vars.STAGES": STAGES})
