"""Where model artifacts live: a local directory (the default) or an S3 prefix, behind one interface.

Layout, the same in every backend:

    <root>/versions/<version>/{model.onnx, model.joblib, metadata.json}   immutable, never overwritten
    <root>/current                                                        {"version": "<version>"}
    <root>/<folder>/<name>                                                 write-once files (the gate's reference sets)

A version is written completely before its metadata.json lands (the last file), so a reader never
sees half a model; promoting only rewrites the small `current` pointer.

This module is the interface; the backends are lambda_model.registry.local_store and .s3_store, and
open_store() is the one place that picks one. Code outside the registry uses ModelStore's methods only.
"""

from __future__ import annotations

import hashlib
import json
import os
from abc import ABC, abstractmethod
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from lambda_model.registry.artifact import METADATA_FILE, ArtifactError, verify

VERSIONS_DIR = "versions"
POINTER = "current"
DEFAULT_LOCAL_STORE = ".models"


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

    def fetch(self, version: str, cache_dir: Path | None = None) -> Path:
        """Return a local folder holding the verified artifact of `version`; a remote store's copy goes to
        `cache_dir` (by default the backend's own cache)."""
        folder = self._local_copy(version, cache_dir)
        try:
            verify(folder)
        except ArtifactError as error:
            self._discard_local_copy(folder)
            raise StoreError(f"{self.version_uri(version)} is not a usable model: {error}") from None
        return folder

    def read_metadata(self, version: str) -> dict[str, Any]:
        """One version's metadata.json, without downloading its model (the monitor needs only the baseline).

        Read-only: the monitor role may read metadata.json and nothing else of a version. Its checksums of the
        signature and the baseline are checked by the caller (artifact.signature_of / baseline_of).
        """
        raw = self.read_file(f"{VERSIONS_DIR}/{version}", METADATA_FILE)
        try:
            document = json.loads(raw)
        except ValueError:
            raise StoreError(f"{self.version_uri(version)}/{METADATA_FILE} is not JSON") from None
        if not isinstance(document, dict) or document.get("version") != version:
            raise StoreError(f"{self.version_uri(version)}/{METADATA_FILE} does not describe version {version}")
        return document

    def fetch_current(self, cache_dir: Path | None = None) -> Path:
        version = self.current_version()
        if version is None:
            if not self.exists():
                raise StoreError(f"no model at {self.uri}: the store does not exist")
            raise StoreError(f"{self.uri} has no current model yet: train one first")
        if version not in self.versions():
            raise StoreError(f"{self.uri}/{POINTER} names version {version}, which is not in the store")
        return self.fetch(version, cache_dir)

    @abstractmethod
    def exists(self) -> bool:
        """The store is there: a folder, or a prefix holding versions. A typo'd path or prefix holds nothing."""

    @abstractmethod
    def versions(self) -> list[str]: ...

    @abstractmethod
    def list_files(self, folder: str, prefix: str = "") -> list[str]:
        """Sorted names of the write-once files in `<root>/<folder>/` that start with `prefix`."""

    @abstractmethod
    def read_file(self, folder: str, name: str) -> bytes: ...

    @abstractmethod
    def create_file(self, folder: str, name: str, content: bytes) -> bool:
        """Write `<root>/<folder>/<name>` only if it is absent; False when it was there (nothing overwritten)."""

    @abstractmethod
    def _write_version(self, version: str, folder: Path) -> None: ...

    @abstractmethod
    def _read_pointer(self) -> bytes | None: ...

    @abstractmethod
    def _replace_pointer(self, document: bytes, if_pointer: str | None) -> None:
        """Write the pointer atomically; with `if_pointer`, only while pointer_tag() still equals it."""

    @abstractmethod
    def _local_copy(self, version: str, cache_dir: Path | None) -> Path: ...

    @abstractmethod
    def _discard_local_copy(self, folder: Path) -> None:
        """Forget a copy that failed verification, so a repaired store is read afresh next time."""


def open_store(uri: str | os.PathLike[str]) -> ModelStore:
    """A store from `s3://bucket/prefix` or a local directory path."""
    text = os.fspath(uri)
    if text.startswith("s3://"):
        from lambda_model.registry.s3_store import S3Store

        return S3Store.from_uri(text)
    from lambda_model.registry.local_store import LocalStore

    return LocalStore(Path(text))


def resolve_model(uri: str | os.PathLike[str], cache_dir: Path | None = None) -> Path:
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
    return open_store(text).fetch_current(cache_dir)
