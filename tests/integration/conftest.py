"""The API under test: the deployed one when ENDPOINT_URL is set, else a local stack started here.

ENDPOINT_URL is the stage root the seed's curl posts to (e.g. the Terraform output `endpoint_url`,
`https://{api}.execute-api.{region}.amazonaws.com/predict/`); API_KEY is sent as x-api-key when set.
The local stack is the real thing minus AWS: moto for S3, `python -m lambda_model train` into it,
and `python -m lambda_model serve` reading the model from it.
"""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import boto3
import pytest
import requests

from tests.support import servers


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "live: part of the release's verification against the deployed endpoint (pytest -m live): the "
        "contract only, no exact model outputs and nothing installed",
    )


@dataclass(frozen=True)
class Api:
    root: str
    session: requests.Session

    def post(self, path: str = "", **kwargs) -> requests.Response:
        return self.session.post(self.root + path, timeout=30, **kwargs)

    def request(self, method: str, path: str, **kwargs) -> requests.Response:
        return self.session.request(method, self.root + path, timeout=30, **kwargs)


def _session() -> requests.Session:
    session = requests.Session()
    if os.environ.get("API_KEY"):
        session.headers["x-api-key"] = os.environ["API_KEY"]
    return session


@pytest.fixture(scope="session")
def api(moto_endpoint_if_local) -> Iterator[Api]:
    if os.environ.get("ENDPOINT_URL"):
        yield Api(os.environ["ENDPOINT_URL"].rstrip("/") + "/", _session())
        return
    env = servers.cli_env(**servers.aws_env(moto_endpoint_if_local))
    env.pop("MODEL_URI", None)
    bucket = f"lambda-model-it-{uuid.uuid4().hex[:8]}"
    boto3.client(
        "s3",
        endpoint_url=moto_endpoint_if_local,
        region_name="eu-central-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    ).create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": "eu-central-1"})
    store = f"s3://{bucket}/models"
    trained = subprocess.run(
        [sys.executable, "-m", "lambda_model", "train", "--store", store],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert trained.returncode == 0, trained.stderr
    port = servers.free_port()
    root = f"http://127.0.0.1:{port}/"
    command = [sys.executable, "-m", "lambda_model", "serve", "--port", str(port), "--model", store]
    with servers.running(command, root + "health", env=env):
        yield Api(root, _session())


@pytest.fixture(scope="session")
def moto_endpoint_if_local(request) -> str | None:
    """Start moto only for the local stack: against a deployed API nothing local is needed."""
    if os.environ.get("ENDPOINT_URL"):
        return None
    return request.getfixturevalue("moto_endpoint")
