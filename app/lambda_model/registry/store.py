"""Where model artifacts live: a local directory (the default) or an S3 prefix, behind one interface.

Layout, the same in both backends:

    <root>/versions/<version>/{model.onnx, model.joblib, metadata.json}   immutable, never overwritten
    <root>/current                                                        {"version": "<version>"}

A version is written completely before its metadata.json lands (the last file), so a reader never
sees half a model; promoting only rewrites the small `current` pointer.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import shutil
import tempfile
import uuid
from abc import ABC, abstractmethod
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from lambda_model.registry.artifact import ARTIFACT_FILES, METADATA_FILE, ArtifactError, verify

VERSIONS_DIR = "versions"
POINTER = "current"
DEFAULT_CACHE_DIR = Path(tempfile.gettempdir()) / "lambda-model-cache"
DEFAULT_LOCAL_STORE = ".models"


# Bounds on one S3 call (connect, then each read of the socket), and on how often it is tried: a store
# that accepts connections but never answers must fail a cold start in seconds, inside Lambda's 10 s
# init phase and the function's timeout, so the client gets the documented 503, not a 5xx from the
# gateway. (botocore's own defaults, 60 s reads tried four times, hold a cold start for minutes.)
S3_CONNECT_TIMEOUT_SECONDS = 2
S3_READ_TIMEOUT_SECONDS = 2
S3_TOTAL_ATTEMPTS = 2


def is_version_name(name: str) -> bool:
    """Versions are named by training; a dot marks a writer's scratch folder (.staging-...), never a version."""
    return bool(name) and not name.startswith(".") and "/" not in name


def default_store_uri() -> str:
    """$MODEL_STORE, else the seed's $BUCKET_NAME as s3://BUCKET/models, else ./.models."""
    if os.environ.get("MODEL_STORE"):
        return os.environ["MODEL_STORE"]
    if os.environ.get("BUCKET_NAME"):
        return f"s3://{os.environ['BUCKET_NAME']}/models"
    return DEFAULT_LOCAL_STORE


def default_model_uri() -> str:
    """$MODEL_URI, else the default store (meaning its current version)."""
    return os.environ.get("MODEL_URI") or default_store_uri()


class StoreError(Exception):
    """The store cannot be reached, or does not hold what was asked for."""


class PointerMovedError(StoreError):
    """A conditional promotion found `current` changed since its tag was read: nothing was written."""


# pointer_tag() of a store that has promoted nothing yet.
NO_POINTER = "none"


def _pointer_document(version: str) -> bytes:
    return json.dumps({"version": version, "promoted_at": datetime.now(UTC).isoformat()}).encode()


def _version_from_pointer(raw: bytes, where: str) -> str:
    try:
        version = json.loads(raw)["version"]
    except (ValueError, KeyError, TypeError):
        raise StoreError(f'{where} is not a valid pointer (expected {{"version": ...}})') from None
    if not isinstance(version, str) or not version or "/" in version:
        raise StoreError(f"{where} names an invalid version {version!r}")
    return version


