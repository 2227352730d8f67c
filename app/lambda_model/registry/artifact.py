"""A model artifact is a folder: the ONNX model, the scikit-learn pipeline, and metadata.json.

metadata.json records the sha256 of every other file, of the model's signature (its features, classes
and input example: lambda_model.registry.signature) and of its baseline (what training saw, for
monitoring: lambda_model.registry.baseline); reading an artifact checks them all before
anything is used, so a tampered, truncated or foreign model is refused. The serving path reads artifacts
with this module, so it imports at module level only what reading needs: every import is a cold start's.

Format 1 (before signatures) recorded only the feature names and the classes; such an artifact still
loads, its signature read from those two lists, so a registry written before the upgrade keeps serving
and the first gate after it still compares against that production model.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from lambda_model.contract import ARTIFACT_FORMAT_VERSION, READABLE_FORMAT_VERSIONS
from lambda_model.registry.baseline import Baseline, BaselineError
from lambda_model.registry.signature import Signature, SignatureError

ONNX_FILE = "model.onnx"
PIPELINE_FILE = "model.joblib"
METADATA_FILE = "metadata.json"
MODEL_FILES = (ONNX_FILE, PIPELINE_FILE)
ARTIFACT_FILES = (*MODEL_FILES, METADATA_FILE)


class ArtifactError(Exception):
    """The artifact is missing a file, fails a checksum, or has no valid signature."""


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        for chunk in iter(lambda: stream.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def seal(folder: Path, metadata: dict[str, Any], signature: Signature, baseline: Baseline) -> dict[str, Any]:
    """Write metadata.json with the signature, the baseline and the checksums of the model files in `folder`."""
    sealed = {
        **metadata,
        "format_version": ARTIFACT_FORMAT_VERSION,
        "signature": signature.as_json(),
        "signature_sha256": signature.sha256,
        "baseline": baseline.as_json(),
        "baseline_sha256": baseline.sha256,
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
    signature = signature_of(metadata, folder)
    baseline = baseline_of(metadata, folder)
    if baseline is not None and baseline.names != signature.names:
        raise ArtifactError(f"{folder}: the baseline describes {baseline.names}, the signature {signature.names}")
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


def signature_of(metadata: dict[str, Any], where: Path | str = "the artifact") -> Signature:
    """The model's signature from its metadata (format 2), or from the two lists format 1 recorded."""
    format_version = metadata.get("format_version")
    if format_version not in READABLE_FORMAT_VERSIONS:
        raise ArtifactError(
            f"{where}: artifact format {format_version!r} is not one this code reads "
            f"({', '.join(map(str, READABLE_FORMAT_VERSIONS))})"
        )
    try:
        if format_version == 1:
            features = metadata.get("features")
            if not isinstance(features, list):
                raise SignatureError("format 1 metadata lists no features")
            legacy = {"features": [{"name": name} for name in features], "classes": metadata.get("classes")}
            return Signature.from_json(legacy)
        signature = Signature.from_json(metadata.get("signature"))
    except SignatureError as error:
        raise ArtifactError(f"{where}: {error}") from None
    if signature.sha256 != metadata.get("signature_sha256"):
        raise ArtifactError(f"{where}: the signature in {METADATA_FILE} does not match its recorded sha256")
    return signature


def baseline_of(metadata: dict[str, Any], where: Path | str = "the artifact") -> Baseline | None:
    """The model's baseline; None for artifacts written before baselines (they serve without drift metrics)."""
    if "baseline" not in metadata:
        return None
    try:
        baseline = Baseline.from_json(metadata["baseline"])
    except BaselineError as error:
        raise ArtifactError(f"{where}: {error}") from None
    if baseline.sha256 != metadata.get("baseline_sha256"):
        raise ArtifactError(f"{where}: the baseline in {METADATA_FILE} does not match its recorded sha256")
    return baseline


def export(source: Path, destination: Path) -> dict[str, Any]:
    """Copy the verified artifact in `source` to the folder `destination`, replacing an older export there.

    The copy is made and verified in a scratch folder beside `destination`, then renamed into place:
    a failed export leaves the old one whole. A destination that is, or contains, the source is
    refused (replacing it would delete the very model being copied), and so is a destination that is
    a file, a folder of something other than a model, or a model folder that holds other files too.
    """
    source, destination = source.resolve(), destination.resolve()
    if source.is_relative_to(destination):
        raise ArtifactError(f"cannot export {source} to {destination}: the destination holds the model itself")
    if destination.exists() and not destination.is_dir():
        raise ArtifactError(f"cannot export to {destination}: it is a file, not a folder")
    if destination.is_dir() and any(destination.iterdir()):
        if not (destination / METADATA_FILE).is_file():
            raise ArtifactError(f"cannot export to {destination}: it is not empty and holds no model to replace")
        others = sorted(path.name for path in destination.iterdir() if path.name not in ARTIFACT_FILES)
        if others:
            # Replacing the folder would delete them with the old model.
            raise ArtifactError(
                f"cannot export to {destination}: besides a model it holds {', '.join(others)}; move them out first"
            )
    # Here, not at the top: shutil and tempfile (bz2, lzma, random) would cost every cold start 2-3 ms for an
    # export that only the CLI makes.
    import shutil
    import tempfile

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
