"""The tags AWS evaluates an API Gateway (REST APIs, the V1 API) request against.

An API Gateway request names a resource by its generated ID, so a policy that isolates one stack's APIs from
another's does it with tags: aws:RequestTag/<key> on a create, aws:ResourceTag/<key> on everything else. Which
tags a resource carries is not in the request; it comes from the resources' state as it was recorded
(`ResourceTags.read`, after the apply), and the inheritance API Gateway documents ("API Gateway resources that
can be tagged"): the children of a RestApi (resources, methods, integrations, deployments, stages, ...) carry its
tags, a Stage's own tags take precedence over the ones it inherits, a UsagePlan's keys carry the plan's tags. A
request on a resource whose tags were not recorded is refused (`UnknownResourceTags`): guessing "no tags" would
decide a tag condition, and with it the isolation between stages, on nothing.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote

# Collections: a POST there creates a resource (its tags are the request's), a GET lists; neither names an
# existing resource, so neither carries resource tags.
COLLECTIONS = ("/restapis", "/usageplans", "/apikeys")
ARN_PATH = "::"  # arn:aws:apigateway:<region>::<path>: API Gateway ARNs name no account


class UnknownResourceTags(LookupError):
    """An API Gateway request on a resource whose tags the recording did not see."""


Tags = dict[str, str]


@dataclass(frozen=True)
class ResourceTags:
    """The tags of the API Gateway resources one recording saw, by kind and ID (stages by API ID and name)."""

    rest_apis: Mapping[str, Tags] = field(default_factory=dict)
    stages: Mapping[tuple[str, str], Tags] = field(default_factory=dict)
    usage_plans: Mapping[str, Tags] = field(default_factory=dict)
    api_keys: Mapping[str, Tags] = field(default_factory=dict)

    @classmethod
    def read(cls, apigateway: Any) -> ResourceTags:
        """Every REST API, stage, usage plan and API key in the region and their tags, from a boto3 client.

        The list calls return the tags with each item (GetTags answers only for stages on moto)."""
        apis = _items(apigateway, "get_rest_apis")
        return cls(
            rest_apis={api["id"]: dict(api.get("tags") or {}) for api in apis},
            stages={
                (api["id"], stage["stageName"]): dict(stage.get("tags") or {})
                for api in apis
                for stage in apigateway.get_stages(restApiId=api["id"]).get("item", [])
            },
            usage_plans={plan["id"]: dict(plan.get("tags") or {}) for plan in _items(apigateway, "get_usage_plans")},
            api_keys={key["id"]: dict(key.get("tags") or {}) for key in _items(apigateway, "get_api_keys")},
        )

    def including(self, newer: ResourceTags) -> ResourceTags:
        """These resources and `newer`'s, `newer` winning for one in both: a recording read more than once (say
        before each judgement) keeps the tags of what a destroy has deleted since."""
        return ResourceTags(
            rest_apis={**self.rest_apis, **newer.rest_apis},
            stages={**self.stages, **newer.stages},
            usage_plans={**self.usage_plans, **newer.usage_plans},
            api_keys={**self.api_keys, **newer.api_keys},
        )

    def of(self, path: str) -> Tags:
        """The tags AWS evaluates a request on `path` against, inherited ones included."""
        if path.rstrip("/") in COLLECTIONS:
            return {}
        parts = path.strip("/").split("/")
        if parts[0] == "tags" and len(parts) >= 2:
            # TagResource, UntagResource and GetTags act on the resource their path names by its ARN.
            named = unquote("/".join(parts[1:]))
            region_and_path = named.partition(ARN_PATH)[2]
            if not named.startswith("arn:") or not region_and_path:
                raise UnknownResourceTags(f"{path}: /tags/ names no API Gateway ARN")
            return self.of(region_and_path)
        kind, resource_id = parts[0], parts[1] if len(parts) > 1 else ""
        if kind == "restapis":
            api = self._known(self.rest_apis, resource_id, path)
            if len(parts) >= 4 and parts[2] == "stages":
                return {**api, **self._known(self.stages, (resource_id, parts[3]), path)}
            return dict(api)
        if kind == "usageplans":
            return dict(self._known(self.usage_plans, resource_id, path))
        if kind == "apikeys":
            return dict(self._known(self.api_keys, resource_id, path))
        raise UnknownResourceTags(f"{path}: no rule for the tags of this kind of API Gateway resource")

    @staticmethod
    def _known(recorded: Mapping[Any, Tags], key: Any, path: str) -> Tags:
        if key not in recorded:
            raise UnknownResourceTags(f"{path}: {key} is not among the recorded API Gateway resources")
        return recorded[key]


def _items(client: Any, operation: str) -> list[dict[str, Any]]:
    return [item for page in client.get_paginator(operation).paginate() for item in page.get("items", [])]