class ModelStore(ABC):
    """Immutable, versioned model artifacts plus a pointer to the current one."""

    uri: str

    def version_uri(self, version: str) -> str:
        return f"{self.uri.rstrip('/')}/{VERSIONS_DIR}/{version}"

    def put(self, folder: Path) -> str:
        """Store a complete artifact under its own version; refuse to replace an existing version."""
        metadata = verify(folder)
        version = metadata["version"]
        if version in self.versions():
            raise StoreError(f"version {version} already exists in {self.uri}; versions are immutable")
        self._write_version(version, folder)
        return version

    def current_version(self) -> str | None:
        raw = self._read_pointer()
        return None if raw is None else _version_from_pointer(raw, f"{self.uri}/{POINTER}")

    def pointer_tag(self) -> str:
        """A token for the pointer as it is now; promote(if_pointer=token) succeeds only if it is unchanged."""
        raw = self._read_pointer()
        return NO_POINTER if raw is None else hashlib.md5(raw, usedforsecurity=False).hexdigest()

    def promote(self, version: str, if_pointer: str | None = None) -> None:
        """Point `current` at `version`; with `if_pointer` (a pointer_tag), only if nobody moved it since.

        The gate reads the tag before it judges production; promoting with it turns "promote what passed"
        into a compare-and-set, so a rollback or manual promote in between is refused, not overwritten.
        """
        if version not in self.versions():
            raise StoreError(f"cannot promote {version}: no such version in {self.uri}")
        self._replace_pointer(_pointer_document(version), if_pointer)

    def _pointer_moved(self, expected: str) -> PointerMovedError:
        return PointerMovedError(
            f"{self.uri}/{POINTER} moved since the gate read it (tag {expected}, now {self.pointer_tag()}): "
            "someone promoted or rolled back meanwhile; nothing was promoted. Gate again against what "
            "production serves now."
        )

    def fetch(self, version: str, cache_dir: Path = DEFAULT_CACHE_DIR) -> Path:
        """Return a local folder holding the verified artifact of `version`."""
        folder = self._local_copy(version, cache_dir)
        try:
            verify(folder)
        except ArtifactError as error:
            self._discard_local_copy(folder)
            raise StoreError(f"{self.version_uri(version)} is not a usable model: {error}") from None
        return folder

    def fetch_current(self, cache_dir: Path = DEFAULT_CACHE_DIR) -> Path:
        version = self.current_version()
        if version is None:
            raise StoreError(f"{self.uri} has no current model yet: train one first")
        if version not in self.versions():
            raise StoreError(f"{self.uri}/{POINTER} names version {version}, which is not in the store")
        return self.fetch(version, cache_dir)

    @abstractmethod
    def versions(self) -> list[str]: ...

    @abstractmethod
    def _write_version(self, version: str, folder: Path) -> None: ...

    @abstractmethod
    def _read_pointer(self) -> bytes | None: ...

    @abstractmethod
    def _replace_pointer(self, document: bytes, if_pointer: str | None) -> None:
        """Write the pointer atomically; with `if_pointer`, only while pointer_tag() still equals it."""

    @abstractmethod
    def _local_copy(self, version: str, cache_dir: Path) -> Path: ...

    @abstractmethod
    def _discard_local_copy(self, folder: Path) -> None:
        """Forget a copy that failed verification, so a repaired store is read afresh next time."""


class LocalStore(ModelStore):
    def __init__(self, root: Path) -> None:
        self.root = root.resolve()
        self.uri = str(self.root)

    def versions(self) -> list[str]:
        folder = self.root / VERSIONS_DIR
        if not folder.is_dir():
            return []
        names = (entry.name for entry in folder.iterdir() if (entry / METADATA_FILE).is_file())
        return sorted(name for name in names if is_version_name(name))

    def _write_version(self, version: str, folder: Path) -> None:
        versions = self.root / VERSIONS_DIR
        versions.mkdir(parents=True, exist_ok=True)
        staging = versions / f".staging-{uuid.uuid4().hex}"
        destination = versions / version
        try:
            shutil.copytree(folder, staging)
            # rename() onto an existing non-empty folder fails: a concurrent writer cannot be overwritten.
            staging.rename(destination)
        except OSError as error:
            shutil.rmtree(staging, ignore_errors=True)
            if (destination / METADATA_FILE).is_file():
                raise StoreError(f"version {version} already exists in {self.uri}; versions are immutable") from None
            # A full disk or a permission problem: say so, rather than let a half copy speak for it.
            raise StoreError(f"cannot write version {version} into {self.uri}: {error}") from error

    def _read_pointer(self) -> bytes | None:
        path = self.root / POINTER
        return path.read_bytes() if path.is_file() else None

    def _write_pointer(self, document: bytes) -> None:
        """Write to a scratch file, then rename over the pointer: readers see the old or the new, never half."""
        staging = self.root / f".{POINTER}-{uuid.uuid4().hex}"
        staging.write_bytes(document)
        os.replace(staging, self.root / POINTER)

    def _replace_pointer(self, document: bytes, if_pointer: str | None) -> None:
        # Every promotion takes the same lock, so the check and the rename are one step for other promoters.
        self.root.mkdir(parents=True, exist_ok=True)
        with open(self.root / f".{POINTER}.lock", "ab") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            if if_pointer is not None and self.pointer_tag() != if_pointer:
                raise self._pointer_moved(if_pointer)
            self._write_pointer(document)

    def _local_copy(self, version: str, cache_dir: Path) -> Path:
        folder = self.root / VERSIONS_DIR / version
        if not folder.is_dir():
            raise StoreError(f"no version {version} in {self.uri}")
        return folder

    def _discard_local_copy(self, folder: Path) -> None:
        pass  # the folder is the stored version itself, not a copy: it is evidence, never deleted


