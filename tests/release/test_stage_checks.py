"""The checks between the stages, against moto, run as the release workflow runs them: staging marks the
digest it passed (`mark-staged`: a `<tag>-staged` tag on the same manifest), production refuses a digest
without one (`check-staged`) and a live image whose commit this run's does not contain (`check-newer-code`),
and staging's alarm-wiring check (`verify-alarms`) sends traffic through the API and needs every watched
per-version alarm to see the version."""

from __future__ import annotations

import json
import subprocess
import sys
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pytest

from tests.release.test_rollout import Alarms, Function, Result, run_rollout

# Fixtures of the rollout tests (the `as` form marks them as deliberate re-exports).
from tests.release.test_rollout import alarms as alarms
from tests.release.test_rollout import canary_api as canary_api
from tests.release.test_rollout import function as function
from tests.release.test_rollout import lambda_client as lambda_client
from tests.support.canary_api import CanaryApi
from tests.support.canary_api import serving as serving_api

MANIFEST_TYPE = "application/vnd.docker.distribution.manifest.v2+json"


@dataclass
class Registry:
    """An immutable-tag repository, as the bootstrap makes the shared one."""

    client: Any
    name: str
    uri: str

    def push(self, tag: str) -> str:
        """A new image under `tag`; returns it by digest, as build-image's image-uri output."""
        layer = {"mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip", "size": 2,
                 "digest": f"sha256:{uuid.uuid4().hex * 2}"}  # fmt: skip
        manifest = {
            "schemaVersion": 2,
            "mediaType": MANIFEST_TYPE,
            "config": {**layer, "mediaType": "application/vnd.docker.container.image.v1+json"},
            "layers": [layer],  # moto's digest is made of the layers'
        }
        image = self.client.put_image(repositoryName=self.name, imageManifest=json.dumps(manifest), imageTag=tag)
        return f"{self.uri}@{image['image']['imageId']['imageDigest']}"

    def tags(self, image_uri: str) -> list[str]:
        digest = image_uri.split("@", 1)[1]
        details = self.client.describe_images(repositoryName=self.name, imageIds=[{"imageDigest": digest}])
        return sorted(details["imageDetails"][0]["imageTags"])


@pytest.fixture
def registry(aws: dict[str, str]) -> Registry:
    client = boto3.client("ecr")
    name = f"lambda-model-{uuid.uuid4().hex[:8]}"
    uri = client.create_repository(repositoryName=name, imageTagMutability="IMMUTABLE")["repository"]["repositoryUri"]
    return Registry(client, name, uri)


def sha(text: str) -> str:
    return (uuid.uuid5(uuid.NAMESPACE_DNS, text).hex + "0" * 8)[:40]


# ------------------------------------------------------------------------------------ mark and check staged


def test_mark_staged_tags_the_same_digest_and_check_staged_then_passes(
    aws: dict[str, str], tmp_path: Path, registry: Registry
) -> None:
    image = registry.push(f"{sha('a')}-v1")
    marked = run_rollout(aws, tmp_path, "mark-staged", "--image-uri", image)
    assert marked.exit_code == 0, marked.stderr
    assert registry.tags(image) == [f"{sha('a')}-v1", f"{sha('a')}-v1-staged"]
    assert marked.outputs["added"] == f"{sha('a')}-v1-staged"

    checked = run_rollout(aws, tmp_path, "check-staged", "--image-uri", image)
    assert checked.exit_code == 0, checked.stderr
    assert checked.outcome["staged_tags"] == f"{sha('a')}-v1-staged"


def test_marking_a_staged_digest_again_changes_nothing(aws: dict[str, str], tmp_path: Path, registry: Registry) -> None:
    """A re-run of the staging job: the tag is immutable, and already says what it should."""
    image = registry.push(f"{sha('b')}-v1")
    assert run_rollout(aws, tmp_path, "mark-staged", "--image-uri", image).exit_code == 0
    again = run_rollout(aws, tmp_path, "mark-staged", "--image-uri", image)
    assert again.exit_code == 0, again.stderr
    assert again.outcome["added"] == ""
    assert registry.tags(image) == [f"{sha('b')}-v1", f"{sha('b')}-v1-staged"]


