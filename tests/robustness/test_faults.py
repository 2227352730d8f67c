"""Faults injected end to end, through the local API, the handler and the command line.

- the store unreachable at cold start: 503 JSON, then recovery without a restart once it is back;
- a tampered model file: refused with the checksum named in the log, 503 to the client;
- a pointer naming a missing version: 503, then recovery after the back-off once the pointer is fixed;
- two trainings at once into one store: both versions kept, the pointer names one of them;
- an ONNX export that disagrees with scikit-learn: training fails and nothing is stored.
"""

from __future__ import annotations

import json
import logging
import shutil
import subprocess
import sys
import uuid
from pathlib import Path

import boto3
import onnx
import pytest
import requests

from lambda_model.registry.artifact import METADATA_FILE, ONNX_FILE
from lambda_model.registry.local_store import LocalStore
from lambda_model.registry.store import open_store
from lambda_model.serving.model_holder import FIRST_RETRY_DELAY_SECONDS
from lambda_model.serving.routes import MODEL_VERSION_HEADER
from tests.conftest import load_event
from tests.robustness.conftest import TALLY
from tests.support import servers
from tests.support.clock import manual_model_clock

SEED_EVENT = "direct_invoke.json"
TRAIN_TIMEOUT_SECONDS = 180


def cli(*arguments: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "lambda_model", *arguments],
        env=env or servers.cli_env(),
        capture_output=True,
        text=True,
        timeout=TRAIN_TIMEOUT_SECONDS,
        check=False,
    )


def error_code(result: dict) -> str | None:
    return json.loads(result["body"]).get("error", {}).get("code")


def create_bucket(endpoint: str) -> str:
    bucket = f"faults-{uuid.uuid4().hex[:10]}"
    s3 = boto3.client("s3", endpoint_url=endpoint, **_credentials())
    s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": "eu-central-1"})
    return bucket


def _credentials() -> dict[str, str]:
    return {"aws_access_key_id": "testing", "aws_secret_access_key": "testing", "region_name": "eu-central-1"}


# ---------------------------------------------------------------- store unreachable, then back


def test_an_unreachable_store_at_cold_start_is_503_then_recovers_without_a_restart(tmp_path):
    TALLY["faults injected"] += 1
    s3_port, api_port = servers.free_port(), servers.free_port()
    s3_endpoint, api = f"http://127.0.0.1:{s3_port}", f"http://127.0.0.1:{api_port}"
    # TMPDIR: the S3 backend caches downloads under it; a fresh one is a fresh container.
    env = servers.cli_env(**servers.aws_env(s3_endpoint), TMPDIR=str(tmp_path))
    env.pop("MODEL_URI", None)
    store = "s3://lambda-model-faults/models"
    serve = [sys.executable, "-m", "lambda_model", "serve", "--port", str(api_port), "--model", store]
    with servers.running(serve, f"{api}/health", env=env):
        unavailable = requests.post(f"{api}/predict", json=load_event(SEED_EVENT)["body"], timeout=30)
        assert unavailable.status_code == 503
        assert unavailable.json()["error"]["code"] == "model_unavailable"
        assert unavailable.headers["Retry-After"]
        assert requests.get(f"{api}/health", timeout=30).status_code == 503

        # The store comes up on the address the service was configured with, and gets a model.
        moto = [str(servers.BIN_DIR / "moto_server"), "-H", "127.0.0.1", "-p", str(s3_port)]
        with servers.running(moto, f"{s3_endpoint}/moto-api/"):
            boto3.client("s3", endpoint_url=s3_endpoint, **_credentials()).create_bucket(
                Bucket="lambda-model-faults", CreateBucketConfiguration={"LocationConstraint": "eu-central-1"}
            )
            summary = tmp_path / "trained.json"
            trained = cli("train", "--store", store, "--summary-json", str(summary), env=env)
            assert trained.returncode == 0, trained.stderr
            recovered = requests.post(f"{api}/predict", json=load_event(SEED_EVENT)["body"], timeout=30)
            assert recovered.status_code == 200, recovered.text
            assert recovered.json()["prediction"]["label"] == "virginica"
            assert recovered.headers[MODEL_VERSION_HEADER] == json.loads(summary.read_text())["version"]


# ---------------------------------------------------------------- tampered model files


def flip_one_byte(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))


def truncate(path: Path) -> None:
    path.write_bytes(path.read_bytes()[:-100])


