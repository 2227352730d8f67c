"""Apply both roots to the local moto server, check what was created with boto3, then destroy it.

The stack follows the documented first deploy: the S3 backend with use_lockfile (as the workflows
configure it), a targeted apply of the image repository and the model bucket, an image pushed to the
repository, then the full apply with image_uri. A rollout made with boto3 (update-function-code,
publish-version, update-alias) must leave the next plan empty. moto runs no code, enforces no IAM and
serves no HTTP API, so what is checked here is the shape of every resource; the mock-provider tests check
the policy contents.
"""

from __future__ import annotations

import hashlib
import json
import secrets
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from rehearsal.lambda_service import manifest
from rehearsal.servers import local_client
from rehearsal.terraform import provider_override, s3_backend_override
from tests.support.servers import aws_env
from tests.terraform.conftest import Terraform, copy_terraform

REGION = "eu-central-1"
ACCOUNT = "123456789012"  # moto's default account
GITHUB_REPOSITORY = "octo-org/lambda-model"
# The moto server is shared by the whole run: a random environment keeps these names unique.
NAME_PREFIX = "tfmoto"
ENVIRONMENT = f"t{secrets.token_hex(3)}"
NAME = f"{NAME_PREFIX}-{ENVIRONMENT}"
# What .github/workflows/_release.yml applies before the first image exists.
FIRST_DEPLOY_TARGETS = ("-target=aws_ecr_repository.this", "-target=module.model_bucket")


def push_fake_image(ecr: Any, repository: str, tag: str) -> str:
    """moto keeps manifests, not layers: enough for Lambda's image_uri to point at a real tag."""
    layer = f"sha256:{hashlib.sha256(tag.encode()).hexdigest()}"
    ecr.put_image(
        repositoryName=repository, imageManifest=manifest(layer, 1, json.dumps({"tag": tag}).encode()), imageTag=tag
    )
    return f"{ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com/{repository}:{tag}"


def client(endpoint: str, service: str) -> Any:
    return local_client(endpoint, service, REGION)


def outputs(terraform: Terraform, root: Path, env: dict[str, str]) -> dict[str, Any]:
    result = terraform.run("output", "-json", cwd=root, env=env)
    return {name: output["value"] for name, output in json.loads(result.stdout).items()}


def finish(process: Any, what: str) -> None:
    stdout, _ = process.communicate(timeout=240)
    if process.returncode != 0:
        pytest.fail(f"{what} exited {process.returncode}\n{stdout[-8000:]}")


@dataclass
class Deployment:
    stack: Path
    stack_outputs: dict[str, Any]
    bootstrap_outputs: dict[str, Any]
    image_uri: str
    state_bucket: str
    state_key: str
    env: dict[str, str]
    stack_vars: list[str]

    def client(self, service: str) -> Any:
        return client(self.env["AWS_ENDPOINT_URL"], service)


