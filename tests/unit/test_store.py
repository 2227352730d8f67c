import json
import shutil
import threading
import uuid

import boto3
import pytest

from lambda_model.registry.artifact import METADATA_FILE, ONNX_FILE
from lambda_model.registry.store import LocalStore, S3Store, StoreError, open_store, resolve_model


def copy_with_version(model_dir, destination, version):
    """The trained artifact under another version id, resealed so its checksums stay valid."""
    shutil.copytree(model_dir, destination)
    metadata = json.loads((destination / METADATA_FILE).read_text())
    metadata["version"] = version
    (destination / METADATA_FILE).write_text(json.dumps(metadata))
    return destination


@pytest.fixture(params=["local", "s3"])
def store(request, tmp_path):
    if request.param == "local":
        return LocalStore(tmp_path / "store")
    request.getfixturevalue("aws")
    bucket = f"models-{uuid.uuid4().hex[:12]}"
    boto3.client("s3").create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": "eu-central-1"})
    return S3Store(bucket, "models")


def test_put_promote_and_fetch_round_trip(store, model_dir, tmp_path):
    version = store.put(model_dir)
    assert store.versions() == [version]
    assert store.current_version() is None
    store.promote(version)
    assert store.current_version() == version
    fetched = store.fetch_current(tmp_path / "cache")
    assert (fetched / ONNX_FILE).read_bytes() == (model_dir / ONNX_FILE).read_bytes()


def test_a_version_is_never_overwritten(store, model_dir):
    store.put(model_dir)
    with pytest.raises(StoreError, match="immutable"):
        store.put(model_dir)


def test_promoting_an_unknown_version_is_refused(store):
    with pytest.raises(StoreError, match="no such version"):
        store.promote("20990101T000000000000Z-deadbeef")


def test_an_empty_store_has_no_current_model(store, tmp_path):
    with pytest.raises(StoreError, match="no current model"):
        store.fetch_current(tmp_path / "cache")


def test_older_versions_survive_a_new_promotion(store, model_dir, tmp_path):
    first = store.put(model_dir)
    store.promote(first)
    second = store.put(copy_with_version(model_dir, tmp_path / "second", "29990101T000000000000Z-00000002"))
    store.promote(second)
    assert store.versions() == sorted([first, second])
    assert store.current_version() == second
    assert store.fetch(first, tmp_path / "cache").is_dir()


def test_two_concurrent_trainings_keep_both_versions_and_a_consistent_pointer(store, model_dir, tmp_path):
    candidates = [
        copy_with_version(model_dir, tmp_path / f"v{i}", f"2999010{i}T000000000000Z-0000000{i}") for i in (1, 2)
    ]
    errors = []

    def put_and_promote(folder):
        try:
            store.promote(store.put(folder))
        except Exception as error:  # collected: a thread's failure must fail the test
            errors.append(error)

    threads = [threading.Thread(target=put_and_promote, args=(folder,)) for folder in candidates]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert len(store.versions()) == 2
    assert store.current_version() in store.versions()


def test_a_pointer_naming_a_missing_version_is_reported(store, model_dir, tmp_path):
    store.promote(store.put(model_dir))
    store._write_pointer(json.dumps({"version": "20000101T000000000000Z-missing0"}).encode())
    with pytest.raises(StoreError, match="not in the store"):
        store.fetch_current(tmp_path / "cache")


def test_resolve_model_accepts_store_version_and_artifact_uris(store, model_dir, tmp_path):
    version = store.put(model_dir)
    store.promote(version)
    cache = tmp_path / "cache"
    by_store = resolve_model(store.uri, cache)
    by_version = resolve_model(store.version_uri(version), cache)
    assert json.loads((by_store / METADATA_FILE).read_text())["version"] == version
    assert json.loads((by_version / METADATA_FILE).read_text())["version"] == version
    assert resolve_model(model_dir, cache) == model_dir


def test_a_store_that_does_not_exist_is_a_clear_error(tmp_path):
    with pytest.raises(StoreError, match="does not exist"):
        resolve_model(tmp_path / "nothing-here")


def test_an_unreachable_s3_store_is_a_store_error(monkeypatch, tmp_path):
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")  # nothing listens on the discard port
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "x")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "x")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-central-1")
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "1")
    with pytest.raises(StoreError, match="unreachable"):
        resolve_model("s3://some-bucket/models", tmp_path)


def test_open_store_picks_the_backend():
    assert isinstance(open_store("s3://bucket/models"), S3Store)
    assert open_store("s3://bucket/models/").uri == "s3://bucket/models"
    assert isinstance(open_store("some/folder"), LocalStore)