def swap_for_another_valid_model(path: Path) -> None:
    """Still a loadable ONNX model, just not the one metadata.json was sealed with."""
    model = onnx.load_from_string(path.read_bytes())
    model.doc_string = "swapped after sealing"
    path.write_bytes(model.SerializeToString())


@pytest.mark.parametrize("tamper", [flip_one_byte, truncate, swap_for_another_valid_model])
def test_a_tampered_model_is_refused_with_the_checksum_named(serving, model_dir, tmp_path, monkeypatch, caplog, tamper):
    TALLY["faults injected"] += 1
    tampered = tmp_path / "model"
    shutil.copytree(model_dir, tampered)
    tamper(tampered / ONNX_FILE)
    sealed = json.loads((tampered / METADATA_FILE).read_text())["files"][ONNX_FILE]

    monkeypatch.setenv("MODEL_URI", str(tampered))
    serving.model.reset()
    with caplog.at_level(logging.WARNING, logger="lambda_model.model"):
        result = serving.handler(load_event(SEED_EVENT))
    assert result["statusCode"] == 503
    assert error_code(result) == "model_unavailable"
    assert "checksum" not in result["body"]  # the reason is for the operator's log, not for clients
    assert f"checksum mismatch for {ONNX_FILE}" in caplog.text
    assert sealed in caplog.text

    refused = cli("predict", json.dumps(load_event(SEED_EVENT)["body"]), "--model", str(tampered))
    assert refused.returncode == 2
    assert f"checksum mismatch for {ONNX_FILE}" in refused.stderr


def copy_as_new_version(model_dir: Path, destination: Path) -> Path:
    """The trained artifact under a version id of its own (so no download cache has seen it)."""
    shutil.copytree(model_dir, destination)
    metadata = json.loads((destination / METADATA_FILE).read_text())
    metadata["version"] = f"29990101T000000000000Z-{uuid.uuid4().hex[:8]}"
    (destination / METADATA_FILE).write_text(json.dumps(metadata))
    return destination


def test_a_model_tampered_in_the_s3_store_is_refused_and_recovers_once_repaired(
    serving, model_dir, aws, monkeypatch, tmp_path, caplog
):
    TALLY["faults injected"] += 1
    bucket = create_bucket(aws["AWS_ENDPOINT_URL"])
    store = open_store(f"s3://{bucket}/models")
    version = store.put(copy_as_new_version(model_dir, tmp_path / "artifact"))
    store.promote(version)
    key = f"models/versions/{version}/{ONNX_FILE}"
    s3 = boto3.client("s3")
    s3.put_object(Bucket=bucket, Key=key, Body=b"not the sealed model")

    monkeypatch.setenv("MODEL_URI", store.uri)
    serving.model.reset()
    clock = manual_model_clock(serving, monkeypatch)
    with caplog.at_level(logging.WARNING, logger="lambda_model.model"):
        result = serving.handler(load_event(SEED_EVENT))
    assert result["statusCode"] == 503
    assert f"checksum mismatch for {ONNX_FILE}" in caplog.text

    # Repaired in the store: the first request after the back-off must load it, as after any load failure.
    s3.put_object(Bucket=bucket, Key=key, Body=(model_dir / ONNX_FILE).read_bytes())
    clock.advance(FIRST_RETRY_DELAY_SECONDS)
    repaired = serving.handler(load_event(SEED_EVENT))
    assert repaired["statusCode"] == 200, "a refused download stays cached and is refused forever"
    assert repaired["headers"][MODEL_VERSION_HEADER] == version


# ---------------------------------------------------------------- a pointer naming a missing version


def test_a_pointer_to_a_missing_version_is_503_until_it_is_fixed(serving, model_store, tmp_path, monkeypatch, caplog):
    TALLY["faults injected"] += 1
    store_root = tmp_path / "store"
    shutil.copytree(model_store, store_root)
    good_version = LocalStore(store_root).current_version()
    (store_root / "current").write_text(json.dumps({"version": "20000101T000000000000Z-deleted0"}))

    monkeypatch.setenv("MODEL_URI", str(store_root))
    serving.model.reset()
    clock = manual_model_clock(serving, monkeypatch)
    with caplog.at_level(logging.WARNING, logger="lambda_model.model"):
        broken = serving.handler(load_event(SEED_EVENT))
    assert broken["statusCode"] == 503
    assert "names version 20000101T000000000000Z-deleted0, which is not in the store" in caplog.text

    promoted = cli("promote", "--store", str(store_root), "--version", good_version)
    assert promoted.returncode == 0, promoted.stderr
    clock.advance(FIRST_RETRY_DELAY_SECONDS)
    fixed = serving.handler(load_event(SEED_EVENT))  # the same process: no restart, no reset
    assert fixed["statusCode"] == 200
    assert fixed["headers"][MODEL_VERSION_HEADER] == good_version


