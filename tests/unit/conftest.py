"""Fixtures shared by the unit tests of the model store and what is kept in it."""

import uuid

import boto3
import pytest

from lambda_model.registry.local_store import LocalStore
from lambda_model.registry.s3_store import S3Store


@pytest.fixture(params=["local", "s3"])
def store(request, tmp_path):
    """An empty store, once in a local folder and once in a fresh moto bucket."""
    if request.param == "local":
        return LocalStore(tmp_path / "store")
    request.getfixturevalue("aws")
    bucket = f"models-{uuid.uuid4().hex[:12]}"
    boto3.client("s3").create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": "eu-central-1"})
    return S3Store(bucket, "models")
