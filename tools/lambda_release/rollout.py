"""Roll the Lambda function to a new image behind its alias, verify, roll back: the AWS steps of a release.

The workflows call this module instead of inline shell so that tests can run the very same commands against a
local moto server. Every subcommand prints one JSON object on stdout (progress goes to stderr) and, when
GITHUB_OUTPUT is set, appends the same facts as step outputs.

    python -m lambda_release current  --function NAME [--alias live]
    python -m lambda_release wait     --function NAME [--qualifier VERSION]
    python -m lambda_release roll     --function NAME [--alias live] --image-uri URI
    python -m lambda_release rollback --function NAME [--alias live] [--to-version N]
    python -m lambda_release deploy   --function NAME [--alias live] --image-uri URI -- COMMAND...

Exit codes: 0 done; 1 verification failed and the alias was moved back; 2 usage error; 3 an AWS step failed
(the alias was not moved); 4 the rollback itself failed (the alias may point at the new version: act by hand).

Only boto3 and the standard library: the module runs wherever the AWS CLI would, and boto3 honours
AWS_ENDPOINT_URL, AWS_REGION and the credentials that aws-actions/configure-aws-credentials exports.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import boto3
from botocore.exceptions import BotoCoreError, ClientError

EXIT_OK = 0
EXIT_VERIFICATION_FAILED = 1
EXIT_USAGE = 2
EXIT_AWS_FAILED = 3
EXIT_ROLLBACK_FAILED = 4

DEFAULT_ALIAS = "live"
LATEST = "$LATEST"


class RolloutError(Exception):
    """A step failed before the alias moved: production still serves what it served before."""

    exit_code = EXIT_AWS_FAILED


class RollbackError(RolloutError):
    """Moving the alias back failed: production may serve the version that failed verification."""

    exit_code = EXIT_ROLLBACK_FAILED


@dataclass(frozen=True)
class Target:
    """The function and the alias that API Gateway invokes."""

    function: str
    alias: str = DEFAULT_ALIAS


@dataclass(frozen=True)
class Timing:
    """How long to wait for Lambda to finish an update, and how often to ask."""

    timeout: float = 600.0
    poll_interval: float = 5.0


@dataclass(frozen=True)
class RollResult:
    function: str
    alias: str
    version: str
    previous_version: str
    image_uri: str


def log(message: str) -> None:
    print(f"rollout: {message}", file=sys.stderr, flush=True)


def lambda_client() -> Any:
    return boto3.client("lambda")


def alias_version(client: Any, target: Target) -> str:
    """The version the alias points to now."""
    try:
        return client.get_alias(FunctionName=target.function, Name=target.alias)["FunctionVersion"]
    except client.exceptions.ResourceNotFoundException as error:
        raise RolloutError(
            f"alias {target.alias!r} of function {target.function!r} not found: "
            "terraform apply creates both before the first roll"
        ) from error


def version_details(client: Any, function: str, version: str) -> dict[str, str]:
    """What a published version runs, and which version it replaced when it was rolled out."""
    try:
        response = client.get_function(FunctionName=function, Qualifier=version)
    except client.exceptions.ResourceNotFoundException as error:
        raise RolloutError(f"function {function!r} has no version {version!r}") from error
    configuration = response["Configuration"]
    code = response.get("Code", {})
    return {
        "version": configuration["Version"],
        "image_uri": code.get("ImageUri", ""),
        "resolved_image_uri": code.get("ResolvedImageUri", ""),
        "replaces": read_release_note(configuration.get("Description", "")).get("replaces", ""),
        "state": configuration.get("State", ""),
    }


def release_note(image_uri: str, replaces: str) -> str:
    """A published version's description: versions are immutable, so the note outlives any terraform apply."""
    note = json.dumps({"image": image_uri, "replaces": replaces}, separators=(",", ":"))
    # Lambda caps a description at 256 characters; the version it replaced is the part rollback needs.
    return note if len(note) <= 256 else json.dumps({"replaces": replaces}, separators=(",", ":"))


def read_release_note(description: str) -> dict[str, str]:
    try:
        note = json.loads(description)
    except ValueError:
        return {}
    return note if isinstance(note, dict) else {}


