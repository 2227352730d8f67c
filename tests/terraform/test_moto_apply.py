"""Apply both roots to the local moto server, check what was created with boto3, then destroy it.

As the workflows run them: the bootstrap first (roles, state bucket and the shared registry), an image pushed
to its repository, then the staging and the production stack from the same root, each with its own backend key
(the bootstrap's backend_config), its own data directory and its stage's variable file. A rollout made with
boto3 (update-function-code, publish-version, update-alias) must leave the next plan empty. moto runs no code,
enforces no IAM and serves no HTTP API, so what is checked here is the shape of every resource; the
mock-provider tests check the policy contents.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.support.servers import aws_env
from tests.terraform.conftest import Terraform, copy_terraform
from tests.terraform.moto_roots import (
    ACCOUNT,
    GITHUB_REPOSITORY,
    REGION,
    acting,
    backend_flags,
    client,
    empty_versioned_bucket,
    finish,
    outputs,
    planned,
    point_at_moto,
    push_fake_image,
    stage_env,
    stop,
)

# The moto server is shared by the whole run: a random prefix keeps these names unique.
NAME_PREFIX = f"tfm{secrets.token_hex(3)}"
# Stage key -> the stack's environment (the bootstrap's default stages).
ENVIRONMENTS = {"staging": "staging", "production": "prod"}
NAMES = {stage: f"{NAME_PREFIX}-{environment}" for stage, environment in ENVIRONMENTS.items()}
# What terraform/stages/<stage>.tfvars sets (tests/terraform/test_stages.py keeps the list).
THROTTLES = {"staging": (25, 50), "production": (50, 100)}
RETENTION_DAYS = {"staging": 7, "production": 30}


@dataclass
class Install:
    bootstrap: Path
    stack: Path
    bootstrap_outputs: dict[str, Any]
    stack_outputs: dict[str, dict[str, Any]]
    stack_envs: dict[str, dict[str, str]]
    image_uri: str
    endpoint: str

    def client(self, service: str) -> Any:
        return client(self.endpoint, service)


def stack_args(stage: str) -> list[str]:
    """A stage's stack variables on the command line (the rest are its TF_VAR_*, see stage_env)."""
    return [f"-var-file=stages/{stage}.tfvars", f"-var=aws_region={REGION}", f"-var=name_prefix={NAME_PREFIX}"]