def test_check_staged_refuses_a_digest_staging_did_not_pass(
    aws: dict[str, str], tmp_path: Path, registry: Registry
) -> None:
    staged = registry.push(f"{sha('c')}-v1")
    run_rollout(aws, tmp_path, "mark-staged", "--image-uri", staged)
    # Another digest, even one built from the same commit, is not staged by its sibling's tag.
    unstaged = registry.push(f"{sha('c')}-v2")
    checked = run_rollout(aws, tmp_path, "check-staged", "--image-uri", unstaged)
    assert checked.exit_code == 1
    assert checked.outcome["status"] == "refused"
    assert f"no -staged tag (tags: {sha('c')}-v2)" in checked.outcome["error"]


@pytest.mark.parametrize(
    ("image", "message"),
    [
        pytest.param("{uri}:latest", "is not an image by digest", id="a tag, which can name another image later"),
        pytest.param("{uri}@sha256:" + "0" * 64, "is not in the repository", id="a digest the repository lacks"),
    ],
)
def test_an_image_that_cannot_be_checked_is_a_one_line_error(
    aws: dict[str, str], tmp_path: Path, registry: Registry, image: str, message: str
) -> None:
    for command in ("check-staged", "mark-staged"):
        result = run_rollout(aws, tmp_path, command, "--image-uri", image.format(uri=registry.uri))
        assert result.exit_code == 2, (command, result.stderr)
        assert message in result.outcome["error"]
        assert "\n" not in result.outcome["error"]


def serve(lambda_client: Any, image_uri: str) -> Function:
    """A function whose `live` alias serves `image_uri` (by digest), as a release leaves it."""
    function_name = f"lambda-model-{uuid.uuid4().hex[:8]}"
    role = boto3.client("iam").create_role(
        RoleName=f"fn-{function_name}",
        AssumeRolePolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}]}),
    )["Role"]["Arn"]  # fmt: skip
    lambda_client.create_function(
        FunctionName=function_name, Role=role, PackageType="Image", Code={"ImageUri": image_uri}
    )
    version = lambda_client.publish_version(FunctionName=function_name)["Version"]
    lambda_client.create_alias(FunctionName=function_name, Name="live", FunctionVersion=version)
    return Function(function_name, image_uri.split("@")[0], image_uri)


def test_check_staged_reads_the_image_a_function_serves(
    aws: dict[str, str], tmp_path: Path, registry: Registry, lambda_client: Any
) -> None:
    """The drift check's stage-skew question: does production serve an image staging passed?"""
    staged, unstaged = registry.push(f"{sha('d')}-v1"), registry.push(f"{sha('e')}-v1")
    run_rollout(aws, tmp_path, "mark-staged", "--image-uri", staged)
    passed = run_rollout(aws, tmp_path, "check-staged", "--function", serve(lambda_client, staged).name)
    assert passed.exit_code == 0, passed.stderr
    assert passed.outcome["image_uri"] == staged
    bypassed = run_rollout(aws, tmp_path, "check-staged", "--function", serve(lambda_client, unstaged).name)
    assert bypassed.exit_code == 1
    assert unstaged in bypassed.outcome["error"]


# --------------------------------------------------------------------------------------- check-newer-code


def git(checkout: Path, *arguments: str) -> str:
    environment = {"GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.com", "GIT_COMMITTER_NAME": "t",
                   "GIT_COMMITTER_EMAIL": "t@example.com", "PATH": "/usr/bin:/bin", "HOME": str(checkout)}  # fmt: skip
    completed = subprocess.run(
        ["git", *arguments], cwd=checkout, env=environment, capture_output=True, text=True, check=True
    )
    return completed.stdout.strip()