def wait_until_ready(client: Any, function: str, qualifier: str, timing: Timing) -> dict[str, Any]:
    """Poll until the function (or a version) is Active and its last update Successful; raise if it failed."""
    deadline = time.monotonic() + timing.timeout
    while True:
        configuration = client.get_function_configuration(FunctionName=function, Qualifier=qualifier)
        state = configuration.get("State", "Active")
        update_status = configuration.get("LastUpdateStatus", "Successful")
        if state == "Failed" or update_status == "Failed":
            reason = configuration.get("LastUpdateStatusReason") or configuration.get("StateReason") or "?"
            raise RolloutError(
                f"{function}:{qualifier} failed (State={state}, LastUpdateStatus={update_status}): {reason}"
            )
        if state == "Active" and update_status == "Successful":
            return configuration
        if time.monotonic() >= deadline:
            raise RolloutError(
                f"{function}:{qualifier} not ready after {timing.timeout:.0f}s "
                f"(State={state}, LastUpdateStatus={update_status})"
            )
        log(f"waiting for {function}:{qualifier} (State={state}, LastUpdateStatus={update_status})")
        time.sleep(timing.poll_interval)


def roll(client: Any, target: Target, image_uri: str, timing: Timing) -> RollResult:
    """update-function-code, wait, publish-version, wait, move the alias: the alias moves last, or never."""
    previous = alias_version(client, target)
    log(f"alias {target.alias} is on version {previous}; updating {target.function} to {image_uri}")
    updated = client.update_function_code(FunctionName=target.function, ImageUri=image_uri)
    wait_until_ready(client, target.function, LATEST, timing)
    # CodeSha256 makes Lambda refuse to publish if someone else changed $LATEST in the meantime.
    published = client.publish_version(
        FunctionName=target.function,
        CodeSha256=updated["CodeSha256"],
        Description=release_note(image_uri, previous),
    )
    version = published["Version"]
    wait_until_ready(client, target.function, version, timing)
    client.update_alias(FunctionName=target.function, Name=target.alias, FunctionVersion=version)
    log(f"alias {target.alias} moved from version {previous} to {version}")
    return RollResult(target.function, target.alias, version, previous, image_uri)


def rollback(client: Any, target: Target, to_version: str | None) -> dict[str, str]:
    """Point the alias at `to_version`, or at the version the current one replaced."""
    current = alias_version(client, target)
    destination = to_version or version_details(client, target.function, current)["replaces"]
    if not destination:
        raise RolloutError(f"version {current} records no earlier version: pass --to-version")
    if destination == LATEST:
        raise RolloutError("refusing to roll back to $LATEST: it holds the newest image, not an earlier one")
    version_details(client, target.function, destination)  # fails clearly if the version does not exist
    client.update_alias(FunctionName=target.function, Name=target.alias, FunctionVersion=destination)
    log(f"alias {target.alias} moved back from version {current} to {destination}")
    return {
        "function": target.function,
        "alias": target.alias,
        "version": destination,
        "rolled_back_from": current,
    }


def run_verification(command: Sequence[str], result: RollResult) -> int:
    """Run the check against the new live version; its output goes to stderr: stdout stays one JSON object."""
    environment = {
        **os.environ,
        "ROLLOUT_FUNCTION": result.function,
        "ROLLOUT_ALIAS": result.alias,
        "ROLLOUT_VERSION": result.version,
        "ROLLOUT_PREVIOUS_VERSION": result.previous_version,
    }
    log(f"verifying version {result.version}: {' '.join(command)}")
    try:
        return subprocess.run(list(command), env=environment, stdout=sys.stderr, check=False).returncode
    except OSError as error:
        log(f"verification command could not start: {error}")
        return 127


def deploy(
    client: Any, target: Target, image_uri: str, verify_command: Sequence[str], timing: Timing
) -> dict[str, str]:
    """Roll, verify, and move the alias back if verification fails."""
    result = roll(client, target, image_uri, timing)
    outcome = roll_outcome(result)
    exit_status = run_verification(verify_command, result)
    if exit_status == 0:
        return outcome
    log(f"verification exited {exit_status}: rolling back to version {result.previous_version}")
    try:
        client.update_alias(FunctionName=target.function, Name=target.alias, FunctionVersion=result.previous_version)
    except (ClientError, BotoCoreError) as error:
        raise RollbackError(
            f"verification failed; moving {target.alias} back to {result.previous_version} failed: {error}"
        ) from error
    return {
        **outcome,
        "status": "rolled-back",
        "live_version": result.previous_version,
        "verification_exit_status": str(exit_status),
    }


def roll_outcome(result: RollResult) -> dict[str, str]:
    return {
        **{key: str(value) for key, value in asdict(result).items()},
        "status": "live",
        "live_version": result.version,
    }


def current(client: Any, target: Target) -> dict[str, str]:
    version = alias_version(client, target)
    return {
        "function": target.function,
        "alias": target.alias,
        **version_details(client, target.function, version),
    }


