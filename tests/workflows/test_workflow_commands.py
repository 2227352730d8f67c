"""What the workflows run must exist: CLI subcommands and their options, make targets, Terraform outputs
and resources, and the integration tests the release runs against the live endpoint."""

from __future__ import annotations

import argparse
import re
from collections.abc import Iterable, Iterator

import pytest

from lambda_model import cli
from lambda_release import image_check, rollout
from tests.support.servers import REPO_ROOT
from tests.workflows.conftest import Document, actions, bootstrap_environments, steps_of, workflows

PARSERS = {"lambda_model": cli.build_parser, "lambda_release": rollout.build_parser}
COMMAND = re.compile(r"python -m (lambda_model|lambda_release) ([a-z-]+)([^\n]*)")
OPTION = re.compile(r"(?<![\w-])--[a-z][a-z-]*")


def scripts() -> Iterator[tuple[str, str]]:
    """(where, shell script) for every run: step, with backslash-continued lines joined."""
    for document in [*workflows().values(), *actions().values()]:
        for where, step in steps_of(document):
            if "run" in step:
                yield where, step["run"].replace("\\\n", " ")


def subcommands(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    action = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return dict(action.choices)


def option_strings(parser: argparse.ArgumentParser) -> set[str]:
    return {option for action in parser._actions for option in action.option_strings}


def invocations() -> list[tuple[str, str, str, set[str]]]:
    """(where, module, subcommand, options) for every CLI call in a script.

    Options come from the call itself (up to a `--` that starts the verification command) and from
    the bash array (`arguments=(...)`, `arguments+=(...)`) the script builds for it."""
    found = []
    for where, script in scripts():
        array_options = set()
        for line in script.splitlines():
            if re.match(r"\s*(if .*then )?arguments\+?=\(", line.strip()):
                array_options |= set(OPTION.findall(line))
        for module, subcommand, rest in COMMAND.findall(script):
            own = rest.split(" -- ")[0]
            options = set(OPTION.findall(own))
            if '"${arguments[@]}"' in own:
                options |= array_options
            found.append((where, module, subcommand, options))
    return found


def test_the_workflows_call_the_cli_at_all() -> None:
    called = {(module, subcommand) for _, module, subcommand, _ in invocations()}
    assert {
        ("lambda_model", "train"),
        ("lambda_model", "gate"),
        ("lambda_model", "promote"),
        ("lambda_model", "export"),
        ("lambda_model", "versions"),
        ("lambda_release", "deploy"),
        ("lambda_release", "rollback"),
        ("lambda_release", "verify-alarms"),
        ("lambda_release", "mark-staged"),
        ("lambda_release", "check-staged"),
        ("lambda_release", "check-newer-code"),
    } <= called


def test_the_pull_request_checks_the_built_image_with_the_release_check() -> None:
    calls = [
        (where, script.split("python -m lambda_release.image_check", 1)[1].split("\n")[0])
        for where, script in scripts()
        if "python -m lambda_release.image_check" in script
    ]
    assert [where.split(":")[0] for where, _ in calls] == ["pull-request.yml"]
    for where, rest in calls:
        arguments = image_check.build_parser().parse_args(rest.split())
        assert arguments.url.endswith("/2015-03-31/functions/function/invocations"), where


@pytest.mark.parametrize(("where", "module", "subcommand", "options"), invocations())
def test_each_cli_call_uses_a_subcommand_and_options_that_exist(
    where: str, module: str, subcommand: str, options: set[str]
) -> None:
    commands = subcommands(PARSERS[module]())
    assert subcommand in commands, f"{where}: python -m {module} has no subcommand {subcommand!r}"
    unknown = options - option_strings(commands[subcommand])
    assert not unknown, f"{where}: python -m {module} {subcommand} has no option {sorted(unknown)}"


def test_the_cli_check_notices_a_wrong_option() -> None:
    """The check above is only as good as this: a made-up option must be caught."""
    deploy = subcommands(rollout.build_parser())["deploy"]
    assert "--image-uri" in option_strings(deploy)
    assert "--image" not in option_strings(deploy)


def make_targets() -> set[str]:
    makefile = (REPO_ROOT / "Makefile").read_text()
    return set(re.findall(r"^([a-z][a-z-]*):", makefile, flags=re.MULTILINE))


def test_make_targets_exist() -> None:
    used = {target for _, script in scripts() for target in re.findall(r"\bmake ([a-z][a-z-]*)", script)}
    assert used >= {"setup", "lint", "test", "train"}
    assert used <= make_targets()


def terraform_names(pattern: str, folder: str = "terraform") -> set[str]:
    text = "\n".join(path.read_text() for path in (REPO_ROOT / folder).glob("*.tf"))
    return set(re.findall(pattern, text, flags=re.MULTILINE))


def test_terraform_outputs_read_by_the_workflows_exist() -> None:
    outputs = terraform_names(r'^output "([\w-]+)"')
    read = set()
    for _, script in scripts():
        read |= set(re.findall(r"output -(?:raw|json) \"?([a-z_]+)\"?", script))
        # Outputs picked from `terraform output -json` with jq: .NAME.value
        read |= set(re.findall(r"\.([a-z_]+)\.value\b", script))
        for loop in re.findall(r"for name in ([a-z_ ]+); do", script):
            read |= set(loop.split())
    assert read >= {"function_name", "alias_name", "endpoint_url", "api_key_id", "canary_alarm_names", "model_store"}
    assert read <= outputs, f"not terraform outputs: {read - outputs}"


def stack_addresses() -> set[str]:
    """What -target can name in the stack: its resources (TYPE.NAME) and its module calls (module.NAME)."""
    resources = {f"{kind}.{name}" for kind, name in terraform_names(r'^resource "(\w+)" "(\w+)"')}
    modules = {f"module.{name}" for name in terraform_names(r'^module "(\w+)"')}
    return resources | modules


def targets_outside_the_stack(scripts_: Iterable[tuple[str, str]]) -> dict[str, set[str]]:
    """`-target=` addresses, by where they are written, that name nothing in terraform/."""
    addresses = stack_addresses()
    wrong: dict[str, set[str]] = {}
    for where, script in scripts_:
        missing = set(re.findall(r"-target=([\w.]+)", script)) - addresses
        if missing:
            wrong[where] = missing
    return wrong


def test_no_release_applies_part_of_a_stack() -> None:
    """The registry and the model bucket are the bootstrap's: a release applies its stage's stack whole, and
    any -target left in a script must name something the stack has."""
    targeted = {target for _, script in scripts() for target in re.findall(r"-target=([\w.]+)", script)}
    assert targeted == set()
    assert targets_outside_the_stack(scripts()) == {}


def test_the_target_check_notices_a_wrong_address() -> None:
    """The check above is only as good as this: addresses that are not (or no longer) the stack's are reported."""
    stale = [
        ("the bootstrap's registry", "terraform apply -target=aws_ecr_repository.images -target=aws_lambda_alias.live"),
        ("the bootstrap's module call", "terraform apply -target=module.state_bucket"),
    ]
    assert targets_outside_the_stack(stale) == {
        "the bootstrap's registry": {"aws_ecr_repository.images"},
        "the bootstrap's module call": {"module.state_bucket"},
    }


def test_environments_match_the_bootstrap_trust_policies() -> None:
    """The workflows name each stage's environment by its stage key (environment: ${{ inputs.stage }}), so
    the bootstrap's defaults must give each stage the GitHub environment of its own name."""
    assert bootstrap_environments() == {
        "staging": "staging",
        "production": "production",
        "training": "training",
        "monitoring": "monitoring",
    }


def test_the_release_verifies_with_the_integration_tests() -> None:
    assert any((REPO_ROOT / "tests" / "integration").glob("test_*.py")), "tests/integration holds no tests"


def test_documents_have_names(all_workflows: dict[str, Document]) -> None:
    for document in all_workflows.values():
        assert document.data.get("name"), document.name
        for job_id, job in document.jobs.items():
            assert job.get("name"), f"{document.name}:{job_id}"