@pytest.fixture
def history(tmp_path: Path) -> tuple[Path, str, str, str]:
    """A checkout with main = older -> newer, and a side branch off older that main does not contain."""
    checkout = tmp_path / "checkout"
    checkout.mkdir()
    git(checkout, "init", "-q", "-b", "main")
    git(checkout, "commit", "-q", "--allow-empty", "-m", "older")
    older = git(checkout, "rev-parse", "HEAD")
    git(checkout, "commit", "-q", "--allow-empty", "-m", "newer")
    newer = git(checkout, "rev-parse", "HEAD")
    git(checkout, "checkout", "-q", "-b", "side", older)
    git(checkout, "commit", "-q", "--allow-empty", "-m", "side")
    side = git(checkout, "rev-parse", "HEAD")
    git(checkout, "checkout", "-q", "main")
    return checkout, older, newer, side


def newer_code(
    aws: dict[str, str], tmp_path: Path, checkout: Path, function: Function, commit: str, *extra: str
) -> Result:
    arguments = ("check-newer-code", "--function", function.name, "--commit", commit, *extra)
    return run_rollout(aws, tmp_path, *arguments, cwd=checkout)


@pytest.mark.parametrize("live", ["older", "newer"])
def test_a_live_image_of_an_ancestor_or_the_same_commit_passes(
    aws: dict[str, str], tmp_path: Path, registry: Registry, lambda_client: Any, history: tuple, live: str
) -> None:
    checkout, older, newer, _ = history
    live_commit = {"older": older, "newer": newer}[live]
    function = serve(lambda_client, registry.push(f"{live_commit}-v1"))
    result = newer_code(aws, tmp_path, checkout, function, newer)
    assert result.exit_code == 0, result.stderr
    assert result.outcome["live_commit"] == live_commit


@pytest.mark.parametrize("live", ["newer", "side"])
def test_a_live_image_with_code_this_commit_lacks_is_refused(
    aws: dict[str, str], tmp_path: Path, registry: Registry, lambda_client: Any, history: tuple, live: str
) -> None:
    """A retrain started on an older main (newer), or a release of a commit that is not on main (side)."""
    checkout, older, newer, side = history
    live_commit = {"newer": newer, "side": side}[live]
    # The staged twin names the same commit: it is read as one.
    image = registry.push(f"{live_commit}-v1")
    run_rollout(aws, tmp_path, "mark-staged", "--image-uri", image)
    function = serve(lambda_client, image)
    result = newer_code(aws, tmp_path, checkout, function, older)
    assert result.exit_code == 1, result.stderr
    assert f"holds commit {live_commit}, which {older} does not contain" in result.outcome["error"]
    allowed = newer_code(aws, tmp_path, checkout, function, older, "--allow-older-code")
    assert allowed.exit_code == 0, allowed.stderr
    assert allowed.outcome["verdict"].startswith("allowed: ")


@pytest.mark.parametrize(
    ("tag", "message"),
    [
        pytest.param(f"{sha('unknown')}-v1", "git cannot compare", id="a commit the checkout lacks (shallow clone)"),
        pytest.param("hand-pushed", "which code it holds is unknown", id="no <commit>-<model> tag"),
    ],
)
def test_a_live_image_whose_code_cannot_be_placed_is_never_a_pass(
    aws: dict[str, str], tmp_path: Path, registry: Registry, lambda_client: Any, history: tuple, tag: str,
    message: str,
) -> None:  # fmt: skip
    checkout, _, newer, _ = history
    function = serve(lambda_client, registry.push(tag))
    result = newer_code(aws, tmp_path, checkout, function, newer)
    assert result.exit_code == 1, result.stderr
    assert result.outcome["status"] == "refused"
    assert message in result.outcome["error"]
    allowed = newer_code(aws, tmp_path, checkout, function, newer, "--allow-older-code")
    assert allowed.exit_code == 0, allowed.stderr
    assert message in allowed.outcome["verdict"]


