"""The stage runner: every stage in the documented order, and nothing after the first that fails."""

from __future__ import annotations

from rehearsal.__main__ import line, summary
from rehearsal.stages import STAGES, StageFailed, play


class ScriptedRehearsal:
    """Answers each stage method; `failing` raises StageFailed, `broken` a plain error (a bug)."""

    def __init__(self, failing: str = "", broken: str = "") -> None:
        self.called: list[str] = []
        self.failing, self.broken = failing, broken

    def run_stage(self, method: str) -> tuple[str, str]:
        return getattr(self, method)()

    def __getattr__(self, method: str):
        def stage():
            self.called.append(method)
            if method == self.failing:
                raise StageFailed(f"{method} ended otherwise\nthe log")
            if method == self.broken:
                raise KeyError("a bug")
            return f"{method} done", "its log"

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
    assert line(outcomes[4]) == "failing release: not rehearsed: an earlier stage failed"


def test_a_bug_fails_its_stage_with_the_traceback():
    outcomes = play(ScriptedRehearsal(broken="bootstrap"), lambda outcome: None)
    assert outcomes[0].status == "FAILED"
    assert outcomes[0].detail == "KeyError: 'a bug'"
    assert "Traceback" in outcomes[0].log


def test_the_summary_has_a_row_and_the_log_of_each_stage():
    outcomes = play(ScriptedRehearsal(failing="drift_check"), lambda outcome: None)
    text = summary(outcomes, 12.0)
    assert "| drift check | FAILED | drift_check ended otherwise |" in text
    assert "| retrain, gate fails | not rehearsed | an earlier stage failed |" in text
    assert text.count("its log") == 6
    assert "No Docker image is built or pushed" in text