@pytest.fixture(scope="module")
def deployment(
    terraform: Terraform, moto_endpoint: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Deployment]:
    env = aws_env(moto_endpoint, REGION)
    base = tmp_path_factory.mktemp("terraform-moto")
    configs = copy_terraform(base / "terraform")
    bootstrap, stack = configs["bootstrap"], configs["stack"]
    shutil.rmtree(bootstrap / "tests")
    shutil.rmtree(stack / "tests")
    (bootstrap / "moto_override.tf").write_text(provider_override(moto_endpoint))
    (stack / "moto_override.tf").write_text(s3_backend_override(moto_endpoint) + provider_override(moto_endpoint))

    common_vars = [f"-var=aws_region={REGION}", f"-var=name_prefix={NAME_PREFIX}", f"-var=environment={ENVIRONMENT}"]
    bootstrap_vars = [*common_vars, f"-var=github_repository={GITHUB_REPOSITORY}"]
    stack_vars = [*common_vars, "-var=force_destroy=true"]

    # The two roots are independent here (the stack's state bucket is made below), so the bootstrap applies
    # in the background: each root waits about a minute for S3 to report its lifecycle rules as settled.
    terraform.run("init", "-no-color", cwd=bootstrap, env=env)
    bootstrap_apply = terraform.popen("apply", "-auto-approve", "-no-color", *bootstrap_vars, cwd=bootstrap, env=env)

    # What the bootstrap would have made: a versioned bucket; the workflows pass bucket/key/region.
    state_bucket, state_key = f"{NAME}-state", f"{NAME_PREFIX}/{ENVIRONMENT}/terraform.tfstate"
    s3 = client(moto_endpoint, "s3")
    s3.create_bucket(Bucket=state_bucket, CreateBucketConfiguration={"LocationConstraint": REGION})
    s3.put_bucket_versioning(Bucket=state_bucket, VersioningConfiguration={"Status": "Enabled"})
    backend = [
        f"-backend-config=bucket={state_bucket}",
        f"-backend-config=key={state_key}",
        f"-backend-config=region={REGION}",
    ]
    stack_destroyed = bootstrap_destroyed = False
    try:
        terraform.run("init", "-no-color", *backend, cwd=stack, env=env)
        # First deploy, with the release workflow's targets: the repository must exist before an image can be
        # pushed to it, and the model bucket before a first model can be trained into it.
        terraform.run(
            "apply",
            "-auto-approve",
            "-no-color",
            *FIRST_DEPLOY_TARGETS,
            *stack_vars,
            cwd=stack,
            env=env,
        )
        ecr = client(moto_endpoint, "ecr")
        image_uri = push_fake_image(ecr, NAME, "1111111")
        terraform.run(
            "apply", "-auto-approve", "-no-color", f"-var=image_uri={image_uri}", *stack_vars, cwd=stack, env=env
        )
        finish(bootstrap_apply, "bootstrap apply")

        yield Deployment(
            stack=stack,
            stack_outputs=outputs(terraform, stack, env),
            bootstrap_outputs=outputs(terraform, bootstrap, env),
            image_uri=image_uri,
            state_bucket=state_bucket,
            state_key=state_key,
            env=env,
            stack_vars=stack_vars,
        )

        stack_destroy = terraform.popen("destroy", "-auto-approve", "-no-color", *stack_vars, cwd=stack, env=env)
        bootstrap_destroy = terraform.popen(
            "destroy", "-auto-approve", "-no-color", *bootstrap_vars, cwd=bootstrap, env=env
        )
        finish(stack_destroy, "stack destroy")
        stack_destroyed = True
        finish(bootstrap_destroy, "bootstrap destroy")
        bootstrap_destroyed = True
        functions = client(moto_endpoint, "lambda").list_functions()["Functions"]
        assert NAME not in [function["FunctionName"] for function in functions]
        buckets = [bucket["Name"] for bucket in s3.list_buckets()["Buckets"]]
        assert not [bucket for bucket in buckets if bucket.startswith(f"{NAME}-") and bucket != state_bucket]
    finally:
        if bootstrap_apply.poll() is None:
            bootstrap_apply.kill()
            bootstrap_apply.wait()
        # Best effort after a failure, so a broken run does not leave names behind on the shared server.
        for root, vars_, done in (
            (stack, stack_vars, stack_destroyed),
            (bootstrap, bootstrap_vars, bootstrap_destroyed),
        ):
            if not done:
                terraform.run("destroy", "-auto-approve", "-no-color", *vars_, cwd=root, env=env, check=False)


def policy_document(document: str | dict[str, Any]) -> dict[str, Any]:
    return json.loads(document) if isinstance(document, str) else document


def test_state_is_in_the_s3_backend_and_unlocked(deployment: Deployment) -> None:
    s3 = deployment.client("s3")
    keys = [item["Key"] for item in s3.list_objects_v2(Bucket=deployment.state_bucket).get("Contents", [])]
    assert deployment.state_key in keys
    assert f"{deployment.state_key}.tflock" not in keys, "use_lockfile must release the lock after apply"


