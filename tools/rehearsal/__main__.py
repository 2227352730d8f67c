"""`python -m rehearsal` (make rehearse): play the repository's documented life against a local moto
server by running the workflows' own `run:` steps; one line per stage, a markdown summary, and a non-zero
exit at the first rehearsed stage that does not end as documented."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from rehearsal import stages
from rehearsal.github import RELEASE_INPUTS
from rehearsal.servers import MOTO_OVER_HTTPS, moto_server
from rehearsal.stages import Life, Outcome, play
from rehearsal.steps import REPO_ROOT

BUILD_DIR = REPO_ROOT / "build"


def lines(outcome: Outcome) -> list[str]:
    """The stage's line, then one per deploy stage its runs went through ("  merge / staging: ...")."""
    took = f" ({outcome.seconds:.0f}s)" if outcome.status != "not rehearsed" else ""
    return [
        f"{outcome.stage}{took}: {outcome.status}: {outcome.detail}",
        *(f"  {outcome.stage} / {run}: {detail}" for run, detail in outcome.runs.items()),
    ]


def rows(outcome: Outcome) -> list[str]:
    def cell(text: str) -> str:
        return text.replace("|", "/")

    return [
        f"| {outcome.stage} | | {outcome.status} | {outcome.seconds:.0f}s | {cell(outcome.detail)} |",
        *(f"| | {run} | {outcome.status} | | {cell(detail)} |" for run, detail in outcome.runs.items()),
    ]


def summary(outcomes: list[Outcome], seconds: float) -> str:
    table = [row for outcome in outcomes for row in rows(outcome)]
    details = [f"\n### {o.stage}\n\n```\n{o.log}\n```" for o in outcomes if o.log]
    return "\n".join(
        [
            "# Rehearsal against moto",
            "",
            f"Whole workflow runs from their YAML, from an empty moto account, in {seconds:.0f}s.",
            "",
            stages.__doc__ or "",
            "moto_server runs with the corrections tools/rehearsal/moto_launch.py lists: requests count as HTTPS",
            "for bucket policies; published versions keep their code; an unchanged image publishes no version;",
            "a function's image must exist in ECR; a function reads back as written; plus CloudWatch Logs query",
            "definitions, which moto lacks. The release's canary waits",
            f"{float(RELEASE_INPUTS['canary-minutes']) * 60:g} seconds instead of 10 minutes, staging's alarm-wiring "
            f"check {float(RELEASE_INPUTS['alarm-check-minutes']) * 60:g} seconds instead of 2. No Docker image is "
            "built or pushed, and nothing reaches AWS or GitHub.",
            "",
            "| stage | deploy stage | outcome | time | detail |",
            "|---|---|---|---|---|",
            *table,
            *details,
            "",
        ]
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m rehearsal", description=__doc__)
    parser.add_argument("--summary", type=Path, default=BUILD_DIR / "rehearsal.md", help="markdown summary to write")
    parser.add_argument("--workspace", type=Path, default=BUILD_DIR / "rehearsal", help="checkout copy to play in")
    parser.add_argument(
        "--until",
        choices=[stage for stage, _ in stages.STAGES],
        default="",
        help="stop after this stage (while working on one; `make rehearse` plays them all)",
    )
    arguments = parser.parse_args(argv)
    started = time.monotonic()
    with (
        moto_server(arguments.workspace.parent / "rehearsal-moto.log", MOTO_OVER_HTTPS) as endpoint,
        Life.running(endpoint, arguments.workspace) as life,
    ):
        outcomes = play(life, lambda outcome: print("\n".join(lines(outcome)), flush=True), arguments.until)
    seconds = time.monotonic() - started
    arguments.summary.parent.mkdir(parents=True, exist_ok=True)
    arguments.summary.write_text(summary(outcomes, seconds))
    print(f"summary: {arguments.summary} ({seconds:.0f}s)")
    return 1 if any(outcome.status == "FAILED" for outcome in outcomes) else 0


if __name__ == "__main__":
    sys.exit(main())
