import errno
import json
import shutil
import threading
import time
import uuid
from pathlib import Path

import boto3
import pytest
from botocore.exceptions import ResponseStreamingError

from lambda_model.registry.artifact import METADATA_FILE, ONNX_FILE
from lambda_model.registry.local_store import LocalStore
from lambda_model.registry.s3_store import S3_READ_TIMEOUT_SECONDS, S3_TOTAL_ATTEMPTS, S3Store
from lambda_model.registry.store import (
    NO_POINTER,
    PointerMovedError,
    StoreError,
    open_store,
    resolve_model,
)
from tests.support.servers import silent_endpoint

# Each try of a call waits at most the read timeout; botocore's back-off between tries stays under a second.
HUNG_STORE_BOUND_SECONDS = S3_TOTAL_ATTEMPTS * (S3_READ_TIMEOUT_SECONDS + 1) + 2


def copy_with_version(model_dir, destination, version):
    """The trained artifact under another version id, resealed so its checksums stay valid."""
    shutil.copytree(model_dir, destination)
    metadata = json.loads((destination / METADATA_FILE).read_text())
    metadata["version"] = version
    (destination / METADATA_FILE).write_text(json.dumps(metadata))
    return destination


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


def test_a_writer_that_lost_the_race_cannot_overwrite_a_version(store, model_dir, monkeypatch):
    """The existence check in put() and the write are two steps: the write itself must refuse an existing version.

    On S3 that is the conditional write (IfNoneMatch="*"); locally, rename() onto a non-empty folder.
    """
    version = store.put(model_dir)
    sealed = (model_dir / ONNX_FILE).read_bytes()
    with monkeypatch.context() as patch:
        patch.setattr(store, "versions", lambda: [])  # the check ran before the other writer finished
        with pytest.raises(StoreError, match="immutable"):
            store.put(model_dir)
    assert store.versions() == [version]
    assert (store.fetch(version, model_dir.parent / f"cache-{uuid.uuid4().hex}") / ONNX_FILE).read_bytes() == sealed


def test_promoting_an_unknown_version_is_refused(store):
    with pytest.raises(StoreError, match="no such version"):
        store.promote("20990101T000000000000Z-deadbeef")


def test_a_store_that_is_not_there_is_told_apart_from_one_without_a_current_model(store, model_dir, tmp_path):
    with pytest.raises(StoreError, match="the store does not exist"):
        store.fetch_current(tmp_path / "cache")
    store.put(model_dir)
    with pytest.raises(StoreError, match="has no current model yet: train one first"):
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
    store._replace_pointer(json.dumps({"version": "20000101T000000000000Z-missing0"}).encode(), None)
    with pytest.raises(StoreError, match="not in the store"):
        store.fetch_current(tmp_path / "cache")


def test_a_conditional_promotion_succeeds_while_the_pointer_is_as_the_gate_saw_it(store, model_dir, tmp_path):
    first = store.put(model_dir)
    assert store.pointer_tag() == NO_POINTER
    store.promote(first, if_pointer=NO_POINTER)
    second = store.put(copy_with_version(model_dir, tmp_path / "second", "29990101T000000000000Z-00000002"))

    store.promote(second, if_pointer=store.pointer_tag())

    assert store.current_version() == second


def test_a_pointer_that_moved_since_the_gate_refuses_the_promotion(store, model_dir, tmp_path):
    first = store.put(model_dir)
    store.promote(first)
    seen_at_gate = store.pointer_tag()
    candidate = store.put(copy_with_version(model_dir, tmp_path / "candidate", "29990101T000000000000Z-00000003"))
    store.promote(first)  # a rollback (or manual promote) between the gate and the release's end

    with pytest.raises(PointerMovedError, match="moved since the gate read it"):
        store.promote(candidate, if_pointer=seen_at_gate)
    assert store.current_version() == first


def test_a_first_promotion_is_refused_once_someone_else_promoted(store, model_dir, tmp_path):
    first = store.put(model_dir)
    store.promote(first)

    with pytest.raises(PointerMovedError):
        store.promote(first, if_pointer=NO_POINTER)


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


