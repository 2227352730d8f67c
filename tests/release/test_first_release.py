"""The very first release: Terraform created the function from the release's own image and published it as
version 1, so publishing again returns version 1, which the alias already serves. There is no earlier
version to canary against or to roll back to: the version is verified where it stands, and a failure says
so instead of "rolling back" to itself."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.release.test_rollout import (
    PUBLISH_VERSION,
    UPDATE_ALIAS,
    Fault,
    Function,
    Recorded,
    faulty_endpoint,
    run_rollout,
)

# Fixtures of the rollout tests (the `as` form marks them as deliberate re-exports).
from tests.release.test_rollout import function as function
from tests.release.test_rollout import lambda_client as lambda_client

# Lambda publishes no new version for an unchanged image and answers with the existing one (moto makes a
# new one on every update-function-code, so the proxy answers as Lambda does).
SAME_VERSION_AGAIN = Fault(*PUBLISH_VERSION, patch={"Version": "1"})


def first_release(function: Function, *verification: str) -> list[str]:
    # The image Terraform created the function from: the release ships the image it just built.
    arguments = ["deploy", "--function", function.name, "--image-uri", function.first_image, "--all-at-once"]
    arguments += ["--poll-interval", "0.05"]
    return [*arguments, "--", *verification] if verification else arguments


def test_a_first_release_is_verified_in_place(
    aws: dict[str, str], moto_endpoint: str, tmp_path: Path, function: Function, serving: Any
) -> None:
    recorded = Recorded()
    with faulty_endpoint(moto_endpoint, SAME_VERSION_AGAIN, invoke=serving.handler, recorded=recorded) as endpoint:
        result = run_rollout(aws, tmp_path, *first_release(function, "true"), endpoint=endpoint)

    assert result.exit_code == 0, result.stderr
    assert result.outcome["status"] == "live"
    assert result.outcome["version"] == result.outcome["previous_version"] == "1"
    assert "verified in place" in result.outcome["outcome"]
    invoked = [path for method, path, _ in recorded.requests if method == "POST" and path.endswith("/invocations")]
    assert invoked, "the version must pass the pre-traffic check even though the alias already serves it"
    assert recorded.bodies(*UPDATE_ALIAS) == []


def test_a_failing_first_release_reports_no_rollback_target(
    aws: dict[str, str], moto_endpoint: str, tmp_path: Path, function: Function, serving: Any
) -> None:
    recorded = Recorded()
    with faulty_endpoint(moto_endpoint, SAME_VERSION_AGAIN, invoke=serving.handler, recorded=recorded) as endpoint:
        result = run_rollout(aws, tmp_path, *first_release(function, "false"), endpoint=endpoint)

    assert result.exit_code == 1, result.stderr
    assert result.outcome["status"] == "failed-no-rollback-target"
    assert "no earlier version to roll back to" in result.outcome["outcome"]
    assert recorded.bodies(*UPDATE_ALIAS) == [], "no rollback of version 1 to itself"
    assert "rolling back" not in result.stderr


def test_the_cleanup_step_skips_a_release_that_replaced_nothing() -> None:
    """The workflow's last-resort rollback must not move the alias from a version to itself either."""
    from rehearsal.steps import find_step

    condition = find_step("_release.yml", "release", "Roll back a cancelled or failed release")["if"]
    assert "steps.rollout.outputs.version != steps.rollout.outputs.previous-version" in condition
