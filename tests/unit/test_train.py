import numpy as np
import pytest

from lambda_model.registry.local_store import LocalStore
from lambda_model.serving.predictor import Predictor
from lambda_model.training import conversion
from lambda_model.training.conversion import ParityError, check_parity, parity_rows
from lambda_model.training.pipeline import ParameterError, build_pipeline, parse_parameters
from lambda_model.training.train import train

SEED_EXAMPLES = [
    ((5.9, 3.0, 5.1, 1.8), "virginica"),
    ((5.1, 3.5, 1.4, 0.2), "setosa"),
    ((5.4, 3.0, None, 0.2), "versicolor"),
]


def test_training_prints_progress_like_the_seed_and_promotes(tmp_path):
    lines: list[str] = []
    result = train(None, str(tmp_path), report=lines.append)
    assert lines[0] == "Loading data."
    assert lines[1] == "Creating model."
    assert "Fitting model with 150 datapoints." in lines
    assert "Saving model." in lines
    assert result.promoted
    assert LocalStore(tmp_path).current_version() == result.version


def test_the_seed_examples_get_the_seed_labels(model_dir):
    predictions = Predictor(model_dir).predict([row for row, _ in SEED_EXAMPLES])
    assert [p.label for p in predictions] == [label for _, label in SEED_EXAMPLES]
    assert predictions[0].as_dict() == {"label": "virginica", "probability": 0.9997}


def test_no_promote_stores_without_moving_the_pointer(tmp_path):
    first = train(None, str(tmp_path), report=lambda _: None)
    second = train(None, str(tmp_path), promote=False, report=lambda _: None)
    store = LocalStore(tmp_path)
    assert store.current_version() == first.version
    assert set(store.versions()) == {first.version, second.version}


def test_a_model_that_fails_the_parity_check_is_not_stored(tmp_path, monkeypatch):
    real = conversion.to_onnx_bytes
    monkeypatch.setattr(
        "lambda_model.training.train.to_onnx_bytes",
        lambda model, width: real(build_pipeline({"n_estimators": 3}).fit(np.eye(4) * 3, [0, 1, 2, 2]), width),
    )
    with pytest.raises(ParityError, match="not stored"):
        train(None, str(tmp_path), report=lambda _: None)
    assert LocalStore(tmp_path).versions() == []


def test_parity_rows_blank_each_column_in_turn():
    rows = parity_rows(np.ones((2, 4)))
    assert rows.shape == (10, 4)
    assert rows.dtype == np.float32
    for column in range(4):
        assert np.isnan(rows[2 + 2 * column : 4 + 2 * column, column]).all()


def test_check_parity_measures_the_difference(model_dir):
    import joblib

    from lambda_model.training.data import load_dataset

    pipeline = joblib.load(model_dir / "model.joblib")
    iris = load_dataset(None)
    rows = parity_rows(iris.features)
    assert check_parity(pipeline, (model_dir / "model.onnx").read_bytes(), rows) <= conversion.PARITY_TOLERANCE
    # Another model's graph answers other probabilities: the difference is measured, not assumed.
    other = build_pipeline({"n_estimators": 2}).fit(iris.features, iris.labels)
    with pytest.raises(ParityError, match=r"differ by up to 0\.[1-9]"):
        check_parity(pipeline, conversion.to_onnx_bytes(other, 4), rows)


def test_parameters_are_typed_and_checked():
    assert parse_parameters(["n_estimators=50", "learning_rate=0.1", "loss=log_loss"]) == {
        "n_estimators": 50,
        "learning_rate": 0.1,
        "loss": "log_loss",
    }
    with pytest.raises(ParameterError, match="unknown model parameter 'trees'"):
        parse_parameters(["trees=3"])
    with pytest.raises(ParameterError, match="NAME=VALUE"):
        parse_parameters(["n_estimators"])


def test_none_is_a_parameter_value_as_python_and_json_spell_it():
    assert parse_parameters(["max_depth=None", "max_features=null"]) == {"max_depth": None, "max_features": None}


def test_the_seed_is_refused_as_fixed_and_not_offered_among_the_known_parameters():
    with pytest.raises(ParameterError, match="random_state is fixed at 42") as fixed:
        parse_parameters(["random_state=1"])
    assert "unknown" not in str(fixed.value)
    with pytest.raises(ParameterError) as unknown:
        parse_parameters(["trees=3"])
    assert "random_state" not in str(unknown.value)


def test_a_parameter_the_model_rejects_stores_nothing(tmp_path):
    with pytest.raises(ParameterError, match="rejected its parameters"):
        train(None, str(tmp_path), parse_parameters(["n_estimators=-1"]), report=lambda _: None)
    assert LocalStore(tmp_path).versions() == []