# ---------------------------------------------------------------- two trainings at once


@pytest.fixture(params=["local", "s3"])
def empty_store(request, tmp_path) -> tuple[str, dict[str, str]]:
    """A store URI and the environment a training subprocess needs to reach it."""
    if request.param == "local":
        return str(tmp_path / "store"), servers.cli_env()
    env = request.getfixturevalue("aws")
    return f"s3://{create_bucket(env['AWS_ENDPOINT_URL'])}/models", servers.cli_env(**env)


def test_two_trainings_at_once_keep_both_versions_and_a_consistent_pointer(serving, empty_store, tmp_path, monkeypatch):
    TALLY["faults injected"] += 1
    store_uri, env = empty_store
    summaries = [tmp_path / f"training-{index}.json" for index in (1, 2)]
    trainings = [
        subprocess.Popen(
            [sys.executable, "-m", "lambda_model", "train", "--store", store_uri, "--summary-json", str(summary)],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        for summary in summaries
    ]
    for training in trainings:
        _, stderr = training.communicate(timeout=TRAIN_TIMEOUT_SECONDS)
        assert training.returncode == 0, stderr
    trained = {json.loads(summary.read_text())["version"] for summary in summaries}
    assert len(trained) == 2

    store = open_store(store_uri)
    assert set(store.versions()) == trained
    assert store.current_version() in trained
    listed = cli("versions", "--store", store_uri, env=env)
    assert listed.returncode == 0, listed.stderr
    assert all(version in listed.stdout for version in trained)

    monkeypatch.setenv("MODEL_URI", store_uri)
    serving.model.reset()
    answered = serving.handler(load_event(SEED_EVENT))
    assert answered["statusCode"] == 200
    assert answered["headers"][MODEL_VERSION_HEADER] == store.current_version()


# ---------------------------------------------------------------- ONNX and scikit-learn disagree

# Runs the real command line in a subprocess, with the exporter wrapped so that the ONNX graph's tree
# weights are scaled after conversion: the kind of silent exporter bug the parity check exists for.
TRAIN_WITH_A_SKEWED_EXPORT = """
import sys
import onnx
from lambda_model import cli
from lambda_model.training import train

real_export = train.to_onnx_bytes

def skewed_export(pipeline, feature_count):
    model = onnx.load_from_string(real_export(pipeline, feature_count))
    for node in model.graph.node:
        for attribute in node.attribute:
            if attribute.name == "class_weights":
                attribute.floats[:] = [weight * 3 for weight in attribute.floats]
    return model.SerializeToString()

train.to_onnx_bytes = skewed_export
sys.exit(cli.main(sys.argv[1:]))
"""


def test_an_export_that_disagrees_with_scikit_learn_is_not_stored(serving, model_store, tmp_path, monkeypatch):
    TALLY["faults injected"] += 1
    store_root = tmp_path / "store"
    shutil.copytree(model_store, store_root)
    store = LocalStore(store_root)
    before = (store.versions(), store.current_version())

    refused = subprocess.run(
        [sys.executable, "-c", TRAIN_WITH_A_SKEWED_EXPORT, "train", "--store", str(store_root)],
        env=servers.cli_env(),
        capture_output=True,
        text=True,
        timeout=TRAIN_TIMEOUT_SECONDS,
        check=False,
    )
    assert refused.returncode == 2, refused.stderr
    assert "ONNX and scikit-learn probabilities differ" in refused.stderr
    assert "not stored" in refused.stderr
    assert (store.versions(), store.current_version()) == before
    assert not any(path.name.startswith(".staging") for path in (store_root / "versions").iterdir())

    monkeypatch.setenv("MODEL_URI", str(store_root))
    serving.model.reset()
    still_serving = serving.handler(load_event(SEED_EVENT))
    assert still_serving["statusCode"] == 200
    assert still_serving["headers"][MODEL_VERSION_HEADER] == before[1]