def test_model_bucket(deployment: Deployment) -> None:
    bucket = deployment.stack_outputs["model_bucket"]
    assert bucket == f"{NAME}-models-{ACCOUNT}"
    s3 = deployment.client("s3")
    assert s3.get_bucket_versioning(Bucket=bucket)["Status"] == "Enabled"
    rule = s3.get_bucket_encryption(Bucket=bucket)["ServerSideEncryptionConfiguration"]["Rules"][0]
    assert rule["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] == "aws:kms"
    block = s3.get_public_access_block(Bucket=bucket)["PublicAccessBlockConfiguration"]
    assert block == dict.fromkeys(
        ("BlockPublicAcls", "IgnorePublicAcls", "BlockPublicPolicy", "RestrictPublicBuckets"), True
    )
    ownership = s3.get_bucket_ownership_controls(Bucket=bucket)["OwnershipControls"]["Rules"][0]
    assert ownership["ObjectOwnership"] == "BucketOwnerEnforced"
    [statement] = policy_document(s3.get_bucket_policy(Bucket=bucket)["Policy"])["Statement"]
    assert statement["Effect"] == "Deny"
    assert statement["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    [lifecycle] = s3.get_bucket_lifecycle_configuration(Bucket=bucket)["Rules"]
    assert lifecycle["NoncurrentVersionExpiration"]["NoncurrentDays"] == 90
    assert lifecycle["ID"] == "expire-noncurrent-versions"


def test_image_repository(deployment: Deployment) -> None:
    ecr = deployment.client("ecr")
    assert deployment.stack_outputs["ecr_repository_url"] == f"{ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com/{NAME}"
    [repository] = ecr.describe_repositories(repositoryNames=[deployment.stack_outputs["ecr_repository_name"]])[
        "repositories"
    ]
    assert repository["imageTagMutability"] == "IMMUTABLE"
    assert repository["imageScanningConfiguration"]["scanOnPush"] is True
    rules = json.loads(ecr.get_lifecycle_policy(repositoryName=NAME)["lifecyclePolicyText"])["rules"]
    assert [rule["selection"]["tagStatus"] for rule in rules] == ["untagged"]
    [statement] = json.loads(ecr.get_repository_policy(repositoryName=NAME)["policyText"])["Statement"]
    assert statement["Principal"] == {"Service": "lambda.amazonaws.com"}


def test_function_and_alias(deployment: Deployment) -> None:
    assert deployment.stack_outputs["function_name"] == NAME
    assert deployment.stack_outputs["alias_name"] == "live"
    lambda_ = deployment.client("lambda")
    config = lambda_.get_function(FunctionName=NAME)["Configuration"]
    assert config["PackageType"] == "Image"
    assert (config["MemorySize"], config["Timeout"]) == (1024, 10)
    assert config["TracingConfig"]["Mode"] == "Active"
    assert config["Role"] == f"arn:aws:iam::{ACCOUNT}:role/{NAME}-function"
    assert lambda_.get_function(FunctionName=NAME)["Code"]["ImageUri"] == deployment.image_uri
    alias = lambda_.get_alias(FunctionName=NAME, Name="live")
    assert alias["FunctionVersion"] not in ("$LATEST", "")
    # Only API Gateway, from this API's stage, may invoke the alias.
    [statement] = policy_document(lambda_.get_policy(FunctionName=NAME, Qualifier="live")["Policy"])["Statement"]
    assert statement["Principal"] == {"Service": "apigateway.amazonaws.com"}
    api_id = deployment.stack_outputs["api_id"]
    assert (
        statement["Condition"]["ArnLike"]["AWS:SourceArn"]
        == f"arn:aws:execute-api:{REGION}:{ACCOUNT}:{api_id}/predict/*"
    )


def test_function_role_policy(deployment: Deployment) -> None:
    iam = deployment.client("iam")
    assert iam.list_attached_role_policies(RoleName=f"{NAME}-function")["AttachedPolicies"] == []
    document = policy_document(iam.get_role_policy(RoleName=f"{NAME}-function", PolicyName="runtime")["PolicyDocument"])
    actions = {action for statement in document["Statement"] for action in statement["Action"]}
    assert actions == {
        "s3:GetObject",
        "s3:ListBucket",
        "logs:CreateLogStream",
        "logs:PutLogEvents",
        "xray:PutTraceSegments",
        "xray:PutTelemetryRecords",
    }
    reads = {statement["Sid"]: statement["Resource"] for statement in document["Statement"]}
    assert reads["ReadModels"] == [f"arn:aws:s3:::{NAME}-models-{ACCOUNT}/models/*"]


def test_api_routes_and_stage(deployment: Deployment) -> None:
    api_id = deployment.stack_outputs["api_id"]
    assert deployment.stack_outputs["endpoint_url"] == f"https://{api_id}.execute-api.{REGION}.amazonaws.com/predict/"
    assert deployment.stack_outputs.get("api_key_id") is None  # null outputs are left out of `output -json`
    apigateway = deployment.client("apigateway")
    routes = {
        (resource["path"], method)
        for resource in apigateway.get_resources(restApiId=api_id)["items"]
        for method in resource.get("resourceMethods", {})
    }
    assert routes == {("/", "ANY"), ("/predict", "ANY"), ("/health", "ANY"), ("/{proxy+}", "ANY")}
    root = next(r for r in apigateway.get_resources(restApiId=api_id)["items"] if r["path"] == "/")
    integration = apigateway.get_integration(restApiId=api_id, resourceId=root["id"], httpMethod="ANY")
    assert integration["type"] == "AWS_PROXY"
    assert integration["uri"].endswith(f"function:{NAME}:live/invocations")
    stage = apigateway.get_stage(restApiId=api_id, stageName="predict")
    assert stage["tracingEnabled"] is True
    assert stage["accessLogSettings"]["destinationArn"].endswith(f"log-group:/aws/apigateway/{NAME}/access")
    settings = stage["methodSettings"]["*/*"]
    assert (settings["throttlingRateLimit"], settings["throttlingBurstLimit"]) == (50, 100)


def test_log_groups_and_alarms(deployment: Deployment) -> None:
    logs = deployment.client("logs")
    groups = logs.describe_log_groups(logGroupNamePrefix=f"/aws/lambda/{NAME}")["logGroups"]
    assert [(group["logGroupName"], group["retentionInDays"]) for group in groups] == [(f"/aws/lambda/{NAME}", 30)]
    cloudwatch = deployment.client("cloudwatch")
    alarms = {alarm["AlarmName"] for alarm in cloudwatch.describe_alarms(AlarmNamePrefix=f"{NAME}-")["MetricAlarms"]}
    assert alarms == {
        f"{NAME}-{key}"
        for key in (
            "api-5xx",
            "function-errors",
            "function-throttles",
            "api-p99-latency",
            "canary-errors",
            "canary-duration",
            "emf-validation-errors",
            "emf-parsing-errors",
            "low-confidence",
            "out-of-range",
            "imputed",
        )
    }
    assert deployment.stack_outputs["canary_alarm_names"] == [
        f"{NAME}-{key}"
        for key in (
            "canary-duration",
            "canary-errors",
            "function-throttles",
            "api-5xx",
            "emf-validation-errors",
            "emf-parsing-errors",
        )
    ]


def test_dashboard_and_saved_queries(deployment: Deployment) -> None:
    body = json.loads(deployment.client("cloudwatch").get_dashboard(DashboardName=NAME)["DashboardBody"])
    assert {widget["type"] for widget in body["widgets"]} == {"text", "metric", "alarm", "log"}
    assert deployment.stack_outputs["dashboard_name"] == NAME
    logs = deployment.client("logs")
    saved = logs.describe_query_definitions(queryDefinitionNamePrefix=f"{NAME}/")["queryDefinitions"]
    assert {(query["name"], tuple(query["logGroupNames"])) for query in saved} == {
        (f"{NAME}/{key}", (f"/aws/lambda/{NAME}",)) for key in ("errors-by-code", "slowest-requests")
    }
    widget_queries = {widget["properties"]["query"] for widget in body["widgets"] if widget["type"] == "log"}
    assert widget_queries == {f"SOURCE '/aws/lambda/{NAME}' | {query['queryString']}" for query in saved}


def test_bootstrap(deployment: Deployment) -> None:
    outputs_ = deployment.bootstrap_outputs
    assert outputs_["state_bucket"] == f"{NAME}-tfstate-{ACCOUNT}"
    assert outputs_["backend_config"] == {
        "bucket": outputs_["state_bucket"],
        "key": outputs_["state_key"],
        "region": REGION,
    }
    s3, iam = deployment.client("s3"), deployment.client("iam")
    assert s3.get_bucket_versioning(Bucket=outputs_["state_bucket"])["Status"] == "Enabled"
    assert all(s3.get_public_access_block(Bucket=outputs_["state_bucket"])["PublicAccessBlockConfiguration"].values())
    [lifecycle] = s3.get_bucket_lifecycle_configuration(Bucket=outputs_["state_bucket"])["Rules"]
    assert (lifecycle["ID"], lifecycle["NoncurrentVersionExpiration"]["NoncurrentDays"]) == (
        "expire-old-state-versions",
        365,
    )
    provider = iam.get_open_id_connect_provider(OpenIDConnectProviderArn=outputs_["oidc_provider_arn"])
    assert provider["ClientIDList"] == ["sts.amazonaws.com"]
    subjects = {
        "plan": [f"repo:{GITHUB_REPOSITORY}:pull_request", f"repo:{GITHUB_REPOSITORY}:ref:refs/heads/main"],
        "deploy": [f"repo:{GITHUB_REPOSITORY}:environment:production"],
        "train": [f"repo:{GITHUB_REPOSITORY}:environment:training"],
    }
    for role, expected in subjects.items():
        arn = outputs_[f"{role}_role_arn"]
        assert arn == f"arn:aws:iam::{ACCOUNT}:role/{NAME}-github-{role}"
        trust = policy_document(iam.get_role(RoleName=arn.split("/")[-1])["Role"]["AssumeRolePolicyDocument"])
        condition = trust["Statement"][0]["Condition"]["StringEquals"]
        assert condition["token.actions.githubusercontent.com:aud"] == "sts.amazonaws.com"
        assert condition["token.actions.githubusercontent.com:sub"] == expected
        assert iam.list_role_policies(RoleName=arn.split("/")[-1])["PolicyNames"] == [role]
    account = deployment.client("apigateway").get_account()
    assert account["cloudwatchRoleArn"] == f"arn:aws:iam::{ACCOUNT}:role/{NAME}-apigateway-cloudwatch"


# moto stores no LoggingConfig and reports an empty ImageConfig, so these two blocks of the function show as
# drift against moto (and only there); anything else in the plan is a real difference.
MOTO_DRIFT = {"aws_lambda_function.this": {"logging_config", "image_config"}}


def test_apply_after_a_rollout_reverts_nothing(terraform: Terraform, deployment: Deployment) -> None:
    """The workflow's rollout, then a plan with the first deploy's image: ignore_changes keeps the rollout."""
    lambda_ = deployment.client("lambda")
    new_image = push_fake_image(deployment.client("ecr"), NAME, "2222222")
    lambda_.update_function_code(FunctionName=NAME, ImageUri=new_image)
    version = lambda_.publish_version(FunctionName=NAME)["Version"]
    lambda_.update_alias(FunctionName=NAME, Name="live", FunctionVersion=version)

    terraform.run(
        "plan",
        "-out=rollout.tfplan",
        "-no-color",
        f"-var=image_uri={deployment.image_uri}",
        *deployment.stack_vars,
        cwd=deployment.stack,
        env=deployment.env,
    )
    plan = json.loads(terraform.run("show", "-json", "rollout.tfplan", cwd=deployment.stack, env=deployment.env).stdout)
    changes = {rc["address"]: rc["change"] for rc in plan["resource_changes"] if rc["change"]["actions"] != ["no-op"]}
    assert set(changes) <= set(MOTO_DRIFT), f"unexpected changes after a rollout: {sorted(changes)}"
    for address, change in changes.items():
        assert change["actions"] == ["update"], address
        before, after, unknown = change["before"], change["after"], change["after_unknown"]
        changed = {key for key in after if before.get(key) != after[key] and not unknown.get(key)}
        assert changed <= MOTO_DRIFT[address], f"{address} would change {sorted(changed)}"
        assert after["image_uri"] == new_image
    assert lambda_.get_alias(FunctionName=NAME, Name="live")["FunctionVersion"] == version
    assert lambda_.get_function(FunctionName=NAME)["Code"]["ImageUri"] == new_image