def test_an_s3_store_that_accepts_connections_but_never_answers_fails_within_the_bound(monkeypatch, tmp_path):
    with silent_endpoint() as endpoint:
        monkeypatch.setenv("AWS_ENDPOINT_URL", endpoint)
        monkeypatch.setenv("AWS_ACCESS_KEY_ID", "x")
        monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "x")
        monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-central-1")
        started = time.monotonic()
        with pytest.raises(StoreError, match="unreachable"):
            resolve_model("s3://some-bucket/models", tmp_path)
        elapsed = time.monotonic() - started
    assert elapsed < HUNG_STORE_BOUND_SECONDS, f"a hung store held the caller for {elapsed:.1f} s"


class FailingStream:
    def read(self):
        raise ResponseStreamingError(error="Connection broken: IncompleteRead(10 bytes read, 90 more expected)")


class ClientWhoseStreamsBreak:
    """An S3 client whose get_object answers, then fails while the body is read: a connection cut mid-download."""

    def get_object(self, **_):
        return {"Body": FailingStream()}


def test_a_download_that_breaks_mid_stream_is_a_store_error():
    with pytest.raises(StoreError, match="reading the pointer failed: s3://bucket/models is unreachable"):
        S3Store("bucket", "models", client=ClientWhoseStreamsBreak()).current_version()


def test_a_full_disk_while_caching_a_download_is_named(aws, model_dir, tmp_path, monkeypatch):
    bucket = f"models-{uuid.uuid4().hex[:12]}"
    boto3.client("s3").create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": "eu-central-1"})
    store = S3Store(bucket, "models")
    version = store.put(model_dir)

    def disk_full(self, data):
        raise OSError(errno.ENOSPC, "No space left on device", str(self))

    with monkeypatch.context() as patch:
        patch.setattr(Path, "write_bytes", disk_full)
        with pytest.raises(StoreError, match=r"cannot cache version .*No space left"):
            store.fetch(version, tmp_path / "cache")
    assert not list((tmp_path / "cache").iterdir()), "the half-written copy is removed"


def test_a_full_disk_while_writing_a_local_version_is_named(model_dir, tmp_path, monkeypatch):
    store = LocalStore(tmp_path / "store")

    def copy_until_the_disk_is_full(source, destination, **_):
        Path(destination).mkdir()
        shutil.copy2(Path(source) / METADATA_FILE, Path(destination) / METADATA_FILE)
        raise OSError(errno.ENOSPC, "No space left on device")

    with monkeypatch.context() as patch:
        patch.setattr(shutil, "copytree", copy_until_the_disk_is_full)
        with pytest.raises(StoreError, match=r"cannot write version .*No space left"):
            store.put(model_dir)
    assert list((tmp_path / "store" / "versions").iterdir()) == [], "the half-written copy is removed"


def test_a_writer_s_leftover_staging_folder_is_not_a_version(model_dir, tmp_path):
    store = LocalStore(tmp_path / "store")
    version = store.put(model_dir)
    leftover = tmp_path / "store" / "versions" / ".staging-0123456789abcdef"
    shutil.copytree(model_dir, leftover)  # a writer killed between its copy and its rename
    assert store.versions() == [version]
    with pytest.raises(StoreError, match="no such version"):
        store.promote(leftover.name)
    assert store.current_version() is None


def test_open_store_picks_the_backend():
    assert isinstance(open_store("s3://bucket/models"), S3Store)
    assert open_store("s3://bucket/models/").uri == "s3://bucket/models"
    assert isinstance(open_store("some/folder"), LocalStore)


def test_read_metadata_reads_one_version_without_its_model(store, model_dir, tmp_path):
    version = store.put(model_dir)
    assert store.read_metadata(version) == json.loads((model_dir / METADATA_FILE).read_text())
    assert not (tmp_path / "cache").exists()  # nothing was downloaded
    with pytest.raises(StoreError):
        store.read_metadata("no-such-version")
