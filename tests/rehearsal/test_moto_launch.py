"""The rehearsal's corrections to moto (rehearsal/moto_launch.py), each as AWS behaves."""

from __future__ import annotations

import json
from typing import Any

import pytest

from rehearsal.lambda_service import manifest
from rehearsal.servers import local_client

ACCOUNT, REGION = "123456789012", "eu-central-1"
LOGGING = {"LogFormat": "JSON", "ApplicationLogLevel": "INFO", "SystemLogLevel": "WARN", "LogGroup": "/aws/lambda/x"}


def push(ecr: Any, repository: str, tag: str) -> str:
    image = manifest(f"sha256:{tag}", 1, b"{}")
    digest = ecr.put_image(repositoryName=repository, imageManifest=image, imageTag=tag)["image"]["imageId"][
        "imageDigest"
    ]
    return f"{ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com/{repository}@{digest}"


@pytest.fixture
def function(rehearsal_moto: str, request: pytest.FixtureRequest):
    name = f"ml-{abs(hash(request.node.name)) % 10**8}"
    lambda_, ecr, iam = (local_client(rehearsal_moto, service) for service in ("lambda", "ecr", "iam"))
    ecr.create_repository(repositoryName=name)
    role = iam.create_role(RoleName=name, AssumeRolePolicyDocument="{}")["Role"]["Arn"]
    images = [push(ecr, name, "aa"), push(ecr, name, "bb")]
    lambda_.create_function(FunctionName=name, Role=role, PackageType="Image", Code={"ImageUri": images[0]},
                            LoggingConfig=LOGGING, Publish=True)  # fmt: skip
    return name, lambda_, images, role


def test_a_function_reads_back_as_it_was_written(function):
    name, lambda_, _, _ = function
    configuration = lambda_.get_function_configuration(FunctionName=name)
    assert configuration["LoggingConfig"] == LOGGING
    assert "ImageConfigResponse" not in configuration  # nothing was overridden


def test_an_unchanged_image_publishes_no_new_version(function):
    name, lambda_, images, _ = function
    lambda_.update_function_code(FunctionName=name, ImageUri=images[0])
    assert lambda_.publish_version(FunctionName=name)["Version"] == "1"
    lambda_.update_function_code(FunctionName=name, ImageUri=images[1])
    assert lambda_.publish_version(FunctionName=name)["Version"] == "2"


def test_a_version_keeps_the_image_it_was_published_with(function):
    name, lambda_, images, _ = function
    lambda_.update_function_code(FunctionName=name, ImageUri=images[1])
    lambda_.publish_version(FunctionName=name)
    assert lambda_.get_function(FunctionName=name, Qualifier="1")["Code"]["ImageUri"] == images[0]
    assert lambda_.get_function(FunctionName=name, Qualifier="2")["Code"]["ImageUri"] == images[1]


def test_a_function_cannot_name_an_image_never_pushed(function):
    name, lambda_, images, role = function
    missing = images[0].rsplit("@", 1)[0] + "@sha256:" + "0" * 64
    with pytest.raises(lambda_.exceptions.ClientError, match=r"ImageNotFound|not exist"):
        lambda_.create_function(FunctionName=f"{name}-b", Role=role, PackageType="Image", Code={"ImageUri": missing})


def test_bucket_policies_are_evaluated_as_for_https(rehearsal_moto):
    s3 = local_client(rehearsal_moto, "s3")
    bucket = "moto-launch-https"
    s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": REGION})
    deny_http = {"Effect": "Deny", "Principal": "*", "Action": "s3:*", "Resource": f"arn:aws:s3:::{bucket}/*",
                 "Condition": {"Bool": {"aws:SecureTransport": "false"}}}  # fmt: skip
    s3.put_bucket_policy(Bucket=bucket, Policy=json.dumps({"Version": "2012-10-17", "Statement": [deny_http]}))
    s3.put_object(Bucket=bucket, Key="k", Body=b"v")
    assert s3.get_object(Bucket=bucket, Key="k")["Body"].read() == b"v"


def test_query_definitions_are_saved_listed_by_prefix_replaced_and_deleted(rehearsal_moto: str):
    logs = local_client(rehearsal_moto, "logs")
    first = logs.put_query_definition(name="qd/errors", queryString="fields @message", logGroupNames=["/g"])
    logs.put_query_definition(name="other/slow", queryString="fields @timestamp")
    definition_id = first["queryDefinitionId"]
    logs.put_query_definition(queryDefinitionId=definition_id, name="qd/errors", queryString="fields status")
    saved = logs.describe_query_definitions(queryDefinitionNamePrefix="qd/")["queryDefinitions"]
    assert [(d["queryDefinitionId"], d["queryString"], d["logGroupNames"]) for d in saved] == [
        (definition_id, "fields status", [])
    ]
    assert logs.delete_query_definition(queryDefinitionId=definition_id)["success"] is True
    assert logs.describe_query_definitions(queryDefinitionNamePrefix="qd/")["queryDefinitions"] == []
    with pytest.raises(logs.exceptions.ResourceNotFoundException):
        logs.delete_query_definition(queryDefinitionId=definition_id)
