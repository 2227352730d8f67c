"""moto_server with the corrections the rehearsal needs to see what AWS would do.

1. Every request stands in for an HTTPS one. The buckets' policies deny `aws:SecureTransport = false`;
   moto cannot evaluate that condition and applies the Deny to every object call. On AWS the workflows
   always use HTTPS, so the statement never applies to them: the policy is evaluated without it.
2. A published version keeps the code it was published with. moto copies a function shallowly on
   PublishVersion, so the next UpdateFunctionCode rewrites the ImageUri every earlier version reports.
3. UpdateFunctionCode with the image the function already runs changes nothing, so the next
   PublishVersion returns the latest version, as Lambda does (moto would publish a new one). The first
   release depends on it: Terraform published version 1 from the very image the rollout then deploys.
4. Lambda looks an image up in the registry, as AWS does: a function cannot name an image that was never
   pushed, and its CodeSha256 is the image's digest (moto's default stubs ECR out).
5. A function reads back as it was written: its LoggingConfig (moto drops it) and only the ImageConfig
   fields that were set (moto adds empty ones). Otherwise every plan shows a change and every apply
   publishes a version, which on AWS neither does.

And one API moto lacks: CloudWatch Logs query definitions (PutQueryDefinition, DescribeQueryDefinitions,
DeleteQueryDefinition), which the stack's saved Logs Insights queries (terraform/monitoring.tf) are made,
refreshed and destroyed with; moto answers them as unknown actions, so every apply would fail. It is added
whatever the flags: `--no-corrections` (the tests' moto) keeps moto's behaviour otherwise as installed.
"""

from __future__ import annotations

import copy
import json
import os
import sys
import time
import uuid
from typing import Any

from moto import server
from moto.awslambda.models import ImageConfig, LambdaFunction, LambdaStorage
from moto.logs.exceptions import ResourceNotFoundException
from moto.logs.models import LogsBackend
from moto.logs.responses import LogsResponse
from moto.s3.models import FakeBucket

_get_permission = FakeBucket.get_permission
_publish_version = LambdaStorage.publish_version
_update_function_code = LambdaFunction.update_function_code
_function_init = LambdaFunction.__init__
_update_configuration = LambdaFunction.update_configuration
_get_configuration = LambdaFunction.get_configuration
_image_config_init = ImageConfig.__init__
_image_config_response = ImageConfig.response


def insecure_transport_only(statement: dict) -> bool:
    return statement.get("Effect") == "Deny" and statement.get("Condition") == {
        "Bool": {"aws:SecureTransport": "false"}
    }


def get_permission_over_https(self: FakeBucket, action: str, resource: str):
    if self.policy is None:
        return _get_permission(self, action, resource)
    policy = json.loads(self.policy)
    statements = policy.get("Statement", [])
    statements = [statements] if isinstance(statements, dict) else statements
    kept = [statement for statement in statements if not insecure_transport_only(statement)]
    original = self.policy
    try:
        self.policy = json.dumps({**policy, "Statement": kept}).encode() if kept else None
        return _get_permission(self, action, resource)
    finally:
        self.policy = original


def publish_version_with_its_own_code(self: LambdaStorage, name_or_arn: str, description: str = ""):
    version = _publish_version(self, name_or_arn, description)
    if version is not None and version.version != "$LATEST":
        version.code = copy.deepcopy(version.code)
    return version


def update_function_code_as_lambda(self: LambdaFunction, updated_spec: dict[str, Any]) -> dict[str, Any]:
    unchanged_since = (self.code_or_config_updated, self.code_sha_256)
    configuration = _update_function_code(self, updated_spec)
    if self.code_sha_256 == unchanged_since[1]:
        self.code_or_config_updated = unchanged_since[0]
    return configuration


def function_with_logging_config(self: LambdaFunction, account_id: str, spec: dict[str, Any], *args: Any, **kw: Any):
    _function_init(self, account_id, spec, *args, **kw)
    self.logging_config = spec.get("LoggingConfig") or {
        "LogFormat": "Text",
        "LogGroup": f"/aws/lambda/{self.function_name}",
    }


