"""The OpenAPI document is generated from the model's signature: docs/openapi.yaml is the default model's."""

import json

import yaml
from openapi_spec_validator import validate

from lambda_model.cli import main
from tests.support.servers import REPO_ROOT

SPEC_PATH = REPO_ROOT / "docs" / "openapi.yaml"


def test_docs_openapi_yaml_is_the_generated_document_of_the_default_model(model_store, tmp_path, capsys):
    generated = tmp_path / "openapi.yaml"
    assert main(["openapi", "--model", str(model_store), "--out", str(generated)]) == 0
    assert generated.read_text() == SPEC_PATH.read_text(), (
        "docs/openapi.yaml is stale: run `python -m lambda_model openapi --model .models --out docs/openapi.yaml`"
    )


def test_another_models_document_names_its_own_features_and_classes(cancer_store, capsys):
    assert main(["openapi", "--model", str(cancer_store)]) == 0
    spec = yaml.safe_load(capsys.readouterr().out)
    validate(spec)
    record = spec["components"]["schemas"]["Record"]
    assert len(record["properties"]) == 30
    assert set(record["required"]) == set(record["properties"])
    assert "mean_radius" in record["properties"]
    assert "sepal_length" not in json.dumps(spec)
    labels = spec["components"]["schemas"]["Prediction"]["properties"]["label"]
    assert labels["enum"] == ["benign", "malignant"]


def test_the_served_document_is_the_one_the_command_writes(serving, model_store, capsys):
    from tests.conftest import load_event
    from tests.unit.test_handler import body_of

    event = load_event("rest_api_health.json")
    event["path"] = event["resource"] = "/openapi.json"
    result = serving.handler(event)
    assert result["statusCode"] == 200
    assert main(["openapi", "--model", str(model_store)]) == 0
    assert body_of(result) == yaml.safe_load(capsys.readouterr().out)
