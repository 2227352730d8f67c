"""The release's Terraform-reading steps, run from the YAML with the real terraform CLI on small roots that
need no provider (terraform_data and outputs only): what an empty state, a targeted apply and a null output
really look like to them."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from rehearsal.steps import find_step, run_step
from tests.support.servers import REPO_ROOT

FIRST_DEPLOY = "Create the image repository and model bucket (first deploy only)"
READ_STORE = "Read the registry and the model store"
READ_API_KEY = "Read the API key for the live tests (only when the stack requires one)"
TERRAFORM = shutil.which("terraform")
# A stand-in for the stack with only the output the first-deploy check looks for.
REPOSITORY_ONLY = (
    'resource "terraform_data" "repository" {}\noutput "ecr_repository_url" { value = terraform_data.repository.id }\n'
)

pytestmark = pytest.mark.skipif(TERRAFORM is None, reason="terraform is not on PATH")


def fake_tool(bin_dir: Path, name: str, script: str) -> None:
    bin_dir.mkdir(exist_ok=True)
    path = bin_dir / name
    path.write_text(f"#!/usr/bin/env bash\n{script}\n")
    path.chmod(0o755)


def workspace(tmp_path: Path, config: str, apply: bool) -> tuple[Path, dict[str, str]]:
    """A checkout whose terraform/ holds `config` (applied when `apply`), and a PATH whose `terraform`
    records apply calls in apply.log instead of running them (any other command is the real CLI)."""
    root = tmp_path / "terraform"
    root.mkdir()
    (root / "main.tf").write_text(config)
    env = {"TF_IN_AUTOMATION": "1", "CHECKPOINT_DISABLE": "1", "TF_CLI_CONFIG_FILE": "/dev/null"}
    subprocess.run([TERRAFORM, "init", "-no-color"], cwd=root, env=env, check=True, capture_output=True)
    if apply:
        subprocess.run(
            [TERRAFORM, "apply", "-auto-approve", "-no-color"], cwd=root, env=env, check=True, capture_output=True
        )
    bin_dir = tmp_path / "bin"
    fake_tool(
        bin_dir,
        "terraform",
        f'if [ "$2" = apply ]; then echo "$@" >> "{tmp_path}/apply.log"; exit 0; fi\nexec {TERRAFORM} "$@"',
    )
    # The API key step must not call AWS unless there is a key; with one, this stands in for get-api-key.
    fake_tool(bin_dir, "aws", f'echo "$@" >> "{tmp_path}/aws.log"; echo the-key-value')
    return tmp_path, {**env, "PATH": f"{bin_dir}:{Path(TERRAFORM).parent}:/usr/bin:/bin"}


def applies(tmp_path: Path) -> list[str]:
    log = tmp_path / "apply.log"
    return log.read_text().splitlines() if log.exists() else []


def test_an_empty_state_gets_the_targeted_apply(tmp_path: Path) -> None:
    """`terraform output -raw` prints a warning and exits 0 on an empty state; that is not "the stack exists"."""
    config = REPOSITORY_ONLY
    cwd, env = workspace(tmp_path, config, apply=False)
    run = run_step(find_step("_release.yml", "release", FIRST_DEPLOY), cwd, env=env)
    assert run.returncode == 0, run.stderr
    assert len(applies(tmp_path)) == 1
    assert "-target=aws_ecr_repository.this -target=module.model_bucket" in applies(tmp_path)[0]


def test_an_existing_stack_is_not_applied_with_targets(tmp_path: Path) -> None:
    config = REPOSITORY_ONLY
    cwd, env = workspace(tmp_path, config, apply=True)
    run = run_step(find_step("_release.yml", "release", FIRST_DEPLOY), cwd, env=env)
    assert run.returncode == 0, run.stderr
    assert "The stack exists." in run.stdout
    assert applies(tmp_path) == []


def test_a_targeted_apply_skips_outputs_of_locals_only(tmp_path: Path) -> None:
    """Why the store is read from an output that depends on the bucket (see the next test)."""
    config = (
        'locals { prefix = "models" }\nresource "terraform_data" "bucket" { input = "b" }\n'
        'resource "terraform_data" "other" {}\n'
        'output "prefix" { value = local.prefix }\n'
        'output "store" { value = "s3://${terraform_data.bucket.output}/${local.prefix}" }\n'
    )
    root = tmp_path / "root"
    root.mkdir()
    (root / "main.tf").write_text(config)
    env = {"CHECKPOINT_DISABLE": "1", "TF_CLI_CONFIG_FILE": "/dev/null", "PATH": "/usr/bin:/bin"}
    for command in (["init"], ["apply", "-auto-approve", "-target=terraform_data.bucket"]):
        subprocess.run([TERRAFORM, *command, "-no-color"], cwd=root, env=env, check=True, capture_output=True)
    written = subprocess.run(
        [TERRAFORM, "output", "-json"], cwd=root, env=env, check=True, capture_output=True, text=True
    )
    assert '"store"' in written.stdout
    assert '"prefix"' not in written.stdout


def output_references(name: str) -> str:
    text = (REPO_ROOT / "terraform" / "outputs.tf").read_text()
    match = re.search(rf'^output "{name}" \{{(.*?)^\}}', text, flags=re.MULTILINE | re.DOTALL)
    assert match, f"terraform/outputs.tf has no output {name}"
    return re.search(r"^\s*value\s*=(.*)", match.group(1), flags=re.MULTILINE | re.DOTALL).group(1)


def test_what_the_release_reads_after_the_targeted_apply_depends_on_a_target() -> None:
    script = find_step("_release.yml", "release", READ_STORE)["run"]
    read = set(re.findall(r"\.(\w+)\.value", script)) | set(re.findall(r"output -raw \"?(\w+)", script))
    assert read == {"ecr_repository_url", "model_store"}
    targets = set(re.findall(r"-target=([\w.]+)", find_step("_release.yml", "release", FIRST_DEPLOY)["run"]))
    for name in read:
        assert any(target in output_references(name) for target in targets), f"{name} depends on no -target"


def test_the_store_is_read_from_one_json_document(tmp_path: Path) -> None:
    config = (
        'output "ecr_repository_url" { value = "123.dkr.ecr.eu-central-1.amazonaws.com/lambda-model-prod" }\n'
        'output "model_store" { value = "s3://lambda-model-prod-models-123/models" }\n'
    )
    cwd, env = workspace(tmp_path, config, apply=True)
    run = run_step(find_step("_release.yml", "release", READ_STORE), cwd, env=env)
    assert run.returncode == 0, run.stderr
    assert run.outputs == {
        "repository": "123.dkr.ecr.eu-central-1.amazonaws.com/lambda-model-prod",
        "store": "s3://lambda-model-prod-models-123/models",
    }


def test_a_missing_output_fails_the_step_instead_of_writing_an_empty_store(tmp_path: Path) -> None:
    """What the targeted apply left out of the state must stop the release here, not reach $GITHUB_OUTPUT."""
    config = 'output "ecr_repository_url" { value = "123.dkr.ecr.eu-central-1.amazonaws.com/lambda-model-prod" }\n'
    cwd, env = workspace(tmp_path, config, apply=True)
    run = run_step(find_step("_release.yml", "release", READ_STORE), cwd, env=env)
    assert run.returncode != 0
    assert "store" not in run.outputs


def test_without_an_api_key_the_step_reads_none_and_calls_no_aws(tmp_path: Path) -> None:
    """enable_api_key = false leaves api_key_id null: a null output is not in the state at all."""
    cwd, env = workspace(
        tmp_path, 'output "api_key_id" { value = null }\noutput "function_name" { value = "f" }\n', apply=True
    )
    run = run_step(find_step("_release.yml", "release", READ_API_KEY), cwd, env=env)
    assert run.returncode == 0, run.stderr
    assert "The API requires no key." in run.stdout
    assert run.outputs == {}
    assert not (tmp_path / "aws.log").exists()


def test_with_an_api_key_the_step_reads_and_masks_its_value(tmp_path: Path) -> None:
    cwd, env = workspace(tmp_path, 'output "api_key_id" { value = "abc123" }\n', apply=True)
    run = run_step(find_step("_release.yml", "release", READ_API_KEY), cwd, env=env)
    assert run.returncode == 0, run.stderr
    assert "::add-mask::the-key-value" in run.stdout
    assert run.outputs == {"value": "the-key-value"}
    assert "--api-key abc123" in (tmp_path / "aws.log").read_text()