class S3Store(ModelStore):
    def __init__(self, bucket: str, prefix: str, client: Any = None) -> None:
        self.bucket = bucket
        self.prefix = prefix.strip("/")
        self.uri = f"s3://{bucket}/{self.prefix}" if self.prefix else f"s3://{bucket}"
        self._client = client

    @property
    def client(self) -> Any:
        if self._client is None:
            import boto3  # imported on first use: a model in the image never pays for boto3
            from botocore.config import Config

            # Short timeouts: an unreachable store must become a quick 503 (and a retry on the next
            # request), not a Lambda init phase that hangs on botocore's 60 s default.
            config = Config(
                connect_timeout=S3_CONNECT_TIMEOUT_SECONDS,
                read_timeout=S3_READ_TIMEOUT_SECONDS,
                # total_max_attempts counts the first try; botocore's "max_attempts" counts only retries.
                retries={"total_max_attempts": S3_TOTAL_ATTEMPTS, "mode": "standard"},
            )
            self._client = boto3.client("s3", config=config)
        return self._client

    def _key(self, *parts: str) -> str:
        return "/".join(part for part in (self.prefix, *parts) if part)

    def _call(self, action: str, method: Any, **kwargs: Any) -> Any:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            return method(**kwargs)
        except ClientError as error:
            if _error_code(error) == "PreconditionFailed":  # IfNoneMatch="*" met an existing key
                raise StoreError(f"{action} refused: the key exists in {self.uri}; versions are immutable") from error
            raise StoreError(f"{action} failed on {self.uri}: {_error_code(error)}: {error}") from error
        except BotoCoreError as error:
            raise StoreError(f"{action} failed: {self.uri} is unreachable: {error}") from error

    def versions(self) -> list[str]:
        paginator = self.client.get_paginator("list_objects_v2")
        pages = self._call(
            "listing versions",
            lambda **kw: list(paginator.paginate(**kw)),
            Bucket=self.bucket,
            Prefix=self._key(VERSIONS_DIR) + "/",
        )
        suffix = "/" + METADATA_FILE
        names = (
            item["Key"][: -len(suffix)].rsplit("/", 1)[-1]
            for page in pages
            for item in page.get("Contents", [])
            if item["Key"].endswith(suffix)
        )
        return sorted(name for name in names if is_version_name(name))

    def _get_bytes(self, action: str, key: str) -> bytes:
        """One object's content; reading the body is inside the error mapping, since a stream can fail too."""

        def get_and_read(**kwargs: Any) -> bytes:
            return self.client.get_object(**kwargs)["Body"].read()

        return self._call(action, get_and_read, Bucket=self.bucket, Key=key)

    def _write_version(self, version: str, folder: Path) -> None:
        # metadata.json goes last: its presence is what makes a version visible to readers.
        for name in ARTIFACT_FILES:
            self._call(
                f"uploading {name}",
                self.client.put_object,
                Bucket=self.bucket,
                Key=self._key(VERSIONS_DIR, version, name),
                Body=(folder / name).read_bytes(),
                IfNoneMatch="*",
            )

    def _read_pointer(self) -> bytes | None:
        try:
            return self._get_bytes("reading the pointer", self._key(POINTER))
        except StoreError as error:
            if _error_code(error.__cause__) in ("NoSuchKey", "404"):
                return None
            raise

    def pointer_tag(self) -> str:
        # The object's ETag, which S3 compares in If-Match (it is no MD5 under SSE-KMS, so never recompute it).
        try:
            head = self._call(
                "reading the pointer", self.client.head_object, Bucket=self.bucket, Key=self._key(POINTER)
            )
        except StoreError as error:
            if _error_code(error.__cause__) in ("NoSuchKey", "404", "NotFound"):
                return NO_POINTER
            raise
        return head["ETag"].strip('"')

    def _replace_pointer(self, document: bytes, if_pointer: str | None) -> None:
        condition: dict[str, str] = {}
        if if_pointer == NO_POINTER:
            condition = {"IfNoneMatch": "*"}
        elif if_pointer is not None:
            condition = {"IfMatch": f'"{if_pointer}"'}
        try:
            self._call(
                "writing the pointer",
                self.client.put_object,
                Bucket=self.bucket,
                Key=self._key(POINTER),
                Body=document,
                ContentType="application/json",
                **condition,
            )
        except StoreError as error:
            # 412: the ETag differs (or the pointer appeared); 409: a concurrent conditional write won.
            if if_pointer is not None and _error_code(error.__cause__) in (
                "PreconditionFailed",
                "412",
                "ConditionalRequestConflict",
                "409",
            ):
                raise self._pointer_moved(if_pointer) from error
            raise

    def _local_copy(self, version: str, cache_dir: Path) -> Path:
        folder = cache_dir / version
        if (folder / METADATA_FILE).is_file():
            return folder
        staging: Path | None = None
        try:
            cache_dir.mkdir(parents=True, exist_ok=True)
            staging = Path(tempfile.mkdtemp(prefix=f".{version}-", dir=cache_dir))
            for name in ARTIFACT_FILES:
                content = self._get_bytes(f"downloading {name} of {version}", self._key(VERSIONS_DIR, version, name))
                (staging / name).write_bytes(content)
            staging.rename(folder)
        except OSError as error:
            if staging is not None:
                shutil.rmtree(staging, ignore_errors=True)
            if not (folder / METADATA_FILE).is_file():  # else another process cached it first: use theirs
                # A full disk or a read-only cache: name it, rather than let a half copy speak for it.
                raise StoreError(f"cannot cache version {version} in {cache_dir}: {error}") from error
        except BaseException:
            if staging is not None:
                shutil.rmtree(staging, ignore_errors=True)
            raise
        return folder

    def _discard_local_copy(self, folder: Path) -> None:
        shutil.rmtree(folder, ignore_errors=True)  # only the cache: the store itself is untouched


