"""One job played from its YAML: step conditions, outputs and GITHUB_ENV between steps, `uses:` steps
replaced by their substitutes, and local composite actions run from their own steps."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from rehearsal.job import Job, NotRehearsable, oidc_subject

WORKFLOW = """
name: example
on:
  workflow_call:
    inputs:
      who: {type: string, default: world}
      stage: {type: string, default: ""}
jobs:
  release:
    runs-on: ubuntu-24.04
    environment:
      name: ${{ inputs.stage }}
      url: https://example.com
    steps: [{run: "true"}]
  plan:
    runs-on: ubuntu-24.04
    environment: production
    env:
      ROLE: ${{ format('role-{0}', inputs.who) }}
    steps:
      - name: Remember
        run: echo "LATER=from $ROLE" >> "$GITHUB_ENV"
      - name: Read the env context
        id: read
        uses: $/.github/actions/greet
        with:
          who: ${{ env.ROLE }} and ${{ env.LATER }}
  greet:
    runs-on: ubuntu-24.04
    env:
      GREETING: hello
    steps:
      - name: Check out
        uses: actions/checkout@0000000000000000000000000000000000000000
      - name: Remember
        run: echo "REMEMBERED=$GREETING" >> "$GITHUB_ENV"
      - name: Greet through the action
        id: action
        uses: $/.github/actions/greet
        with:
          who: ${{ inputs.who }}
      - name: Use its output
        id: use
        env:
          SAID: ${{ steps.action.outputs.said }}
        run: echo "line=$SAID and $REMEMBERED" >> "$GITHUB_OUTPUT"
      - name: Only after a failure
        if: failure()
        run: "true"
"""
ACTION = """
name: greet
inputs:
  who: {required: true}
  punctuation: {default: "!"}
outputs:
  said:
    value: ${{ steps.say.outputs.said }}
runs:
  using: composite
  steps:
    - name: Say
      id: say
      shell: bash
      env:
        WHO: ${{ inputs.who }}
        MARK: ${{ inputs.punctuation }}
      run: echo "said=$GREETING $WHO$MARK" >> "$GITHUB_OUTPUT"
    - name: Fail when asked
      if: inputs.who == 'nobody'
      shell: bash
      run: exit 3
    - name: Clean up after a failure
      if: failure()
      shell: bash
      run: "true"
"""


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    (tmp_path / ".github" / "actions" / "greet").mkdir(parents=True)
    (tmp_path / ".github" / "actions" / "greet" / "action.yml").write_text(textwrap.dedent(ACTION))
    (tmp_path / "example.yml").write_text(textwrap.dedent(WORKFLOW))
    return tmp_path


def job(workspace: Path, who: str, seen: list[str] | None = None) -> Job:
    actions = {"actions/checkout@": lambda job, settings: "the workspace"}
    seen = [] if seen is None else seen
    played = Job(str(workspace / "example.yml"), "greet", workspace, {"PATH": "/usr/bin:/bin"}, {}, actions,
                 after_step=lambda job, step_id, context: seen.append(step_id))  # fmt: skip
    return played.with_inputs({"who": who})


def test_a_composite_action_runs_its_steps_with_its_inputs_and_gives_its_outputs(workspace: Path):
    seen: list[str] = []
    played = job(workspace, "octo", seen)
    assert played.run()
    assert played.output("use", "line") == "hello octo! and hello"  # job env, input default, GITHUB_ENV
    assert [(record.name, record.outcome) for record in played.records] == [
        ("Check out", "substituted"),
        ("Remember", "success"),
        ("Greet through the action / Say", "success"),
        ("Greet through the action / Fail when asked", "skipped"),
        ("Greet through the action / Clean up after a failure", "skipped"),
        ("Use its output", "success"),
        ("Only after a failure", "skipped"),
    ]
    assert seen == ["say", "action", "use"]  # every step with an id, the action's own too
    assert "steps.say.outputs.said" not in played.context  # the action's steps are its own


def test_a_failing_action_step_fails_the_job(workspace: Path):
    played = job(workspace, "nobody")
    assert not played.run()
    outcomes = {record.name: record.outcome for record in played.records}
    assert outcomes["Greet through the action / Fail when asked"] == "failure"
    assert outcomes["Greet through the action / Clean up after a failure"] == "success"
    assert outcomes["Use its output"] == "skipped"
    assert outcomes["Only after a failure"] == "success"
    assert played.context["steps.action.outcome"] == "failure"


def test_an_action_without_a_substitute_is_not_guessed(workspace: Path):
    played = Job(str(workspace / "example.yml"), "greet", workspace, {}, {}, {})
    with pytest.raises(NotRehearsable, match="actions/checkout"):
        played.run()


def test_what_a_stand_in_did_during_a_step_is_noted_on_that_step(workspace: Path):
    """The EMF stand-in notes each GetMetricData it answers; the note lands on the step that asked."""
    pending: list[str] = []
    actions = {"actions/checkout@": lambda job, settings: pending.append("stood in for a call") or "the workspace"}
    played = Job(str(workspace / "example.yml"), "greet", workspace, {"PATH": "/usr/bin:/bin"}, {}, actions,
                 step_notes=lambda: [pending.pop() for _ in list(pending)])  # fmt: skip
    assert played.with_inputs({"who": "octo"}).run()
    notes = {record.name: record.note for record in played.records}
    assert notes["Check out"] == "the workspace; stood in for a call"
    assert notes["Remember"] == ""


@pytest.mark.parametrize(
    ("job_id", "inputs", "environment", "subject"),
    [
        ("release", {"stage": "staging"}, "staging", "repo:o/r:environment:staging"),
        ("release", {"stage": "production"}, "production", "repo:o/r:environment:production"),
        ("release", {}, None, "repo:o/r:ref:refs/heads/main"),  # a name that evaluates to '' is none
        ("plan", {}, "production", "repo:o/r:environment:production"),  # a literal name
        ("greet", {}, None, "repo:o/r:ref:refs/heads/main"),
    ],
)
def test_the_environment_name_is_evaluated_under_the_inputs(workspace, job_id, inputs, environment, subject):
    """`environment: name: ${{ inputs.stage }}` (the release's): the stage's variables and OIDC subject."""
    played = Job(str(workspace / "example.yml"), job_id, workspace, {}, {}, {}).with_inputs(inputs)
    assert played.environment == environment
    assert oidc_subject("repo:o/r", played.environment) == subject


def test_the_env_context_holds_the_job_env_and_what_steps_wrote_to_github_env(workspace):
    played = Job(str(workspace / "example.yml"), "plan", workspace, {"PATH": "/usr/bin:/bin"}, {}, {})
    assert played.with_inputs({"who": "octo"}).run()
    assert played.output("read", "said") == " role-octo and from role-octo!"  # GREETING is the other job's
    assert "env.PATH" not in played.context  # the runner's variables are not the env context
