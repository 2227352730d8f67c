"""A model artifact is a folder: the ONNX model, the scikit-learn pipeline, and metadata.json.

metadata.json records the sha256 of every other file; reading an artifact checks them all and the
feature schema before anything is used, so a tampered, truncated or foreign model is refused.
This module imports nothing heavy: the serving path uses it.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import tempfile
from pathlib import Path
from typing import Any

from lambda_model.contract import ARTIFACT_FORMAT_VERSION, CLASSES, FEATURES

ONNX_FILE = "model.onnx"
PIPELINE_FILE = "model.joblib"
METADATA_FILE = "metadata.json"
MODEL_FILES = (ONNX_FILE, PIPELINE_FILE)
ARTIFACT_FILES = (*MODEL_FILES, METADATA_FILE)


class ArtifactError(Exception):
    """The artifact is missing a file, fails a checksum, or does not match the feature schema."""


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        for chunk in iter(lambda: stream.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def seal(folder: Path, metadata: dict[str, Any]) -> dict[str, Any]:
    """Write metadata.json with the checksums of the model files already in `folder`."""
    sealed = {
        **metadata,
        "format_version": ARTIFACT_FORMAT_VERSION,
        "files": {name: sha256_of(folder / name) for name in MODEL_FILES},
    }
    (folder / METADATA_FILE).write_text(json.dumps(sealed, indent=2, sort_keys=True) + "\n")
    return sealed


def read_metadata(folder: Path) -> dict[str, Any]:
    path = folder / METADATA_FILE
    if not path.is_file():
        raise ArtifactError(f"{folder} is not a model artifact: {METADATA_FILE} is missing")
    try:
        metadata = json.loads(path.read_text())
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ArtifactError(f"{path} is not valid JSON: {error}") from None
    if not isinstance(metadata, dict):
        raise ArtifactError(f"{path} must hold a JSON object")
    return metadata


def verify(folder: Path) -> dict[str, Any]:
    """Check the schema and the checksum of every model file; return the metadata.

    Serving runs only the ONNX file, but an artifact travels whole (store, image, cache): a missing
    or altered pipeline file means the folder is not what training sealed.
    """
    metadata = read_metadata(folder)
    if metadata.get("format_version") != ARTIFACT_FORMAT_VERSION:
        raise ArtifactError(
            f"{folder}: artifact format {metadata.get('format_version')!r} "
            f"is not the supported {ARTIFACT_FORMAT_VERSION}"
        )
    if tuple(metadata.get("features", ())) != FEATURES:
        raise ArtifactError(
            f"{folder}: the model expects features {metadata.get('features')}, this service sends {list(FEATURES)}"
        )
    if tuple(metadata.get("classes", ())) != CLASSES:
        raise ArtifactError(f"{folder}: the model's classes {metadata.get('classes')} are not {list(CLASSES)}")
    checksums = metadata.get("files")
    if not isinstance(checksums, dict):
        raise ArtifactError(f"{folder}: {METADATA_FILE} lists no file checksums")
    for name in MODEL_FILES:
        path = folder / name
        if not path.is_file():
            raise ArtifactError(f"{folder}: {name} is missing")
        expected = checksums.get(name)
        actual = sha256_of(path)
        if actual != expected:
            raise ArtifactError(f"{folder}: checksum mismatch for {name}: expected sha256 {expected}, found {actual}")
    return metadata


def export(source: Path, destination: Path) -> dict[str, Any]:
    """Copy the verified artifact in `source` to the folder `destination`, replacing an older export there.

    The copy is made and verified in a scratch folder beside `destination`, then renamed into place:
    a failed export leaves the old one whole. A destination that is, or contains, the source is
    refused (replacing it would delete the very model being copied), and so is a destination that is
    a file or a folder of something other than a model.
    """
    source, destination = source.resolve(), destination.resolve()
    if source.is_relative_to(destination):
        raise ArtifactError(f"cannot export {source} to {destination}: the destination holds the model itself")
    if destination.exists() and not destination.is_dir():
        raise ArtifactError(f"cannot export to {destination}: it is a file, not a folder")
    if destination.is_dir() and any(destination.iterdir()) and not (destination / METADATA_FILE).is_file():
        raise ArtifactError(f"cannot export to {destination}: it is not empty and holds no model to replace")
    destination.parent.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix=f".{destination.name}-export-", dir=destination.parent))
    try:
        exported = scratch / "artifact"
        exported.mkdir()
        for name in ARTIFACT_FILES:
            if (source / name).is_file():
                shutil.copy2(source / name, exported / name)
        metadata = verify(exported)
        if destination.exists():
            destination.rename(scratch / "replaced")
        exported.rename(destination)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return metadata
