import json
import shutil

import pytest

from lambda_model.registry.artifact import METADATA_FILE, ONNX_FILE, PIPELINE_FILE, ArtifactError, sha256_of, verify
from lambda_model.serving.predictor import Predictor


@pytest.fixture
def artifact(model_dir, tmp_path):
    copy = tmp_path / "artifact"
    shutil.copytree(model_dir, copy)
    return copy


def rewrite_metadata(folder, **changes):
    metadata = json.loads((folder / METADATA_FILE).read_text())
    metadata.update(changes)
    (folder / METADATA_FILE).write_text(json.dumps(metadata))


def test_metadata_records_what_the_issue_asks_for(model_dir):
    metadata = json.loads((model_dir / METADATA_FILE).read_text())
    for key in (
        "version",
        "created_at",
        "git_commit",
        "features",
        "classes",
        "parameters",
        "metrics",
        "data",
        "versions",
    ):
        assert key in metadata
    assert metadata["files"] == {name: sha256_of(model_dir / name) for name in (ONNX_FILE, PIPELINE_FILE)}
    assert set(metadata["versions"]) >= {"python", "scikit-learn", "onnxruntime"}
    assert len(metadata["data"]["sha256"]) == 64
    assert metadata["metrics"]["accuracy"] >= 0.9
    assert 0 < metadata["metrics"]["macro_f1"] <= 1


def test_a_tampered_model_is_refused_and_the_checksum_named(artifact):
    with (artifact / ONNX_FILE).open("ab") as stream:
        stream.write(b"\0")
    with pytest.raises(ArtifactError, match=f"checksum mismatch for {ONNX_FILE}"):
        Predictor(artifact)


def test_a_missing_model_file_is_refused(artifact):
    (artifact / ONNX_FILE).unlink()
    with pytest.raises(ArtifactError, match=f"{ONNX_FILE} is missing"):
        verify(artifact)


def test_an_artifact_without_its_pipeline_file_is_refused_too(artifact):
    (artifact / PIPELINE_FILE).unlink()
    with pytest.raises(ArtifactError, match=f"{PIPELINE_FILE} is missing"):
        verify(artifact)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"features": ["a", "b", "c", "d"]}, "expects features"),
        ({"classes": ["x", "y", "z"]}, "classes"),
        ({"format_version": 99}, "format"),
        ({"files": None}, "no file checksums"),
    ],
)
def test_a_foreign_schema_is_refused(artifact, changes, message):
    rewrite_metadata(artifact, **changes)
    with pytest.raises(ArtifactError, match=message):
        verify(artifact)


def test_unreadable_metadata_is_refused(artifact):
    (artifact / METADATA_FILE).write_text("{not json")
    with pytest.raises(ArtifactError, match="not valid JSON"):
        verify(artifact)
    (artifact / METADATA_FILE).unlink()
    with pytest.raises(ArtifactError, match="not a model artifact"):
        verify(artifact)