def _error_code(error: BaseException | None) -> str:
    response = getattr(error, "response", None) or {}
    return response.get("Error", {}).get("Code", "?")


def split_s3_uri(uri: str) -> tuple[str, str]:
    bucket, _, key = uri.removeprefix("s3://").partition("/")
    if not bucket:
        raise StoreError(f"{uri!r} names no bucket; use s3://bucket/prefix")
    return bucket, key.strip("/")


def open_store(uri: str | os.PathLike[str]) -> ModelStore:
    """A store from `s3://bucket/prefix` or a local directory path."""
    text = os.fspath(uri)
    if text.startswith("s3://"):
        return S3Store(*split_s3_uri(text))
    return LocalStore(Path(text))


def resolve_model(uri: str | os.PathLike[str], cache_dir: Path = DEFAULT_CACHE_DIR) -> Path:
    """A local folder holding the verified model that MODEL_URI names.

    Accepted: an artifact folder; a store (local or s3://), meaning its current version; or one
    version of a store, `<store>/versions/<version>`.
    """
    text = os.fspath(uri).rstrip("/")
    if text.startswith("s3://"):
        head, marker, version = text.rpartition(f"/{VERSIONS_DIR}/")
        if marker and version and "/" not in version:
            return open_store(head).fetch(version, cache_dir)
    elif Path(text, METADATA_FILE).is_file():
        try:
            verify(Path(text))
        except ArtifactError as error:
            raise StoreError(str(error)) from None
        return Path(text)
    store = open_store(text)
    if isinstance(store, LocalStore) and not store.root.is_dir():
        raise StoreError(f"no model at {text}: the folder does not exist")
    return store.fetch_current(cache_dir)