@pytest.fixture(scope="module")
def install(terraform: Terraform, moto_over_https: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Install]:
    env = aws_env(moto_over_https, REGION)
    configs = copy_terraform(tmp_path_factory.mktemp("terraform-moto") / "terraform")
    bootstrap, stack = configs["bootstrap"], configs["stack"]
    point_at_moto(bootstrap, stack, moto_over_https)
    bootstrap_vars = [
        f"-var=aws_region={REGION}",
        f"-var=name_prefix={NAME_PREFIX}",
        f"-var=github_repository={GITHUB_REPOSITORY}",
        # A throwaway install: destroy may take the registry's images and models with it.
        "-var=registry_force_destroy=true",
    ]
    s3 = client(moto_over_https, "s3")
    stack_envs: dict[str, dict[str, str]] = {}
    applies: dict[str, Any] = {}
    bootstrap_applied = False
    try:
        terraform.run("init", "-no-color", cwd=bootstrap, env=env)
        terraform.run("apply", "-auto-approve", "-no-color", *bootstrap_vars, cwd=bootstrap, env=env)
        bootstrap_applied = True
        bootstrap_outputs = outputs(terraform, bootstrap, env)
        # No targeted first apply any more: the repository exists before either stack, so the image is pushed
        # first and each stack's first apply creates its function from it.
        image_uri = push_fake_image(
            client(moto_over_https, "ecr"), bootstrap_outputs["image_repository_name"], "1111111"
        )
        for stage, environment in ENVIRONMENTS.items():
            stack_envs[stage] = stage_env(
                env,
                stack,
                stage,
                {
                    "environment": environment,
                    "image_repository_url": bootstrap_outputs["image_repository_url"],
                    "model_bucket": bootstrap_outputs["model_bucket"],
                },
            )
            backend = backend_flags(bootstrap_outputs["backend_config"][stage])
            terraform.run("init", "-no-color", *backend, cwd=stack, env=stack_envs[stage])
        # The two stacks are independent (own key, own names): applied side by side, as two stages' jobs could be.
        for stage in ENVIRONMENTS:
            applies[stage] = terraform.popen(
                "apply",
                "-auto-approve",
                "-no-color",
                f"-var=image_uri={image_uri}",
                *stack_args(stage),
                cwd=stack,
                env=stack_envs[stage],
            )
        for stage, process in applies.items():
            finish(process, f"{stage} stack apply")

        yield Install(
            bootstrap=bootstrap,
            stack=stack,
            bootstrap_outputs=bootstrap_outputs,
            stack_outputs={stage: outputs(terraform, stack, stack_envs[stage]) for stage in ENVIRONMENTS},
            stack_envs=stack_envs,
            image_uri=image_uri,
            endpoint=moto_over_https,
        )

        destroys = {
            stage: terraform.popen(
                "destroy",
                "-auto-approve",
                "-no-color",
                *stack_args(stage),
                cwd=stack,
                env=stack_envs[stage],
            )
            for stage in ENVIRONMENTS
        }
        for stage, process in destroys.items():
            finish(process, f"{stage} stack destroy")
        functions = [
            function["FunctionName"] for function in client(moto_over_https, "lambda").list_functions()["Functions"]
        ]
        assert not set(NAMES.values()) & set(functions)
        # The state bucket is never force-destroyed: emptied first, as in the documented teardown.
        empty_versioned_bucket(s3, bootstrap_outputs["state_bucket"])
        terraform.run("destroy", "-auto-approve", "-no-color", *bootstrap_vars, cwd=bootstrap, env=env)
        bootstrap_applied = False
        buckets = [bucket["Name"] for bucket in s3.list_buckets()["Buckets"]]
        assert not [bucket for bucket in buckets if bucket.startswith(f"{NAME_PREFIX}-")]
    finally:
        for process in applies.values():
            stop(process)
        # Best effort after a failure, so a broken run does not leave names behind on the shared server.
        for stage, stage_vars in stack_envs.items():
            terraform.run(
                "destroy", "-auto-approve", "-no-color", *stack_args(stage), cwd=stack, env=stage_vars, check=False
            )
        if bootstrap_applied:
            state_bucket = f"{NAME_PREFIX}-prod-tfstate-{ACCOUNT}"
            if state_bucket in [bucket["Name"] for bucket in s3.list_buckets()["Buckets"]]:
                empty_versioned_bucket(s3, state_bucket)
            terraform.run("destroy", "-auto-approve", "-no-color", *bootstrap_vars, cwd=bootstrap, env=env, check=False)


def policy_document(document: str | dict[str, Any]) -> dict[str, Any]:
    return json.loads(document) if isinstance(document, str) else document


def test_each_stage_has_its_own_state_key_and_no_lock_left(install: Install) -> None:
    s3 = install.client("s3")
    bucket = install.bootstrap_outputs["state_bucket"]
    keys = {item["Key"] for item in s3.list_objects_v2(Bucket=bucket).get("Contents", [])}
    assert keys == {f"{NAME_PREFIX}/staging/terraform.tfstate", f"{NAME_PREFIX}/prod/terraform.tfstate"}, (
        "one state object per stage, and use_lockfile released both locks"
    )
    for stage in ENVIRONMENTS:
        state = json.loads(
            s3.get_object(Bucket=bucket, Key=install.bootstrap_outputs["backend_config"][stage]["key"])["Body"].read()
        )
        functions = [r for r in state["resources"] if r["type"] == "aws_lambda_function"]
        assert [f["instances"][0]["attributes"]["function_name"] for f in functions] == [NAMES[stage]]


def test_shared_model_bucket(install: Install) -> None:
    bucket = install.bootstrap_outputs["model_bucket"]
    assert bucket == f"{NAME_PREFIX}-models-{ACCOUNT}"
    assert {install.stack_outputs[stage]["model_store"] for stage in ENVIRONMENTS} == {f"s3://{bucket}/models"}
    s3 = install.client("s3")
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


