"""A stand-in for the deployed REST API, which moto keeps but does not serve: an HTTP server on 127.0.0.1
that answers for one stage of one API as read from moto (its resources, which methods need an API key,
the Lambda proxy integrations and the function's permission for API Gateway), turns each request into the
REST proxy event API Gateway sends, and invokes the integration's function and qualifier through Lambda
Invoke. The HTTP side (body framing, JSON errors) is the local API's own (lambda_model.serving.local_api).
"""

from __future__ import annotations

import contextlib
import fnmatch
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from lambda_model.serving.local_api import LocalApiServer, ProxyHandler
from rehearsal.servers import free_port, serving_in_thread

# https://{api id}.execute-api.{region}.amazonaws.com/{stage}
INVOKE_URL = re.compile(r"^https://(?P<api>[a-z0-9]+)\.execute-api\.[a-z0-9-]+\.amazonaws\.com/(?P<stage>[^/]+)/?$")
INTEGRATION_URI = re.compile(
    r"^arn:aws[a-z-]*:apigateway:[a-z0-9-]+:lambda:path/2015-03-31/functions/(?P<arn>.+)/invocations$"
)
# What API Gateway answers itself, before or instead of the function.
FORBIDDEN = {"statusCode": 403, "headers": {"Content-Type": "application/json"}, "body": '{"message":"Forbidden"}'}
BAD_GATEWAY = {
    "statusCode": 502,
    "headers": {"Content-Type": "application/json"},
    "body": '{"message": "Internal server error"}',
}


class ApiNotDeployable(RuntimeError):
    """The API in moto cannot serve the stage as configured: API Gateway would not either."""


@dataclass(frozen=True)
class Route:
    path: str  # the resource path, e.g. /predict or /{proxy+}
    function_arn: str  # qualified: the integration's function and alias
    api_key_required: bool

    def matches(self, path: str) -> bool:
        if self.path.endswith("/{proxy+}"):
            return path.startswith(self.path.removesuffix("{proxy+}")) and path != self.path.removesuffix("/{proxy+}")
        return path == self.path


@dataclass(frozen=True)
class Api:
    api_id: str
    stage: str
    routes: tuple[Route, ...]
    api_keys: frozenset[str]

    @classmethod
    def read(cls, apigateway: Any, lambda_client: Any, invoke_url: str) -> Api:
        match = INVOKE_URL.match(invoke_url)
        if not match:
            raise ApiNotDeployable(f"{invoke_url!r} is not a REST API stage's invoke URL")
        api_id, stage = match["api"], match["stage"]
        apigateway.get_stage(restApiId=api_id, stageName=stage)  # a missing stage fails here, as a 403 would
        routes = []
        for resource in apigateway.get_resources(restApiId=api_id, limit=500)["items"]:
            for method_name in resource.get("resourceMethods") or {}:
                method = apigateway.get_method(restApiId=api_id, resourceId=resource["id"], httpMethod=method_name)
                integration = method.get("methodIntegration") or {}
                uri = INTEGRATION_URI.match(integration.get("uri", ""))
                if integration.get("type") != "AWS_PROXY" or not uri:
                    raise ApiNotDeployable(f"{method_name} {resource['path']} is not a Lambda proxy integration")
                routes.append(Route(resource["path"], uri["arn"], bool(method.get("apiKeyRequired"))))
        for function_arn in {route.function_arn for route in routes}:
            allowed(lambda_client, function_arn, api_id, stage)
        keys = apigateway.get_api_keys(includeValues=True)["items"]
        return cls(api_id, stage, tuple(routes), frozenset(key["value"] for key in keys if key.get("enabled")))

    def route(self, path: str) -> Route | None:
        exact = [route for route in self.routes if route.path == path]
        return exact[0] if exact else next((route for route in self.routes if route.matches(path)), None)


def allowed(lambda_client: Any, function_arn: str, api_id: str, stage: str) -> None:
    """The function's resource policy must let API Gateway invoke it from this stage, or every request is a
    500 ("Invalid permissions on Lambda function"). Checked for a POST /predict, the seed's request."""
    arn = function_arn.split(":")  # arn:aws:lambda:REGION:ACCOUNT:function:NAME[:QUALIFIER]
    region, account, qualifier = arn[3], arn[4], arn[7] if len(arn) == 8 else None
    request_arn = f"arn:aws:execute-api:{region}:{account}:{api_id}/{stage}/POST/predict"
    arguments = {"FunctionName": ":".join(arn[:7]), **({"Qualifier": qualifier} if qualifier else {})}
    policy = json.loads(lambda_client.get_policy(**arguments)["Policy"])
    for statement in policy.get("Statement", []):
        service = (statement.get("Principal") or {}).get("Service")
        source = ((statement.get("Condition") or {}).get("ArnLike") or {}).get("AWS:SourceArn", "*")
        allows = statement.get("Effect") == "Allow" and service == "apigateway.amazonaws.com"
        if allows and fnmatch.fnmatchcase(request_arn, source):
            return
    raise ApiNotDeployable(f"{function_arn} does not allow API Gateway to invoke it for {request_arn}")


@contextlib.contextmanager
def serving(api: Api, lambda_client: Any) -> Iterator[str]:
    """Serve the stage on 127.0.0.1; yields the URL that stands for its invoke URL."""

    class GatewayHandler(ProxyHandler):
        def answer(self, event: dict[str, Any]) -> dict[str, Any]:
            stage, _, rest = event["path"].lstrip("/").partition("/")
            path = "/" + rest
            route = api.route(path)
            if stage != api.stage or route is None:
                return FORBIDDEN  # API Gateway's answer for a path the API has no resource for
            headers = {key.lower(): value for key, value in (event.get("headers") or {}).items()}
            if route.api_key_required and headers.get("x-api-key") not in api.api_keys:
                return FORBIDDEN
            greedy = route.path.removesuffix("{proxy+}")
            proxy = {"proxy": path.removeprefix(greedy)} if greedy != route.path else None
            event = {
                **event,
                "resource": route.path,
                "path": path,
                "pathParameters": proxy,
                "requestContext": {
                    **event["requestContext"],
                    "stage": api.stage,
                    "resourcePath": route.path,
                    "path": event["path"],
                    "apiId": api.api_id,
                },
            }
            response = lambda_client.invoke(FunctionName=route.function_arn, Payload=json.dumps(event))
            payload = response["Payload"].read()
            if response.get("FunctionError"):
                return BAD_GATEWAY
            try:
                result = json.loads(payload)
            except ValueError:
                return BAD_GATEWAY
            valid = isinstance(result, dict) and isinstance(result.get("statusCode"), int)
            return result if valid else BAD_GATEWAY  # a malformed proxy response is API Gateway's 502

    with serving_in_thread(LocalApiServer(("127.0.0.1", free_port()), GatewayHandler)) as url:
        yield f"{url}/{api.stage}"
