"""Whole workflow runs: job order, job conditions, needs outputs, reusable workflows' inputs and outputs."""

from __future__ import annotations

import textwrap
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from rehearsal.workflow import job_order, play_workflow

CALLER = """
name: caller
on: workflow_dispatch
jobs:
  report:
    needs: [train, release]
    runs-on: ubuntu-24.04
    steps: [{run: "true"}]
  train:
    runs-on: ubuntu-24.04
    outputs:
      version: from the job
    steps: [{run: "true"}]
  release:
    needs: train
    uses: $/.github/workflows/_called.yml
    with:
      model: v-${{ needs.train.outputs.version }}
  gated:
    needs: train
    if: needs.train.outputs.version == 'never'
    runs-on: ubuntu-24.04
    steps: [{run: "true"}]
"""
CALLED = """
name: called
on:
  workflow_call:
    inputs:
      model: {type: string}
      share: {type: string, default: "0.1"}
    outputs:
      shipped:
        value: ${{ jobs.ship.outputs.shipped }}
jobs:
  ship:
    runs-on: ubuntu-24.04
    steps: [{run: "true"}]
"""


@dataclass
class FakeJob:
    """Stands for rehearsal.job.Job: records what it was given, succeeds unless told otherwise."""

    workflow: str
    job_id: str
    inputs: Mapping[str, str]
    fails: bool
    context: dict[str, str] = field(default_factory=dict)

    def run(self) -> bool:
        return not self.fails

    def outputs(self) -> dict[str, str]:
        if self.job_id == "train":
            return {"version": "7"}
        return {"shipped": f"{self.inputs.get('model')} at {self.inputs.get('share')}"} if self.job_id == "ship" else {}

    def log(self) -> str:
        return f"{self.job_id} ran"


@pytest.fixture
def workflows(tmp_path: Path) -> Path:
    (tmp_path / "caller.yml").write_text(textwrap.dedent(CALLER))
    (tmp_path / "_called.yml").write_text(textwrap.dedent(CALLED))
    return tmp_path


def player(failing: set[str]):
    played: list[FakeJob] = []

    def make_job(workflow: str, job_id: str, inputs: Mapping[str, str]) -> FakeJob:
        job = FakeJob(workflow, job_id, inputs, job_id in failing)
        played.append(job)
        return job

    return make_job, played


def test_jobs_run_after_what_they_need_and_reusable_workflows_get_their_inputs(workflows: Path):
    make_job, played = player(failing=set())
    run = play_workflow(str(workflows / "caller.yml"), make_job, context={"github.workflow": "caller"})
    assert [job.job_id for job in played] == ["train", "ship", "report"]
    assert played[1].context["github.workflow"] == "caller"  # a called workflow's job sees the caller's run
    assert run.results["release"].outputs == {"shipped": "v-7 at 0.1"}  # `with:` from needs, the input's default
    assert run.results["gated"].result == "skipped"
    assert played[2].context["needs.release.outputs.shipped"] == "v-7 at 0.1"
    assert run.succeeded
    assert run.job("ship").workflow == str(workflows / "_called.yml")


def test_a_failed_job_skips_what_needs_it(workflows: Path):
    make_job, played = player(failing={"train"})
    run = play_workflow(str(workflows / "caller.yml"), make_job)
    assert [job.job_id for job in played] == ["train"]
    assert {name: result.result for name, result in run.results.items()} == {
        "train": "failure",
        "release": "skipped",
        "gated": "skipped",
        "report": "skipped",
    }
    assert not run.succeeded


def test_a_job_not_played_counts_as_succeeded(workflows: Path):
    make_job, played = player(failing=set())
    run = play_workflow(str(workflows / "caller.yml"), make_job, skipped={"train": "CI runs it"})
    assert "train" not in [job.job_id for job in played]
    assert run.results["train"].note == "not played: CI runs it"
    assert run.results["release"].outputs == {"shipped": "v- at 0.1"}


def test_jobs_that_need_each_other_are_refused():
    with pytest.raises(ValueError, match="need each other"):
        job_order({"a": {"needs": "b"}, "b": {"needs": ["a"]}})
    with pytest.raises(ValueError, match="does not exist"):
        job_order({"a": {"needs": "missing"}})
