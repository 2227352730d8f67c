"""Offline checks of the Terraform code: formatting, validation, mock-provider tests, checkov."""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path

import pytest

from tests.support.servers import REPO_ROOT
from tests.terraform.conftest import MODULES, ROOTS, TERRAFORM_DIR, Terraform

CHECKOV = REPO_ROOT / ".venv-checkov" / "bin" / "checkov"


def test_formatted(terraform: Terraform) -> None:
    result = terraform.run(
        "fmt", "-check", "-recursive", "-diff", "-no-color", str(TERRAFORM_DIR), cwd=REPO_ROOT, check=False
    )
    assert result.returncode == 0, f"run `terraform fmt -recursive terraform`:\n{result.stdout}"


@pytest.mark.parametrize("root", sorted(ROOTS))
def test_lock_file_committed(root: str) -> None:
    lock = (ROOTS[root] / ".terraform.lock.hcl").read_text()
    assert 'provider "registry.terraform.io/hashicorp/aws"' in lock
    assert re.search(r'version\s+=\s+"5\.\d+\.\d+"', lock)


def test_every_local_module_a_root_calls_is_validated_and_tested() -> None:
    """MODULES parametrizes validate and `terraform test`: a called module missing from it would go unchecked."""
    called = {
        name
        for root in ROOTS.values()
        for path in root.glob("*.tf")
        for name in re.findall(r'^\s*source\s*=\s*"\.\.?/modules/([\w-]+)"', path.read_text(), re.MULTILINE)
    }
    assert called, "no root calls a local module: the source pattern no longer matches"
    assert called == set(MODULES), f"called {sorted(called)}, found {sorted(MODULES)}"


@pytest.mark.parametrize("config", sorted({**ROOTS, **MODULES}))
def test_validate(terraform: Terraform, initialized_configs: dict[str, Path], config: str) -> None:
    result = terraform.run("validate", "-json", cwd=initialized_configs[config])
    report = json.loads(result.stdout)
    assert report["valid"], report
    assert report["warning_count"] == 0, report["diagnostics"]


@pytest.mark.parametrize("config", sorted({**ROOTS, **MODULES}))
def test_terraform_test(terraform: Terraform, initialized_configs: dict[str, Path], config: str) -> None:
    """The *.tftest.hcl files of each root and module: mock provider, assertions on the security-relevant values."""
    result = terraform.run("test", "-no-color", cwd=initialized_configs[config], check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    assert re.search(r"Success! \d+ passed, 0 failed", result.stdout), result.stdout


def resource_block(source: str, address: str) -> str:
    """The text of one top-level resource block (HCL blocks close with a `}` in column 0)."""
    kind, name = address.split(".")
    match = re.search(rf'^resource "{kind}" "{name}" {{\n(.*?)^}}', source, flags=re.MULTILINE | re.DOTALL)
    assert match, f"{address} not found"
    return match.group(1)


@pytest.mark.parametrize(
    ("address", "owned_by_workflows"),
    [
        ("aws_lambda_function.this", ["image_uri"]),
        ("aws_lambda_alias.live", ["function_version", "routing_config"]),
    ],
)
def test_ignore_changes_is_exactly_what_the_workflows_own(address: str, owned_by_workflows: list[str]) -> None:
    """Too little and an apply reverts a rollout; too much and Terraform silently stops managing settings."""
    block = resource_block((TERRAFORM_DIR / "lambda.tf").read_text(), address)
    found = re.findall(r"ignore_changes\s*=\s*\[([^\]]*)\]", block)
    assert len(found) == 1, f"{address} needs exactly one ignore_changes"
    assert [item.strip() for item in found[0].split(",") if item.strip()] == owned_by_workflows


def test_checkov(tmp_path: Path) -> None:
    """Zero failed checks, and every skip carries its reason next to the resource."""
    if not CHECKOV.exists():
        pytest.fail(f"{CHECKOV} is missing: run `make setup`")
    env = {**os.environ, "BC_SKIP_MAPPING": "TRUE", "CHECKOV_RUN_SCA_PACKAGE_SCAN_V2": "false", "HOME": str(tmp_path)}
    env.pop("BC_API_KEY", None)
    result = subprocess.run(
        [str(CHECKOV), "-d", str(TERRAFORM_DIR), "--framework", "terraform", "--skip-download", "--output", "json"],
        capture_output=True,
        text=True,
        env=env,
        timeout=240,
        check=False,
    )
    reports = json.loads(result.stdout)
    reports = reports if isinstance(reports, list) else [reports]
    failed = [check for report in reports for check in report.get("results", {}).get("failed_checks", [])]
    assert not failed, "\n".join(f"{c['check_id']} {c['resource']} {c['file_path']}" for c in failed)
    summary = reports[0]["summary"]
    assert summary["parsing_errors"] == 0, summary
    # Scanned, not just counted: the resources whose hardening the docs claim were each checked, in both roots
    # and inside the bucket module (checkov skips a folder it cannot parse without failing).
    checked = {
        check["resource"]
        for report in reports
        for check in [*report["results"]["passed_checks"], *report["results"]["skipped_checks"]]
    }
    hardened = {
        "aws_lambda_function.this",
        "aws_ecr_repository.images",
        "aws_api_gateway_stage.this",
        'aws_cloudwatch_log_group.this["function"]',
        "aws_iam_role_policy.github",
        "module.model_bucket.aws_s3_bucket.this",
        "module.state_bucket.aws_s3_bucket.this",
    }
    assert hardened <= checked, f"checkov did not check {sorted(hardened - checked)}"
    skipped = [check for report in reports for check in report.get("results", {}).get("skipped_checks", [])]
    for check in skipped:
        assert len(check.get("check_result", {}).get("suppress_comment", "")) > 20, (
            f"{check['check_id']} skip needs a reason"
        )
