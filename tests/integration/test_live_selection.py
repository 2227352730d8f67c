"""The release's verification (`pytest tests/integration -m live`) is a contract check: it passes for any
model that passed the gate, installs nothing, and checks the endpoint serves the released model."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from rehearsal.steps import find_step
from tests.support import servers
from tests.support.servers import REPO_ROOT

ROLLOUT_STEP = "Check the new version before traffic, roll it out, roll back on failure"


def live_verification_command() -> list[str]:
    """The command after `--` in the release's rollout step, as the rollout runs it."""
    script = find_step("_release.yml", "release", ROLLOUT_STEP)["run"]
    return script.split(" -- ", 1)[1].split()


def test_the_release_runs_only_the_live_tests() -> None:
    command = live_verification_command()
    assert command[:4] == [".venv/bin/python", "-m", "pytest", "tests/integration"]
    assert command[command.index("-m", 3) + 1] == "live"


def test_the_live_selection_holds_no_exact_answers_and_no_image_build() -> None:
    collected = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "tests/integration",
            "-m",
            "live",
            "--collect-only",
            "-q",
            "-p",
            "no:cacheprovider",
        ],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    ).stdout
    selected = {line.split("[")[0] for line in collected.splitlines() if "::" in line}
    assert selected, collected
    assert all(test.startswith("tests/integration/test_api.py::") for test in selected), selected
    for offline_only in ("test_the_seed_examples", "test_the_seed_answer_exactly", "test_a_batch_answers_in_order"):
        assert f"tests/integration/test_api.py::{offline_only}" not in selected


@pytest.fixture(scope="module")
def other_model_endpoint(tmp_path_factory: pytest.TempPathFactory):
    """A model trained with other parameters, as a retrain that passed the gate ships: its exact answers differ."""
    store = tmp_path_factory.mktemp("other-model-store")
    env = servers.cli_env()
    env.pop("MODEL_URI", None)
    summary = store / "summary.json"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "lambda_model",
            "train",
            "--store",
            str(store),
            "--param",
            "n_estimators=5",
            "--param",
            "max_depth=1",
            "--summary-json",
            str(summary),
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
        check=True,
    )
    port = servers.free_port()
    root = f"http://127.0.0.1:{port}/"
    command = [sys.executable, "-m", "lambda_model", "serve", "--port", str(port), "--model", str(store)]
    with servers.running(command, root + "health", env=env):
        yield root, json.loads(summary.read_text())["version"]


def run_live(endpoint: str, model_version: str, *selection: str) -> subprocess.CompletedProcess[str]:
    command = [sys.executable if part == ".venv/bin/python" else part for part in live_verification_command()]
    return subprocess.run(
        [*command, *selection],
        cwd=REPO_ROOT,
        env={
            **servers.cli_env(),
            "ENDPOINT_URL": endpoint,
            "EXPECTED_MODEL_VERSION": model_version,
            # A PyPI outage must not fail a good release: nothing the live tests run may reach an index.
            "PIP_INDEX_URL": "http://127.0.0.1:9/simple",
            "PIP_NO_INDEX": "1",
        },
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def test_a_model_with_other_parameters_passes_the_live_tests(other_model_endpoint) -> None:
    endpoint, version = other_model_endpoint
    result = run_live(endpoint, version)
    assert result.returncode == 0, result.stdout[-4000:]
    # Against the same model, the offline exact-answer test would have rolled this release back.
    exact = run_live(endpoint, version, "-m", "not live", "-k", "test_the_seed_answer_exactly")
    assert exact.returncode == 1, exact.stdout[-2000:]  # failed, not "nothing collected" (5)


def test_the_live_tests_fail_when_the_endpoint_serves_another_model(other_model_endpoint) -> None:
    endpoint, _ = other_model_endpoint
    result = run_live(endpoint, "not-the-released-version")
    assert result.returncode != 0
    assert "test_the_released_model_answers" in result.stdout