def test_shared_image_repository(install: Install) -> None:
    ecr = install.client("ecr")
    name = install.bootstrap_outputs["image_repository_name"]
    assert name == NAME_PREFIX
    assert install.bootstrap_outputs["image_repository_url"] == f"{ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com/{name}"
    assert not {key for stage in ENVIRONMENTS for key in install.stack_outputs[stage] if key.startswith("ecr_")}
    [repository] = ecr.describe_repositories(repositoryNames=[name])["repositories"]
    assert repository["imageTagMutability"] == "IMMUTABLE"
    assert repository["imageScanningConfiguration"]["scanOnPush"] is True
    rules = json.loads(ecr.get_lifecycle_policy(repositoryName=name)["lifecyclePolicyText"])["rules"]
    assert [rule["selection"]["tagStatus"] for rule in rules] == ["untagged"]
    [statement] = json.loads(ecr.get_repository_policy(repositoryName=name)["policyText"])["Statement"]
    assert statement["Principal"] == {"Service": "lambda.amazonaws.com"}
    assert statement["Condition"]["StringLike"]["aws:SourceArn"] == [
        f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{NAMES[stage]}*" for stage in ("production", "staging")
    ]


@pytest.mark.parametrize("stage", sorted(ENVIRONMENTS))
def test_function_and_alias(install: Install, stage: str) -> None:
    name = NAMES[stage]
    assert install.stack_outputs[stage]["function_name"] == name
    assert install.stack_outputs[stage]["alias_name"] == "live"
    lambda_ = install.client("lambda")
    config = lambda_.get_function(FunctionName=name)["Configuration"]
    assert config["PackageType"] == "Image"
    assert (config["MemorySize"], config["Timeout"]) == (1024, 10)
    assert config["TracingConfig"]["Mode"] == "Active"
    assert config["Role"] == f"arn:aws:iam::{ACCOUNT}:role/{name}-function"
    # One image, both stages: production runs the digest staging tested, from the one repository.
    assert lambda_.get_function(FunctionName=name)["Code"]["ImageUri"] == install.image_uri
    alias = lambda_.get_alias(FunctionName=name, Name="live")
    assert alias["FunctionVersion"] not in ("$LATEST", "")
    # Only API Gateway, from this stack's API stage, may invoke the alias.
    [statement] = policy_document(lambda_.get_policy(FunctionName=name, Qualifier="live")["Policy"])["Statement"]
    assert statement["Principal"] == {"Service": "apigateway.amazonaws.com"}
    api_id = install.stack_outputs[stage]["api_id"]
    assert (
        statement["Condition"]["ArnLike"]["AWS:SourceArn"]
        == f"arn:aws:execute-api:{REGION}:{ACCOUNT}:{api_id}/predict/*"
    )


@pytest.mark.parametrize("stage", sorted(ENVIRONMENTS))
def test_function_role_policy(install: Install, stage: str) -> None:
    iam, name = install.client("iam"), NAMES[stage]
    role = iam.get_role(RoleName=f"{name}-function")["Role"]
    assert (
        role["PermissionsBoundary"]["PermissionsBoundaryArn"]
        == f"arn:aws:iam::{ACCOUNT}:policy/{name}-function-boundary"
    )
    assert iam.list_attached_role_policies(RoleName=f"{name}-function")["AttachedPolicies"] == []
    document = policy_document(iam.get_role_policy(RoleName=f"{name}-function", PolicyName="runtime")["PolicyDocument"])
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
    assert reads["ReadModels"] == [f"arn:aws:s3:::{NAME_PREFIX}-models-{ACCOUNT}/models/*"]


