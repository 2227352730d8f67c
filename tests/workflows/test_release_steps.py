"""The release's shell steps, run from the YAML: the stage refusal and production's input check on their
own; the model choice and the pointer guard against a real local store; the steps that read Terraform with
the real terraform CLI on small roots that need no provider (terraform_data and outputs only), which show
what an empty state and a null output really look like to them."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from rehearsal.steps import find_step, run_step
from tests.support.servers import REPO_ROOT

REFUSE_STAGE = "Refuse an unknown stage"
CHECK_INPUTS = "Check production's inputs"
CHOOSE_MODEL = "Choose the model to ship"
POINTER_GUARD = "Check that models/current has not moved since the model was chosen"
NEWER_CODE = "Check production's live image holds no newer code"
THE_IMAGE = "The image this release ships"
READ_API_KEY = "Read the API key for the live tests (only when the stack requires one)"
TERRAFORM = shutil.which("terraform")
DIGEST = "123.dkr.ecr.eu-central-1.amazonaws.com/lambda-model@sha256:" + "ab" * 32
needs_terraform = pytest.mark.skipif(TERRAFORM is None, reason="terraform is not on PATH")


def release_step(name: str) -> dict:
    return find_step("_release.yml", "release", name)


def fake_tool(bin_dir: Path, name: str, script: str) -> None:
    bin_dir.mkdir(parents=True, exist_ok=True)
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


@pytest.mark.parametrize("stage", ["staging", "production"])
def test_the_two_stages_are_accepted(tmp_path: Path, stage: str) -> None:
    run = run_step(release_step(REFUSE_STAGE), tmp_path, env={"STAGE": stage})
    assert run.returncode == 0, run.stderr


@pytest.mark.parametrize("stage", ["prod", "Production", "staging;id", ""])
def test_any_other_stage_is_refused(tmp_path: Path, stage: str) -> None:
    run = run_step(release_step(REFUSE_STAGE), tmp_path, env={"STAGE": stage})
    assert run.returncode == 1
    assert f"::error title=Unknown stage::stage '{stage}' is neither staging nor production" in run.stdout


@pytest.mark.parametrize(
    ("inputs", "message"),
    [
        pytest.param({"inputs.image-uri": DIGEST.split("@")[0] + ":abc-v1"}, "by digest", id="a tag, not a digest"),
        pytest.param({"inputs.image-uri": ""}, "by digest", id="no image (staging's outputs not passed)"),
        pytest.param({"inputs.model-version": ""}, "MODEL_VERSION is empty", id="no model version"),
        pytest.param({"inputs.model-pointer-tag": ""}, "MODEL_POINTER_TAG is empty", id="no pointer tag"),
    ],
)
def test_production_refuses_to_start_without_staging_s_outputs(tmp_path: Path, inputs: dict, message: str) -> None:
    context = {"inputs.image-uri": DIGEST, "inputs.model-version": "v1", "inputs.model-pointer-tag": "t", **inputs}
    run = run_step(release_step(CHECK_INPUTS), tmp_path, context)
    assert run.returncode == 1
    assert message in run.stdout
    complete = {"inputs.image-uri": DIGEST, "inputs.model-version": "v1", "inputs.model-pointer-tag": "t"}
    assert run_step(release_step(CHECK_INPUTS), tmp_path, complete).returncode == 0


@pytest.fixture
def checkout(tmp_path: Path) -> Path:
    """A folder the steps run in, with the project's virtualenv at .venv, as `make setup` leaves a checkout."""
    folder = tmp_path / "checkout"
    folder.mkdir()
    (folder / ".venv").symlink_to(REPO_ROOT / ".venv")
    return folder


@pytest.fixture
def store(model_store: Path, tmp_path: Path) -> Path:
    copy = tmp_path / "store"
    shutil.copytree(model_store, copy)
    return copy


def current_version(store: Path) -> str:
    from lambda_model.registry.local_store import LocalStore

    return LocalStore(store).current_version()


def test_staging_builds_the_version_current_names_and_records_the_pointer(store: Path, checkout: Path) -> None:
    run = run_step(release_step(CHOOSE_MODEL), checkout, env={"STORE": str(store)})
    assert run.returncode == 0, run.stderr
    from lambda_model.registry.local_store import LocalStore

    assert run.outputs == {
        "uri": f"{store}/versions/{current_version(store)}",
        "pointer-tag": LocalStore(store).pointer_tag(),
    }


def test_a_retrain_s_candidate_is_built_as_given(store: Path, checkout: Path) -> None:
    candidate = f"{store}/versions/candidate"
    run = run_step(release_step(CHOOSE_MODEL), checkout, {"inputs.model-uri": candidate}, env={"STORE": str(store)})
    assert run.returncode == 0, run.stderr
    assert run.outputs["uri"] == candidate


def test_an_empty_store_ships_nothing(tmp_path: Path, checkout: Path) -> None:
    (tmp_path / "empty").mkdir()
    run = run_step(release_step(CHOOSE_MODEL), checkout, env={"STORE": str(tmp_path / "empty")})
    assert run.returncode == 0, run.stderr
    assert run.outputs == {"pointer-tag": "none", "uri": ""}
    assert "::warning title=No model yet::" in run.stdout


