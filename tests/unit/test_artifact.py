import dataclasses
import json
import shutil

import pytest

from lambda_model.contract import ARTIFACT_FORMAT_VERSION
from lambda_model.registry.artifact import (
    METADATA_FILE,
    ONNX_FILE,
    PIPELINE_FILE,
    ArtifactError,
    sha256_of,
    signature_of,
    verify,
)
from lambda_model.registry.baseline import Baseline
from lambda_model.registry.signature import Signature
from lambda_model.serving.predictor import Predictor
from tests.support.artifacts import as_format_1, rewrite_metadata


@pytest.fixture
def artifact(model_dir, tmp_path):
    copy = tmp_path / "artifact"
    shutil.copytree(model_dir, copy)
    return copy


def test_metadata_records_what_the_issue_asks_for(model_dir):
    metadata = json.loads((model_dir / METADATA_FILE).read_text())
    for key in (
        "version",
        "created_at",
        "git_commit",
        "signature",
        "signature_sha256",
        "baseline",
        "baseline_sha256",
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
    assert metadata["format_version"] == ARTIFACT_FORMAT_VERSION == 2


def test_the_signature_records_the_training_columns_and_a_real_row(model_dir):
    from sklearn.datasets import load_iris

    signature = signature_of(json.loads((model_dir / METADATA_FILE).read_text()))
    data = load_iris().data
    assert signature.names == ("sepal_length", "sepal_width", "petal_length", "petal_width")
    assert signature.classes == ("setosa", "versicolor", "virginica")
    for feature, column in zip(signature.features, data.T, strict=True):
        assert (feature.minimum, feature.maximum) == (column.min(), column.max())
        assert feature.mean == pytest.approx(column.mean())
    assert list(signature.example_record().values()) in data.tolist()


def test_an_artifact_of_the_previous_format_loads_with_its_lists_as_the_signature(model_dir, tmp_path):
    """The first retrain after an upgrade gates against a production model written before signatures."""
    legacy = Predictor(as_format_1(model_dir, tmp_path / "legacy"))
    current = Predictor(model_dir)
    assert legacy.signature.names == current.signature.names
    assert legacy.signature.classes == current.signature.classes
    assert legacy.signature.fingerprint == current.signature.fingerprint
    assert legacy.signature.differences(current.signature) == []
    assert legacy.signature.input_example is None
    assert legacy.signature.features[0].minimum is None
    record = legacy.signature.example_record()
    assert set(record) == set(current.signature.names)
    assert legacy.predict([tuple(record.values())])[0].label in current.signature.classes


def test_a_signature_edited_after_sealing_is_refused(artifact):
    metadata = json.loads((artifact / METADATA_FILE).read_text())
    metadata["signature"]["features"][0]["max"] = 99.0
    (artifact / METADATA_FILE).write_text(json.dumps(metadata))
    with pytest.raises(ArtifactError, match="does not match its recorded sha256"):
        verify(artifact)


def test_a_signature_the_graph_cannot_take_is_refused_at_load(artifact):
    """A consistent metadata.json whose signature has a column fewer than the ONNX graph: never servable."""
    metadata = json.loads((artifact / METADATA_FILE).read_text())
    signature = Signature.from_json(metadata["signature"])
    narrower = Signature(signature.features[:3], signature.classes)
    baseline = Baseline.from_json(metadata["baseline"])
    narrower_baseline = dataclasses.replace(baseline, features=baseline.features[:3])
    rewrite_metadata(
        artifact,
        signature=narrower.as_json(),
        signature_sha256=narrower.sha256,
        baseline=narrower_baseline.as_json(),
        baseline_sha256=narrower_baseline.sha256,
    )
    verify(artifact)
    with pytest.raises(ArtifactError, match="does not take the signature's 3 features"):
        Predictor(artifact)


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
        ({"signature": {"features": [{"name": "a b"}], "classes": ["x", "y"]}}, "feature 'a b' must start"),
        ({"signature": {"features": [{"name": "a"}], "classes": ["x"]}}, "at least 2 distinct classes"),
        ({"signature": None}, "not a valid signature"),
        ({"format_version": 99}, "format 99 is not one this code reads"),
        ({"format_version": 1, "features": None}, "format 1 metadata lists no features"),
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
