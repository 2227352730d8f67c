"""The local-folder backend of the model store (the default: `./.models`, nothing to set up)."""

from __future__ import annotations

import fcntl
import os
import shutil
import uuid
from pathlib import Path

from lambda_model.registry.artifact import METADATA_FILE
from lambda_model.registry.store import POINTER, VERSIONS_DIR, ModelStore, StoreError, is_version_name


class LocalStore(ModelStore):
    def __init__(self, root: Path) -> None:
        self.root = root.resolve()
        self.uri = str(self.root)

    def exists(self) -> bool:
        return self.root.is_dir()

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

    def _local_copy(self, version: str, cache_dir: Path | None) -> Path:
        folder = self.root / VERSIONS_DIR / version
        if not folder.is_dir():
            raise StoreError(f"no version {version} in {self.uri}")
        return folder

    def _discard_local_copy(self, folder: Path) -> None:
        pass  # the folder is the stored version itself, not a copy: it is evidence, never deleted

    def list_files(self, folder: str, prefix: str = "") -> list[str]:
        directory = self.root / folder
        try:
            return sorted(p.name for p in directory.glob(f"{prefix}*") if p.is_file()) if directory.is_dir() else []
        except OSError as error:
            raise StoreError(f"cannot list {directory}: {error}") from error

    def read_file(self, folder: str, name: str) -> bytes:
        try:
            return (self.root / folder / name).read_bytes()
        except OSError as error:
            raise StoreError(f"cannot read {self.root / folder / name}: {error}") from error

    def create_file(self, folder: str, name: str, content: bytes) -> bool:
        directory = self.root / folder
        try:
            directory.mkdir(parents=True, exist_ok=True)
            # Exclusive create: a concurrent writer of the same file wins, nobody overwrites.
            with open(directory / name, "xb") as handle:
                handle.write(content)
        except FileExistsError:
            return False
        except OSError as error:
            raise StoreError(f"cannot write {directory / name}: {error}") from error
        return True
