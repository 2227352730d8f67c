"""The stage runner: every stage in the documented order, and nothing after the first that fails."""

from __future__ import annotations

import pytest

from rehearsal.__main__ import lines, summary
from rehearsal.stages import STAGES, Played, StageFailed, play


class ScriptedRehearsal:
    """Answers each stage method (the merge through both deploy stages); `failing` raises StageFailed,
    `broken` a plain error (a bug)."""

    def __init__(self, failing: str = "", broken: str = "") -> None:
        self.called: list[str] = []
        self.failing, self.broken = failing, broken

    def run_stage(self, method: str) -> Played:
        return getattr(self, method)()

    def __getattr__(self, method: str):
        def stage():
            self.called.append(method)
            if method == self.failing:
                raise StageFailed(f"{method} ended otherwise\nthe log")
            if method == self.broken:
                raise KeyError("a bug")
            runs = {"staging": "all at once", "production": "canary"} if method == "merge" else {}
            return Played(f"{method} done", "its log", runs)

        return stage


def test_every_stage_runs_in_the_documented_order():
    rehearsal = ScriptedRehearsal()
    outcomes = play(rehearsal, lambda outcome: None)
    assert rehearsal.called == [method for _, method in STAGES]
    assert [outcome.status for outcome in outcomes] == ["ok"] * len(STAGES)
    assert [stage for stage, _ in STAGES] == [
        "bootstrap", "first merge", "first retrain", "merge", "failing release", "manual rollback",
        "drift check", "model monitor", "retrain, gate fails",
    ]  # fmt: skip


def test_nothing_runs_after_the_first_stage_that_fails():
    rehearsal = ScriptedRehearsal(failing="merge")
    reported = []
    outcomes = play(rehearsal, reported.append)
    assert rehearsal.called == ["bootstrap", "first_merge", "first_retrain", "merge"]
    assert [outcome.status for outcome in outcomes[3:]] == ["FAILED"] + ["not rehearsed"] * (len(STAGES) - 4)
    assert outcomes[3].detail == "merge ended otherwise"
    assert reported == outcomes
    assert lines(outcomes[4]) == ["failing release: not rehearsed: an earlier stage failed"]


def test_a_bug_fails_its_stage_with_the_traceback():
    outcomes = play(ScriptedRehearsal(broken="bootstrap"), lambda outcome: None)
    assert outcomes[0].status == "FAILED"
    assert outcomes[0].detail == "KeyError: 'a bug'"
    assert "Traceback" in outcomes[0].log


def test_the_summary_has_a_row_and_the_log_of_each_stage():
    outcomes = play(ScriptedRehearsal(failing="drift_check"), lambda outcome: None)
    text = summary(outcomes, 12.0)
    assert "| drift check | | FAILED | 0s | drift_check ended otherwise |" in text
    assert "| retrain, gate fails | | not rehearsed | 0s | an earlier stage failed |" in text
    assert text.count("its log") == 6
    assert "No Docker image is built or pushed" in text


def test_a_stage_has_a_line_per_deploy_stage_its_runs_went_through():
    outcomes = play(ScriptedRehearsal(), lambda outcome: None)
    merge = next(outcome for outcome in outcomes if outcome.stage == "merge")
    assert lines(merge) == [
        "merge (0s): ok: merge done",
        "  merge / staging: all at once",
        "  merge / production: canary",
    ]
    text = summary(outcomes, 1.0)
    assert (
        "| merge | | ok | 0s | merge done |\n| | staging | ok | | all at once |\n| | production | ok | | canary |"
        in text
    )


def test_the_stages_can_stop_after_a_named_one():
    rehearsal = ScriptedRehearsal()
    outcomes = play(rehearsal, lambda outcome: None, until="merge")
    assert rehearsal.called == ["bootstrap", "first_merge", "first_retrain", "merge"]
    assert [outcome.stage for outcome in outcomes][-1] == "merge"
    with pytest.raises(ValueError, match="no stage is named 'merges'"):
        play(rehearsal, lambda outcome: None, until="merges")
