"""Fixtures every test folder may use."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support import servers

EVENTS_DIR = Path(__file__).parent / "events"


@pytest.fixture(scope="session")
def moto_endpoint() -> Iterator[str]:
    """One moto server for the whole run; tests isolate themselves with their own bucket or resource names."""
    with servers.moto_server() as endpoint:
        yield endpoint


@pytest.fixture
def aws(moto_endpoint: str, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """Point boto3 in this process at the moto server; returns the same variables for subprocesses."""
    env = servers.aws_env(moto_endpoint)
    for name in ("AWS_PROFILE", "AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return env


@pytest.fixture(scope="session")
def model_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A local store holding one trained, promoted model: trained once per test run."""
    from lambda_model.training.train import train

    root = tmp_path_factory.mktemp("store")
    train(None, str(root), report=lambda _: None)
    return root


@pytest.fixture(scope="session")
def model_dir(model_store: Path) -> Path:
    """The promoted artifact folder inside `model_store`; treat it as read-only."""
    from lambda_model.registry.local_store import LocalStore

    return LocalStore(model_store).fetch_current()


@pytest.fixture
def serving(model_dir: Path, monkeypatch: pytest.MonkeyPatch):
    """The handler module, serving `model_dir`; reset before and after so tests do not leak a model."""
    from lambda_model.serving import handler

    monkeypatch.setenv("MODEL_URI", str(model_dir))
    handler.model.reset()
    yield handler
    handler.model.reset()


def load_event(name: str) -> dict:
    return json.loads((EVENTS_DIR / name).read_text())


def write_breast_cancer_csv(path: Path) -> Path:
    """scikit-learn's breast cancer data as a user's CSV: 30 features, names made identifiers, 2 classes."""
    from sklearn.datasets import load_breast_cancer

    data = load_breast_cancer()
    names = [name.replace(" ", "_") for name in data.feature_names]
    lines = [",".join([*names, "diagnosis"])]
    lines += [
        ",".join([*(repr(float(value)) for value in row), data.target_names[target]])
        for row, target in zip(data.data, data.target, strict=True)
    ]
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.fixture(scope="session")
def cancer_csv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_breast_cancer_csv(tmp_path_factory.mktemp("cancer") / "breast_cancer.csv")


@pytest.fixture(scope="session")
def cancer_store(cancer_csv: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A local store whose promoted model is not iris: what a team that brings its own data gets."""
    from lambda_model.training.train import train

    root = tmp_path_factory.mktemp("cancer-store")
    train(str(cancer_csv), str(root), report=lambda _: None, label_column="diagnosis")
    return root


@pytest.fixture
def cancer_serving(cancer_store: Path, monkeypatch: pytest.MonkeyPatch):
    """The handler module serving the breast cancer model, reset like `serving`."""
    from lambda_model.serving import handler

    monkeypatch.setenv("MODEL_URI", str(cancer_store))
    handler.model.reset()
    yield handler
    handler.model.reset()