def update_configuration_with_logging(self: LambdaFunction, config_updates: dict[str, Any]) -> dict[str, Any]:
    if "LoggingConfig" in config_updates:
        self.logging_config = config_updates["LoggingConfig"]
    return _update_configuration(self, config_updates)


def configuration_with_logging(self: LambdaFunction, *args: Any, **kw: Any) -> dict[str, Any]:
    configuration = {**_get_configuration(self, *args, **kw), "LoggingConfig": getattr(self, "logging_config", {})}
    if configuration.get("ImageConfigResponse") == {"ImageConfig": {}}:
        del configuration["ImageConfigResponse"]  # nothing overridden: Lambda sends no ImageConfigResponse
    return configuration


def image_config_as_set(self: ImageConfig, config: dict[str, Any]) -> None:
    _image_config_init(self, config)
    self.given = dict(config)


def image_config_response_as_set(self: ImageConfig) -> dict[str, Any]:
    return {key: value for key, value in _image_config_response(self).items() if key in getattr(self, "given", {})}


def _query_definitions(backend: LogsBackend) -> dict[str, dict[str, Any]]:
    """The region's saved queries, by ID; kept on the backend, so moto's reset clears them with it."""
    return backend.__dict__.setdefault("query_definitions", {})


def put_query_definition(self: LogsResponse) -> str:
    """Creates a definition, or replaces the one queryDefinitionId names (an unknown ID is not found)."""
    definitions = _query_definitions(self.logs_backend)
    definition_id = self._get_param("queryDefinitionId")
    if definition_id is not None and definition_id not in definitions:
        raise ResourceNotFoundException("The specified query definition does not exist.")
    definition_id = definition_id or str(uuid.uuid4())
    definitions[definition_id] = {
        "queryDefinitionId": definition_id,
        "name": self._get_param("name"),
        "queryString": self._get_param("queryString"),
        "logGroupNames": self._get_param("logGroupNames") or [],
        "lastModified": int(time.time() * 1000),
    }
    return json.dumps({"queryDefinitionId": definition_id})


def describe_query_definitions(self: LogsResponse) -> str:
    """Every definition whose name starts with queryDefinitionNamePrefix, by name; one page."""
    prefix = self._get_param("queryDefinitionNamePrefix") or ""
    found = [d for d in _query_definitions(self.logs_backend).values() if d["name"].startswith(prefix)]
    return json.dumps({"queryDefinitions": sorted(found, key=lambda definition: definition["name"])})


def delete_query_definition(self: LogsResponse) -> str:
    if _query_definitions(self.logs_backend).pop(self._get_param("queryDefinitionId"), None) is None:
        raise ResourceNotFoundException("The specified query definition does not exist.")
    return json.dumps({"success": True})


def add_missing_apis() -> None:
    LogsResponse.put_query_definition = put_query_definition
    LogsResponse.describe_query_definitions = describe_query_definitions
    LogsResponse.delete_query_definition = delete_query_definition


def correct() -> None:
    FakeBucket.get_permission = get_permission_over_https
    LambdaFunction.__init__ = function_with_logging_config
    LambdaFunction.update_configuration = update_configuration_with_logging
    LambdaFunction.get_configuration = configuration_with_logging
    ImageConfig.__init__ = image_config_as_set
    ImageConfig.response = image_config_response_as_set
    LambdaStorage.publish_version = publish_version_with_its_own_code
    LambdaFunction.update_function_code = update_function_code_as_lambda
    os.environ["MOTO_LAMBDA_STUB_ECR"] = "FALSE"


if __name__ == "__main__":
    arguments = sys.argv[1:]
    add_missing_apis()
    if "--no-corrections" in arguments:
        arguments.remove("--no-corrections")
    else:
        correct()
    server.main(arguments)