@pytest.mark.parametrize("stage", sorted(ENVIRONMENTS))
def test_api_routes_stage_and_tags(install: Install, stage: str) -> None:
    name, api_id = NAMES[stage], install.stack_outputs[stage]["api_id"]
    assert (
        install.stack_outputs[stage]["endpoint_url"] == f"https://{api_id}.execute-api.{REGION}.amazonaws.com/predict/"
    )
    assert install.stack_outputs[stage].get("api_key_id") is None  # null outputs are left out of `output -json`
    apigateway = install.client("apigateway")
    resources = apigateway.get_resources(restApiId=api_id)["items"]
    routes = {(resource["path"], method) for resource in resources for method in resource.get("resourceMethods", {})}
    assert routes == {("/", "ANY"), ("/predict", "ANY"), ("/health", "ANY"), ("/{proxy+}", "ANY")}
    root = next(r for r in resources if r["path"] == "/")
    integration = apigateway.get_integration(restApiId=api_id, resourceId=root["id"], httpMethod="ANY")
    assert integration["type"] == "AWS_PROXY"
    assert integration["uri"].endswith(f"function:{name}:live/invocations")
    api_stage = apigateway.get_stage(restApiId=api_id, stageName="predict")
    assert api_stage["tracingEnabled"] is True
    assert api_stage["accessLogSettings"]["destinationArn"].endswith(f"log-group:/aws/apigateway/{name}/access")
    settings = api_stage["methodSettings"]["*/*"]
    assert (settings["throttlingRateLimit"], settings["throttlingBurstLimit"]) == THROTTLES[stage]
    # The deploy roles tell the stages' APIs apart by these tags alone (the bootstrap's tag conditions); the
    # API's resources, methods and deployments inherit the API's.
    expected = {"Project": NAME_PREFIX, "Environment": ENVIRONMENTS[stage]}
    api_tags = apigateway.get_rest_api(restApiId=api_id).get("tags", {})
    assert expected.items() <= api_tags.items(), api_tags
    assert expected.items() <= api_stage.get("tags", {}).items(), api_stage.get("tags")


