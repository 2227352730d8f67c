"""The two stages are one Terraform root with two variable files: what may differ between them is this short list,
and nothing else is set in either (the moto apply test applies both files, so their values pass the validations)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from tests.terraform.conftest import TERRAFORM_DIR

STAGES_DIR = TERRAFORM_DIR / "stages"
# The only variables a stage's file sets, and so the only ones that may differ between the stages: load (the
# API's throttle), how long logs are kept and who is paged. Everything else (names aside, which come from
# TF_VAR_environment) is the same code with the same defaults, so what staging passed is what production runs.
STAGE_VARIABLES = {"throttle_rate_limit", "throttle_burst_limit", "log_retention_days", "alarm_actions"}
# One `name = value` per line, the value a JSON literal (number, string, list): HCL that reads the same in JSON,
# so this test parses exactly what Terraform does, and a block or expression (anything surprising) fails here.
ASSIGNMENT = re.compile(r"^(?P<name>[a-z][a-z0-9_]*)\s*=\s*(?P<value>.+)$")


def stage_variables(path: Path) -> dict[str, object]:
    values: dict[str, object] = {}
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        match = ASSIGNMENT.match(line)
        if match is None:
            pytest.fail(f"{path.name}:{number}: not a `name = value` line: {line!r}")
        name, value = match["name"], match["value"]
        if name in values:
            pytest.fail(f"{path.name}:{number}: {name} is set twice")
        try:
            values[name] = json.loads(value)
        except json.JSONDecodeError:
            pytest.fail(f"{path.name}:{number}: {name}'s value is not a plain literal: {value!r}")
    return values


def variable_default(name: str) -> object:
    """The default of a stack variable whose default is a one-line literal (all of STAGE_VARIABLES')."""
    text = (TERRAFORM_DIR / "variables.tf").read_text()
    block = re.search(rf'^variable "{name}" {{\n(?P<body>.*?)^}}', text, re.MULTILINE | re.DOTALL)
    assert block is not None, f"variables.tf declares no {name}"
    default = re.search(r"^\s*default\s*=\s*(?P<value>.+)$", block["body"], re.MULTILINE)
    assert default is not None, f"{name} has no default"
    return json.loads(default["value"])


def test_the_stages_are_staging_and_production() -> None:
    assert sorted(path.name for path in STAGES_DIR.iterdir()) == ["production.tfvars", "staging.tfvars"]


@pytest.mark.parametrize("stage", ["staging", "production"])
def test_a_stage_sets_exactly_the_stage_variables(stage: str) -> None:
    # Not environment (TF_VAR_environment names the stack; a -var-file value would override it), not the
    # registry (the bootstrap's outputs), not image_uri (the release's): those are no stage's choice.
    assert set(stage_variables(STAGES_DIR / f"{stage}.tfvars")) == STAGE_VARIABLES


def test_staging_is_never_allowed_more_than_production() -> None:
    """Both files set the same variables (above), so these are the whole difference; staging's throttle and log
    retention are at most production's (a staging that allows more than production tests nothing about it)."""
    staging = stage_variables(STAGES_DIR / "staging.tfvars")
    production = stage_variables(STAGES_DIR / "production.tfvars")
    for name in ("throttle_rate_limit", "throttle_burst_limit", "log_retention_days"):
        assert staging[name] <= production[name], name


def test_production_keeps_the_single_stage_defaults() -> None:
    """So the migration's first apply of the production stack with its file changes nothing."""
    production = stage_variables(STAGES_DIR / "production.tfvars")
    assert {name: variable_default(name) for name in STAGE_VARIABLES} == production


def test_the_environment_tag_is_on_every_stack_resource_and_cannot_be_overridden() -> None:
    """The deploy roles tell the stages' API Gateway resources apart by the Environment tag (bootstrap iam.tf), so
    the provider's default_tags set it after var.tags (a user's tag cannot replace it), and no resource sets its
    own Environment tag."""
    providers = (TERRAFORM_DIR / "providers.tf").read_text()
    merged = re.search(r"tags\s*=\s*merge\(var\.tags,\s*\{(?P<fixed>.*?)\}\)", providers, re.DOTALL)
    assert merged is not None, "default_tags must be merge(var.tags, {...}) so the fixed tags win"
    assert re.search(r"^\s*Environment\s*=\s*var\.environment$", merged["fixed"], re.MULTILINE)
    assert re.search(r"^\s*Project\s*=\s*var\.name_prefix$", merged["fixed"], re.MULTILINE)
    for path in sorted(TERRAFORM_DIR.glob("*.tf")):
        if path.name != "providers.tf":
            assert not re.search(r"^\s*tags(_all)?\s*=", path.read_text(), re.MULTILINE), (
                f"{path.name} sets a resource's tags: default_tags alone must tag the stack"
            )
