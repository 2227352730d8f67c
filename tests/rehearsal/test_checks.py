"""What the rehearsal's stages check after a run: a stage's footprint (the proof that production did not change
while staging failed), the tags on an image's digest, and the STAGES variable."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from rehearsal.checks import Checks, Footprint, parse_stages
from rehearsal.machine import StageFailed
from rehearsal.servers import local_client
from tests.rehearsal.test_moto_launch import ACCOUNT, REGION, push

STATE_KEY = "p/live/terraform.tfstate"


@pytest.fixture
def stack(rehearsal_moto: str, request: pytest.FixtureRequest):
    """A stage's stack as a release leaves it: a function with version 1 behind alias live, an API named after
    it with one deployment, and the stage's state object in a versioned bucket."""
    name = f"checks-{abs(hash(request.node.name)) % 10**8}"
    clients = {service: local_client(rehearsal_moto, service) for service in ("lambda", "ecr", "iam", "s3")}
    clients["ecr"].create_repository(repositoryName=name)
    role = clients["iam"].create_role(RoleName=name, AssumeRolePolicyDocument="{}")["Role"]["Arn"]
    images = [push(clients["ecr"], name, "aa"), push(clients["ecr"], name, "bb")]
    clients["lambda"].create_function(
        FunctionName=name, Role=role, PackageType="Image", Code={"ImageUri": images[0]}, Publish=True
    )
    clients["lambda"].create_alias(FunctionName=name, Name="live", FunctionVersion="1")
    apigateway = local_client(rehearsal_moto, "apigateway")
    api = apigateway.create_rest_api(name=name)["id"]
    root = apigateway.get_resources(restApiId=api)["items"][0]["id"]
    apigateway.put_method(restApiId=api, resourceId=root, httpMethod="GET", authorizationType="NONE")
    apigateway.put_integration(restApiId=api, resourceId=root, httpMethod="GET", type="MOCK")
    apigateway.create_deployment(restApiId=api, stageName="predict")
    s3 = clients["s3"]
    s3.create_bucket(Bucket=name, CreateBucketConfiguration={"LocationConstraint": REGION})
    s3.put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": "Enabled"})
    s3.put_object(Bucket=name, Key=STATE_KEY, Body=b'{"serial": 1}')
    machine = SimpleNamespace(client=lambda service: local_client(rehearsal_moto, service))
    return Checks(machine, "unused", name), name, images, clients


def test_an_untouched_stage_has_the_same_footprint(stack):
    checks, name, _, _ = stack
    assert checks.footprint(name, STATE_KEY).changes(checks.footprint(name, STATE_KEY)) == []


def test_a_release_an_apply_and_an_alias_move_each_show(stack):
    checks, name, images, clients = stack
    before = checks.footprint(name, STATE_KEY)
    clients["lambda"].update_function_code(FunctionName=name, ImageUri=images[1])
    clients["lambda"].publish_version(FunctionName=name)
    clients["lambda"].update_alias(FunctionName=name, Name="live", FunctionVersion="2")
    clients["s3"].put_object(Bucket=name, Key=STATE_KEY, Body=b'{"serial": 2}')  # an apply
    changed = [change.split(":")[0] for change in before.changes(checks.footprint(name, STATE_KEY))]
    assert changed == ["alias", "versions", "code", "state_object"]


def test_a_canary_weight_alone_is_a_change(stack):
    checks, name, images, clients = stack
    clients["lambda"].update_function_code(FunctionName=name, ImageUri=images[1])
    clients["lambda"].publish_version(FunctionName=name)
    before = checks.footprint(name, STATE_KEY)
    clients["lambda"].update_alias(
        FunctionName=name, Name="live", RoutingConfig={"AdditionalVersionWeights": {"2": 0.1}}
    )
    assert before.changes(checks.footprint(name, STATE_KEY)) == ["alias: ('1', ()) -> ('1', (('2', 0.1),))"]


def test_the_tags_of_a_digest_whether_named_by_digest_or_by_tag(stack):
    checks, name, images, clients = stack
    image = clients["ecr"].batch_get_image(repositoryName=name, imageIds=[{"imageTag": "aa"}])["images"][0]
    clients["ecr"].put_image(repositoryName=name, imageManifest=image["imageManifest"], imageTag="aa-staged")
    repository_url = f"{ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com/{name}"
    assert checks.image_tags(images[0]) == ["aa", "aa-staged"]
    assert checks.digest(f"{repository_url}:aa-staged") == images[0].split("@")[1]
    assert checks.served_image(name) == images[0]
    with pytest.raises(StageFailed, match="holds no image named"):
        checks.image_tags(f"{repository_url}@sha256:{'0' * 64}")


def test_footprint_changes_name_each_field():
    before = Footprint(("1", ()), ("$LATEST", "1"), ("c", "t"), (("d1",), "d1"), ("v1", "e1"))
    after = Footprint(("1", ()), ("$LATEST", "1"), ("c", "t"), (("d1", "d2"), "d2"), ("v1", "e1"))
    assert before.changes(after) == ["api: (('d1',), 'd1') -> (('d1', 'd2'), 'd2')"]


@pytest.mark.parametrize(
    ("text", "message"),
    [("", "not JSON"), ("[1]", "not an object of objects"), ('{"staging": "x"}', "not an object of objects")],
)
def test_a_broken_stages_variable_is_named(text, message):
    with pytest.raises(StageFailed, match=message):
        parse_stages(text)


def test_the_stages_variable_reads_as_the_bootstrap_writes_it():
    assert parse_stages('{"staging": {"state_key": "p/staging/terraform.tfstate"}}') == {
        "staging": {"state_key": "p/staging/terraform.tfstate"}
    }