def test_the_commit_must_be_a_full_sha(
    aws: dict[str, str], tmp_path: Path, registry: Registry, lambda_client: Any, history: tuple
) -> None:
    checkout, _, newer, _ = history
    function = serve(lambda_client, registry.push(f"{newer}-v1"))
    result = newer_code(aws, tmp_path, checkout, function, newer[:7])
    assert result.exit_code == 2
    assert "is not a full commit sha" in result.outcome["error"]


# ------------------------------------------------------------------------------------------- verify-alarms


def verify_alarms(function: Function, alarms: Alarms, url: str, *extra: str) -> list[str]:
    return [
        "verify-alarms", "--function", function.name, "--endpoint-url", url, "--alarm-prefix", alarms.prefix,
        "--minutes", "0.03", "--settle-minutes", "0.05", "--poll-interval", "0.05",
        "--requests-per-second", "50", "--min-invocations", "2", *extra,
    ]  # fmt: skip


def test_traffic_every_per_version_alarm_sees_passes_the_alarm_check(
    aws: dict[str, str], tmp_path: Path, function: Function, alarms: Alarms, canary_api: CanaryApi
) -> None:
    with serving_api(canary_api) as url:
        result = run_rollout(aws, tmp_path, *verify_alarms(function, alarms, url))
    assert result.exit_code == 0, result.stderr
    assert result.outcome["status"] == "passed"
    assert set(canary_api.executed) == {"1"}, "the traffic went through the API to the alias's version"
    assert 2 <= int(result.outcome["invocations"]) <= len(canary_api.executed)
    assert set(result.outcome["alarms_watched"].split(",")) == set(alarms.names)
    assert result.outputs["status"] == "passed"


def test_a_per_version_alarm_without_data_for_the_version_fails_the_alarm_check(
    aws: dict[str, str], tmp_path: Path, function: Function, alarms: Alarms, canary_api: CanaryApi
) -> None:
    """An alarm wired to a metric the version does not publish stays quiet in any canary: staging says so."""
    canary_api.metrics = ("Invocations", "Errors")  # no Duration: the duration alarm has nothing to judge
    with serving_api(canary_api) as url:
        result = run_rollout(aws, tmp_path, *verify_alarms(function, alarms, url))
    assert result.exit_code == 1, result.stderr
    assert result.outcome["status"] == "failed"
    assert f"no data for it in {alarms.prefix}duration" in result.outcome["outcome"]


def test_a_firing_alarm_fails_the_alarm_check(
    aws: dict[str, str], tmp_path: Path, function: Function, alarms: Alarms, canary_api: CanaryApi
) -> None:
    alarms.fire(f"{alarms.prefix}throttles")
    with serving_api(canary_api) as url:
        result = run_rollout(aws, tmp_path, *verify_alarms(function, alarms, url))
    assert result.exit_code == 1, result.stderr
    assert result.outcome["outcome"] == f"alarm fired: {alarms.prefix}throttles"


def test_the_alarm_check_refuses_a_version_the_alias_does_not_serve_alone(
    aws: dict[str, str], tmp_path: Path, function: Function, alarms: Alarms, canary_api: CanaryApi
) -> None:
    with serving_api(canary_api) as url:
        result = run_rollout(aws, tmp_path, *verify_alarms(function, alarms, url, "--version", "7"))
    assert result.exit_code != 0
    assert "not version 7 alone" in result.outcome["error"]
    assert canary_api.executed == [], "no traffic for a check that would measure another version"


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        pytest.param(["--endpoint-url", "http://127.0.0.1:1"], "needs alarms", id="no alarm"),
        pytest.param(
            ["--endpoint-url", "http://127.0.0.1:1", "--alarm", "a", "--requests-per-second", "0"],
            "must be above 0",
            id="no traffic",
        ),
    ],
)
def test_an_alarm_check_without_alarms_or_traffic_is_a_usage_error(
    aws: dict[str, str], tmp_path: Path, arguments: list[str], message: str
) -> None:
    completed = subprocess.run(
        [sys.executable, "-m", "lambda_release", "verify-alarms", "--function", "f", *arguments],
        env=aws, capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert completed.returncode == 2
    assert message in completed.stderr
