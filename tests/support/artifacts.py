"""Artifacts in other shapes than today's training writes: an older format, an edited metadata.json."""

import json
import shutil
from pathlib import Path

from lambda_model.registry.artifact import METADATA_FILE


def rewrite_metadata(folder: Path, **changes) -> dict:
    metadata = json.loads((folder / METADATA_FILE).read_text())
    metadata.update(changes)
    (folder / METADATA_FILE).write_text(json.dumps(metadata))
    return metadata


def as_format_1(source: Path, destination: Path, version: str | None = None) -> Path:
    """A copy of `source` as the last release before signatures wrote it: two name lists, no signature or baseline.

    The model files and their checksums are unchanged, so it is exactly what a production store holds
    on the day this code is deployed.
    """
    shutil.copytree(source, destination)
    metadata = json.loads((destination / METADATA_FILE).read_text())
    signature = metadata.pop("signature")
    for later in ("signature_sha256", "baseline", "baseline_sha256"):
        metadata.pop(later, None)
    metadata["format_version"] = 1
    metadata["features"] = [feature["name"] for feature in signature["features"]]
    metadata["classes"] = signature["classes"]
    if version:
        metadata["version"] = version
    (destination / METADATA_FILE).write_text(json.dumps(metadata))
    return destination