def test_an_unreadable_store_fails_instead_of_shipping_nothing(tmp_path: Path, checkout: Path) -> None:
    run = run_step(release_step(CHOOSE_MODEL), checkout, env={"STORE": str(tmp_path / "missing")})
    assert run.returncode != 0
    assert "uri" not in run.outputs


def test_production_goes_on_while_current_is_as_staging_saw_it(store: Path, checkout: Path) -> None:
    chosen = run_step(release_step(CHOOSE_MODEL), checkout, env={"STORE": str(store)})
    context = {"inputs.model-pointer-tag": chosen.outputs["pointer-tag"]}
    run = run_step(release_step(POINTER_GUARD), checkout, context, env={"STORE": str(store)})
    assert run.returncode == 0, run.stdout + run.stderr


def test_production_refuses_when_a_promotion_came_in_between(store: Path, checkout: Path) -> None:
    """A retrain promoted a newer model after staging built its image: shipping it would undo that."""
    from lambda_model.registry.local_store import LocalStore

    chosen = run_step(release_step(CHOOSE_MODEL), checkout, env={"STORE": str(store)})
    LocalStore(store).promote(current_version(store))  # a newer promotion (the same version moves the tag too)
    context = {"inputs.model-pointer-tag": chosen.outputs["pointer-tag"]}
    run = run_step(release_step(POINTER_GUARD), checkout, context, env={"STORE": str(store)})
    assert run.returncode == 1
    assert "::error title=The model moved::" in run.stdout
    assert "Re-run deploy" in run.stdout


@pytest.mark.parametrize(
    ("stage", "expected"),
    [("staging", {"uri": "built@sha256:1", "model-version": "v-built"}),
     ("production", {"uri": "staged@sha256:2", "model-version": "v-staged"})],
)  # fmt: skip
def test_each_stage_ships_its_own_image(tmp_path: Path, stage: str, expected: dict) -> None:
    """Staging ships what it built; production what staging passed it, never a build of its own."""
    context = {
        "steps.build.outputs.image-uri": "built@sha256:1", "steps.build.outputs.model-version": "v-built",
        "inputs.image-uri": "staged@sha256:2", "inputs.model-version": "v-staged",
    }  # fmt: skip
    run = run_step(release_step(THE_IMAGE), tmp_path, context, env={"STAGE": stage})
    assert run.returncode == 0, run.stderr
    assert run.outputs == expected


@needs_terraform
def test_an_empty_production_state_has_no_live_code_to_compare(tmp_path: Path) -> None:
    cwd, env = workspace(tmp_path, 'resource "terraform_data" "nothing" {}\n', apply=False)
    run = run_step(release_step(NEWER_CODE), cwd, env=env)
    assert run.returncode == 0, run.stderr
    assert "No production stack yet" in run.stdout


@needs_terraform
@pytest.mark.parametrize("allow", ["false", "true"])
def test_a_live_production_stack_is_compared_with_this_commit(tmp_path: Path, allow: str) -> None:
    config = 'output "function_name" { value = "lambda-model-prod" }\noutput "alias_name" { value = "live" }\n'
    cwd, env = workspace(tmp_path, config, apply=True)
    fake_tool(cwd / ".venv" / "bin", "python", f'echo "$@" >> "{tmp_path}/python.log"')
    run = run_step(release_step(NEWER_CODE), cwd, {"inputs.allow-older-code": allow}, {**env, "GITHUB_SHA": "c0ffee"})
    assert run.returncode == 0, run.stderr
    (call,) = (tmp_path / "python.log").read_text().splitlines()
    expected = "-m lambda_release check-newer-code --function lambda-model-prod --commit c0ffee --alias live"
    assert call == expected + (" --allow-older-code" if allow == "true" else "")


@needs_terraform
def test_without_an_api_key_the_step_reads_none_and_calls_no_aws(tmp_path: Path) -> None:
    """enable_api_key = false leaves api_key_id null: a null output is not in the state at all."""
    cwd, env = workspace(
        tmp_path, 'output "api_key_id" { value = null }\noutput "function_name" { value = "f" }\n', apply=True
    )
    run = run_step(release_step(READ_API_KEY), cwd, env=env)
    assert run.returncode == 0, run.stderr
    assert "The API requires no key." in run.stdout
    assert run.outputs == {}
    assert not (tmp_path / "aws.log").exists()


@needs_terraform
def test_with_an_api_key_the_step_reads_and_masks_its_value(tmp_path: Path) -> None:
    cwd, env = workspace(tmp_path, 'output "api_key_id" { value = "abc123" }\n', apply=True)
    run = run_step(release_step(READ_API_KEY), cwd, env=env)
    assert run.returncode == 0, run.stderr
    assert "::add-mask::the-key-value" in run.stdout
    assert run.outputs == {"value": "the-key-value"}
    assert "--api-key abc123" in (tmp_path / "aws.log").read_text()