def write_outputs(outputs: Mapping[str, str], path: str | None) -> None:
    """Append `key=value` lines for GitHub Actions (keys with dashes, the workflow convention)."""
    if not path:
        return
    with open(path, "a", encoding="utf-8") as github_output:
        for key, value in outputs.items():
            one_line = " ".join(str(value).split())  # a newline would end the value early
            github_output.write(f"{key.replace('_', '-')}={one_line}\n")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m lambda_release",
        description="Roll the Lambda function's alias to a new image, verify, roll back.",
    )
    commands = parser.add_subparsers(dest="command", required=True)

    def add(name: str, help_text: str, *, alias: bool = True, timing: bool = False) -> argparse.ArgumentParser:
        command = commands.add_parser(name, help=help_text, description=help_text)
        command.add_argument("--function", required=True, help="Lambda function name")
        if alias:
            command.add_argument("--alias", default=DEFAULT_ALIAS, help="alias API Gateway invokes (default: live)")
        if timing:
            command.add_argument("--timeout", type=float, default=600.0, help="seconds to wait per update")
            command.add_argument("--poll-interval", type=float, default=5.0, help="seconds between status polls")
        command.add_argument(
            "--github-output",
            default=os.environ.get("GITHUB_OUTPUT"),
            help="file to append step outputs to (default: $GITHUB_OUTPUT)",
        )
        return command

    add("current", "Show the version and image the alias serves.")
    add("wait", "Wait until the function (or a version) has finished updating.", alias=False, timing=True).add_argument(
        "--qualifier", default=LATEST, help="version to wait for (default: $LATEST)"
    )
    add("roll", "Update the image, publish a version, move the alias.", timing=True).add_argument(
        "--image-uri", required=True, help="image to run, e.g. ACCOUNT.dkr.ecr.REGION.amazonaws.com/REPO:SHA"
    )
    add("rollback", "Move the alias back to a given version or the one it replaced.").add_argument(
        "--to-version", help="version to serve (default: the version the current one replaced)"
    )
    deploy_command = add("deploy", "roll, then run a verification command; roll back if it fails.", timing=True)
    deploy_command.add_argument("--image-uri", required=True, help="image to run")
    deploy_command.add_argument("verify", nargs=argparse.REMAINDER, help="-- COMMAND ARGS... run after the alias moved")
    return parser


def verification_command(arguments: argparse.Namespace) -> list[str]:
    command = list(arguments.verify)
    return command[1:] if command[:1] == ["--"] else command


def run_command(arguments: argparse.Namespace, client: Any) -> dict[str, str]:
    """Run one subcommand and return the facts it prints."""
    target = Target(arguments.function, getattr(arguments, "alias", DEFAULT_ALIAS))
    timing = Timing(getattr(arguments, "timeout", 600.0), getattr(arguments, "poll_interval", 5.0))
    if arguments.command == "current":
        return current(client, target)
    if arguments.command == "wait":
        configuration = wait_until_ready(client, target.function, arguments.qualifier, timing)
        return {
            "function": target.function,
            "qualifier": arguments.qualifier,
            "state": configuration.get("State", "Active"),
        }
    if arguments.command == "roll":
        return roll_outcome(roll(client, target, arguments.image_uri, timing))
    if arguments.command == "rollback":
        return rollback(client, target, arguments.to_version)
    return deploy(client, target, arguments.image_uri, verification_command(arguments), timing)


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    arguments = parser.parse_args(argv)
    if arguments.command == "deploy" and not verification_command(arguments):
        parser.error("deploy needs a verification command after --, e.g. -- python -m pytest tests/integration")
    try:
        outcome = run_command(arguments, lambda_client())
        exit_code = EXIT_VERIFICATION_FAILED if outcome.get("status") == "rolled-back" else EXIT_OK
    except RollbackError as error:
        log(f"error: {error}")
        outcome, exit_code = {"status": "rollback-failed", "error": str(error)}, error.exit_code
    except RolloutError as error:
        log(f"error: {error} (alias not moved)")
        outcome, exit_code = {"status": "failed", "error": str(error)}, error.exit_code
    except (ClientError, BotoCoreError) as error:
        log(f"error: AWS call failed, alias not moved: {error}")
        outcome, exit_code = {"status": "failed", "error": str(error)}, EXIT_AWS_FAILED
    print(json.dumps(outcome, sort_keys=True))
    write_outputs(outcome, arguments.github_output)
    return exit_code