@pytest.mark.parametrize("stage", sorted(ENVIRONMENTS))
def test_log_groups_and_alarms(install: Install, stage: str) -> None:
    name = NAMES[stage]
    logs = install.client("logs")
    groups = logs.describe_log_groups(logGroupNamePrefix=f"/aws/lambda/{name}")["logGroups"]
    assert [(group["logGroupName"], group["retentionInDays"]) for group in groups] == [
        (f"/aws/lambda/{name}", RETENTION_DAYS[stage])
    ]
    cloudwatch = install.client("cloudwatch")
    alarms = {alarm["AlarmName"] for alarm in cloudwatch.describe_alarms(AlarmNamePrefix=f"{name}-")["MetricAlarms"]}
    assert alarms == {
        f"{name}-{key}"
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
    assert install.stack_outputs[stage]["canary_alarm_names"] == [
        f"{name}-{key}"
        for key in (
            "canary-duration",
            "canary-errors",
            "function-throttles",
            "api-5xx",
            "emf-validation-errors",
            "emf-parsing-errors",
        )
    ]


@pytest.mark.parametrize("stage", sorted(ENVIRONMENTS))
def test_dashboard_and_saved_queries(install: Install, stage: str) -> None:
    name = NAMES[stage]
    body = json.loads(install.client("cloudwatch").get_dashboard(DashboardName=name)["DashboardBody"])
    assert {widget["type"] for widget in body["widgets"]} == {"text", "metric", "alarm", "log"}
    assert install.stack_outputs[stage]["dashboard_name"] == name
    saved = install.client("logs").describe_query_definitions(queryDefinitionNamePrefix=f"{name}/")["queryDefinitions"]
    assert {(query["name"], tuple(query["logGroupNames"])) for query in saved} == {
        (f"{name}/{key}", (f"/aws/lambda/{name}",)) for key in ("errors-by-code", "slowest-requests")
    }
    widget_queries = {widget["properties"]["query"] for widget in body["widgets"] if widget["type"] == "log"}
    assert widget_queries == {f"SOURCE '/aws/lambda/{name}' | {query['queryString']}" for query in saved}


def test_bootstrap(install: Install) -> None:
    outputs_ = install.bootstrap_outputs
    state_bucket = outputs_["state_bucket"]
    assert state_bucket == f"{NAME_PREFIX}-prod-tfstate-{ACCOUNT}"
    assert outputs_["backend_config"] == {
        stage: {"bucket": state_bucket, "key": f"{NAME_PREFIX}/{environment}/terraform.tfstate", "region": REGION}
        for stage, environment in ENVIRONMENTS.items()
    }
    s3, iam = install.client("s3"), install.client("iam")
    assert s3.get_bucket_versioning(Bucket=state_bucket)["Status"] == "Enabled"
    assert all(s3.get_public_access_block(Bucket=state_bucket)["PublicAccessBlockConfiguration"].values())
    [lifecycle] = s3.get_bucket_lifecycle_configuration(Bucket=state_bucket)["Rules"]
    assert (lifecycle["ID"], lifecycle["NoncurrentVersionExpiration"]["NoncurrentDays"]) == (
        "expire-old-state-versions",
        365,
    )
    provider = iam.get_open_id_connect_provider(OpenIDConnectProviderArn=outputs_["oidc_provider_arn"])
    assert provider["ClientIDList"] == ["sts.amazonaws.com"]
    subject = f"repo:{GITHUB_REPOSITORY}"
    roles = {
        "staging-plan": (
            f"{NAMES['staging']}-github-plan",
            [f"{subject}:pull_request", f"{subject}:ref:refs/heads/main"],
        ),
        "staging-deploy": (f"{NAMES['staging']}-github-deploy", [f"{subject}:environment:staging"]),
        "production-plan": (f"{NAMES['production']}-github-plan", [f"{subject}:ref:refs/heads/main"]),
        "production-deploy": (f"{NAMES['production']}-github-deploy", [f"{subject}:environment:production"]),
        "train": (f"{NAMES['production']}-github-train", [f"{subject}:environment:training"]),
        "monitor": (f"{NAMES['production']}-github-monitor", [f"{subject}:environment:monitoring"]),
    }
    assert set(outputs_["role_arns"]) == set(roles)
    for key, (name, subjects) in roles.items():
        assert outputs_["role_arns"][key] == f"arn:aws:iam::{ACCOUNT}:role/{name}"
        trust = policy_document(iam.get_role(RoleName=name)["Role"]["AssumeRolePolicyDocument"])
        condition = trust["Statement"][0]["Condition"]["StringEquals"]
        assert condition["token.actions.githubusercontent.com:aud"] == "sts.amazonaws.com"
        assert condition["token.actions.githubusercontent.com:sub"] == subjects
        assert iam.list_role_policies(RoleName=name)["PolicyNames"] == [key.split("-")[-1]]
    for stage in ENVIRONMENTS:
        iam.get_policy(PolicyArn=f"arn:aws:iam::{ACCOUNT}:policy/{NAMES[stage]}-function-boundary")
    variables = outputs_["github_variables"]
    assert json.loads(variables["repository"]["STAGES"]) == {
        stage: {
            "plan_role_arn": outputs_["role_arns"][f"{stage}-plan"],
            "state_key": f"{NAME_PREFIX}/{environment}/terraform.tfstate",
            "stack_environment": environment,
        }
        for stage, environment in ENVIRONMENTS.items()
    }
    account = install.client("apigateway").get_account()
    assert account["cloudwatchRoleArn"] == f"arn:aws:iam::{ACCOUNT}:role/{NAMES['production']}-apigateway-cloudwatch"


def test_apply_after_a_rollout_reverts_nothing(terraform: Terraform, install: Install) -> None:
    """The workflow's rollout of production, then a plan with the first deploy's image: ignore_changes keeps it."""
    lambda_, name = install.client("lambda"), NAMES["production"]
    new_image = push_fake_image(install.client("ecr"), install.bootstrap_outputs["image_repository_name"], "2222222")
    lambda_.update_function_code(FunctionName=name, ImageUri=new_image)
    version = lambda_.publish_version(FunctionName=name)["Version"]
    lambda_.update_alias(FunctionName=name, Name="live", FunctionVersion=version)

    changes = planned(
        terraform,
        install.stack,
        install.stack_envs["production"],
        f"-var=image_uri={install.image_uri}",
        *stack_args("production"),
    )
    # The rehearsal's moto reads a function back as written (moto_launch), so any change here is a real one.
    assert acting(changes) == {}, f"unexpected changes after a rollout: {acting(changes)}"
    assert lambda_.get_alias(FunctionName=name, Name="live")["FunctionVersion"] == version
    assert lambda_.get_function(FunctionName=name)["Code"]["ImageUri"] == new_image
