"""Roll the Lambda function to a new image behind its alias, verify, roll back: the AWS steps of a release.

The workflows call this module instead of inline shell so that tests can run the very same commands against a
local moto server. Every subcommand prints one JSON object on stdout (progress goes to stderr) and, when
GITHUB_OUTPUT is set, appends the same facts as step outputs.

    python -m lambda_release current  --function NAME [--alias live]
    python -m lambda_release wait     --function NAME [--qualifier VERSION]
    python -m lambda_release roll     --function NAME [--alias live] --image-uri URI
    python -m lambda_release rollback --function NAME [--alias live] [--to-version N] [--from-version N]
    python -m lambda_release deploy   --function NAME [--alias live] --image-uri URI
                                      (--alarm NAME... | --alarm-prefix PREFIX | --all-at-once)
                                      [--canary-share 0.1] [--canary-minutes 10] [--endpoint-url URL]
                                      [--min-canary-invocations 20] [--canary-extensions 1]
                                      [--canary-requests-per-second 1] [-- COMMAND...]
    python -m lambda_release verify-alarms --function NAME [--alias live] [--version N] --endpoint-url URL
                                      (--alarm NAME... | --alarm-prefix PREFIX) [--minutes 2] [--settle-minutes 5]
                                      [--min-invocations 20] [--requests-per-second 1]
    python -m lambda_release mark-staged | check-staged | check-newer-code ...   (lambda_release.staged)

`deploy` is the release: publish a version, check it by invoking that version directly with API Gateway
proxy events on every route of the serving route table (no user request can reach it yet), give it a share
of the alias's traffic with weighted routing while sending the same probes through the API and watching
CloudWatch alarms, then all of it; then run COMMAND (if any) against the endpoint. An alarm, a canary the
new version served too little of (inconclusive, after its extensions), a failed COMMAND, SIGINT or SIGTERM
moves the alias back to the previous version.

`verify-alarms` is staging's alarm-wiring check after its all-at-once switch: the canary's synthetic traffic,
then the canary's evidence (invocations and each per-version alarm's data for the version) and no alarm firing.

Exit codes: 0 done; 1 verification failed (before traffic: the alias never moved; later: it was moved back; an
alarm check that failed; a stage check that refused); 2 usage error (or an image that cannot be checked);
3 an AWS step failed (the alias was not moved, or was moved back); 4 the rollback itself failed
(the alias may still send traffic to the new version: act by hand); 5 cancelled by a signal (alias moved back).

boto3, the standard library and the serving code's route table (lambda_model, installed in the same
virtualenv): boto3 honours AWS_ENDPOINT_URL, AWS_REGION and the credentials that
aws-actions/configure-aws-credentials exports.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import re
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
from botocore.exceptions import BotoCoreError, ClientError, WaiterError

from lambda_release import staged
from lambda_release.probes import (
    Probes,
    RouteProbe,
    SignatureUnreadable,
    WrongAnswer,
    check_health,
    health_route,
    route_probes,
)

EXIT_OK = 0
EXIT_VERIFICATION_FAILED = 1
EXIT_USAGE = 2
EXIT_AWS_FAILED = 3
EXIT_ROLLBACK_FAILED = 4
EXIT_CANCELLED = 5

DEFAULT_ALIAS = "live"
LATEST = "$LATEST"
DEFAULT_CANARY_SHARE = 0.10
DEFAULT_CANARY_MINUTES = 10.0
# At 10% of 1 request/s for 10 minutes the new version expects ~60 synthetic invocations: 20 is missed only
# when the traffic does not reach it at all, not by chance.
DEFAULT_MIN_CANARY_INVOCATIONS = 20
DEFAULT_CANARY_EXTENSIONS = 1
DEFAULT_CANARY_REQUESTS_PER_SECOND = 1.0
# Lambda's metrics of a version behind an alias: the dimensions its per-version alarms group by.
EXECUTED_VERSION = "ExecutedVersion"
# The subcommands of staged.py: they read ECR (and git), not only Lambda.
STAGE_CHECKS = ("mark-staged", "check-staged", "check-newer-code")

# A function that invokes one Lambda version with an event and returns the handler's response: real Lambda in
# production, the handler itself (or a fake) in tests, since moto cannot run image functions.
Invoker = Callable[[dict[str, Any]], dict[str, Any]]


class RolloutError(Exception):
    """An AWS-side step of a subcommand failed, or Lambda's state forbids it (exit 3).

    Most are raised before the alias moved, or by a subcommand that never moves it (`current`, `wait`,
    `verify-alarms`, a stage check's read of the live version): production serves what it served before, and
    the command's log line says "alias not moved". `alias_moved` marks the two raised by `deploy` once traffic
    had started to move, whose message says where the alias was left: a failed AWS call (the alias was moved
    back first, to the version the message names), and an update Lambda refused because another party changed
    the alias during the release (it is left as they set it, which may not be the previous version). A failed
    move back is a `RollbackError` instead.
    """

    exit_code = EXIT_AWS_FAILED

    def __init__(self, message: str, *, alias_moved: bool = False) -> None:
        super().__init__(message)
        self.alias_moved = alias_moved


class RollbackError(RolloutError):
    """Moving the alias back failed: production may serve the version that failed verification."""

    exit_code = EXIT_ROLLBACK_FAILED


class Cancelled(Exception):
    """SIGINT (GitHub's cancel, Ctrl-C) or SIGTERM arrived: the release must undo what it did and stop."""


@dataclass(frozen=True)
class Target:
    """The function and the alias that API Gateway invokes."""

    function: str
    alias: str = DEFAULT_ALIAS


@dataclass(frozen=True)
class Timing:
    """How long to wait for Lambda to finish an update, and how often to ask."""

    timeout: float = 600.0
    poll_interval: float = 5.0


@dataclass(frozen=True)
class Canary:
    """How the new version earns its traffic: `share` of the alias's requests for `seconds`, under `alarms`.

    `all_at_once` skips the weighted phase (the alias moves to 100% right after the pre-traffic check):
    for a fix during an incident, when the alarms already fire and could not tell old failures from new ones.

    Quiet alarms prove nothing on their own (they treat missing data as OK), so a canary is conclusive only
    once the new version served `min_invocations` through the alias and every per-version alarm has data for
    it; an inconclusive one is extended `extensions` times by `seconds`, then rolled back. While it runs, the
    release sends the route probes to `endpoint_url` (with `api_key` as x-api-key, when given) at
    `requests_per_second`, so that the new version sees traffic even when users send none.
    """

    share: float = DEFAULT_CANARY_SHARE
    seconds: float = DEFAULT_CANARY_MINUTES * 60
    alarm_names: tuple[str, ...] = ()
    alarm_prefix: str = ""
    poll_interval: float = 15.0
    all_at_once: bool = False
    min_invocations: int = DEFAULT_MIN_CANARY_INVOCATIONS
    extensions: int = DEFAULT_CANARY_EXTENSIONS
    endpoint_url: str = ""
    api_key: str = field(default="", repr=False)
    requests_per_second: float = DEFAULT_CANARY_REQUESTS_PER_SECOND


@dataclass(frozen=True)
class AliasState:
    """What the alias serves: its primary version, the weighted extra versions, and the revision to update."""

    version: str
    weights: dict[str, float]
    revision_id: str

    def serves(self, version: str) -> bool:
        return self.version == version or self.weights.get(version, 0.0) > 0


@dataclass(frozen=True)
class RollResult:
    function: str
    alias: str
    version: str
    previous_version: str
    image_uri: str


def log(message: str) -> None:
    print(f"rollout: {message}", file=sys.stderr, flush=True)


def lambda_client() -> Any:
    return boto3.client("lambda")


def cloudwatch_client() -> Any:
    return boto3.client("cloudwatch")


def ecr_client() -> Any:
    return boto3.client("ecr")


def alias_state(client: Any, target: Target) -> AliasState:
    """What the alias serves now, with the revision id that makes the next update conditional on it."""
    try:
        alias = client.get_alias(FunctionName=target.function, Name=target.alias)
    except client.exceptions.ResourceNotFoundException as error:
        raise RolloutError(
            f"alias {target.alias!r} of function {target.function!r} not found: "
            "terraform apply creates both before the first roll"
        ) from error
    weights = (alias.get("RoutingConfig") or {}).get("AdditionalVersionWeights") or {}
    return AliasState(alias["FunctionVersion"], dict(weights), alias.get("RevisionId", ""))


def alias_version(client: Any, target: Target) -> str:
    """The alias's primary version (during a canary, the one serving the larger share)."""
    return alias_state(client, target).version


def move_alias(
    client: Any, target: Target, seen: AliasState, version: str, canary: tuple[str, float] | None = None
) -> AliasState:
    """Point the alias at `version` with all of its traffic, or, given `canary` = (version, share), all but
    `share` (rounded to 5 decimals) which goes to that version; any other weighted routing is dropped.
    Returns what the alias serves now, with the RevisionId of this update for the next one.

    The update is conditional on `seen`'s RevisionId: Lambda refuses it (PreconditionFailedException, a
    ClientError to the caller) if anyone moved the alias since `seen` was read. So the release's own moves,
    which pass the state they last read or wrote, never overwrite a manual change; `undo` and `rollback`
    pass a state read just before, so they move the alias whatever the release left it in. An `AliasState`
    without a RevisionId makes the update unconditional.
    """
    weights = {canary[0]: round(canary[1], 5)} if canary else {}
    arguments: dict[str, Any] = {
        "FunctionName": target.function,
        "Name": target.alias,
        "FunctionVersion": version,
        "RoutingConfig": {"AdditionalVersionWeights": weights},
    }
    if seen.revision_id:
        arguments["RevisionId"] = seen.revision_id
    updated = client.update_alias(**arguments)
    return AliasState(version, weights, updated.get("RevisionId", ""))


def version_details(client: Any, function: str, version: str) -> dict[str, str]:
    """What a published version runs, and which version it replaced when it was rolled out."""
    try:
        response = client.get_function(FunctionName=function, Qualifier=version)
    except client.exceptions.ResourceNotFoundException as error:
        raise RolloutError(f"function {function!r} has no version {version!r}") from error
    configuration = response["Configuration"]
    code = response.get("Code", {})
    return {
        "version": configuration["Version"],
        "image_uri": code.get("ImageUri", ""),
        "resolved_image_uri": code.get("ResolvedImageUri", ""),
        "replaces": read_release_note(configuration.get("Description", "")).get("replaces", ""),
        "state": configuration.get("State", ""),
    }


def release_note(image_uri: str, replaces: str) -> str:
    """A published version's description: versions are immutable, so the note outlives any terraform apply."""
    note = json.dumps({"image": image_uri, "replaces": replaces}, separators=(",", ":"))
    # Lambda caps a description at 256 characters; the version it replaced is the part rollback needs.
    return note if len(note) <= 256 else json.dumps({"replaces": replaces}, separators=(",", ":"))


def read_release_note(description: str) -> dict[str, str]:
    try:
        note = json.loads(description)
    except ValueError:
        return {}
    return note if isinstance(note, dict) else {}


# boto3's Lambda waiters, on GetFunctionConfiguration (the call the release role is granted for it): first the
# State (Pending is retried, Failed stops), then the last update (InProgress is retried, Failed stops).
READY_WAITERS = ("published_version_active", "function_updated")


def wait_until_ready(client: Any, function: str, qualifier: str, timing: Timing) -> None:
    """Wait until the function (or a version) is Active and its last update Successful, polling every
    `timing.poll_interval` seconds for `timing.timeout` seconds at most; raise RolloutError, in one line with
    Lambda's reason, if it failed or is still not ready."""
    log(f"waiting for {function}:{qualifier} to be Active and Successful (up to {timing.timeout:g}s)")
    deadline = time.monotonic() + timing.timeout
    for name in READY_WAITERS:
        # One attempt now, then one per interval the remaining time holds: the waiters share one deadline.
        attempts = 1 + max(0, math.floor((deadline - time.monotonic()) / timing.poll_interval))
        try:
            client.get_waiter(name).wait(
                FunctionName=function,
                Qualifier=qualifier,
                WaiterConfig={"Delay": timing.poll_interval, "MaxAttempts": attempts},
            )
        except WaiterError as error:
            raise RolloutError(not_ready(f"{function}:{qualifier}", error, timing)) from None


def not_ready(where: str, error: WaiterError, timing: Timing) -> str:
    """What a waiter's last answer says: Lambda's reason for a failed update, the state it stayed in, or the
    AWS error that stopped the waiter."""
    configuration = error.last_response or {}
    if "Error" in configuration:
        return f"{where}: {error}"
    state = configuration.get("State", "?")
    update_status = configuration.get("LastUpdateStatus", "?")
    statuses = f"State={state}, LastUpdateStatus={update_status}"
    if "Failed" in (state, update_status):
        reason = configuration.get("LastUpdateStatusReason") or configuration.get("StateReason") or "?"
        return " ".join(f"{where} failed ({statuses}): {reason}".split())
    return f"{where} not ready after {timing.timeout:g}s ({statuses})"


def publish(client: Any, target: Target, image_uri: str, timing: Timing) -> tuple[RollResult, AliasState]:
    """update-function-code, wait, publish-version, wait; the alias is read first and left alone."""
    seen = alias_state(client, target)
    if seen.weights:
        raise RolloutError(
            f"alias {target.alias} already routes {seen.weights} besides version {seen.version}: an earlier "
            "release did not finish; run `python -m lambda_release rollback` first"
        )
    previous = seen.version
    log(f"alias {target.alias} is on version {previous}; updating {target.function} to {image_uri}")
    updated = client.update_function_code(FunctionName=target.function, ImageUri=image_uri)
    wait_until_ready(client, target.function, LATEST, timing)
    # CodeSha256 makes Lambda refuse to publish if someone else changed $LATEST in the meantime.
    published = client.publish_version(
        FunctionName=target.function,
        CodeSha256=updated["CodeSha256"],
        Description=release_note(image_uri, previous),
    )
    version = published["Version"]
    wait_until_ready(client, target.function, version, timing)
    return RollResult(target.function, target.alias, version, previous, image_uri), seen


def roll(client: Any, target: Target, image_uri: str, timing: Timing) -> RollResult:
    """Publish, then move the alias at once: the alias moves last, or never. No check, no canary."""
    result, seen = publish(client, target, image_uri, timing)
    move_alias(client, target, seen, result.version)
    log(f"alias {target.alias} moved from version {result.previous_version} to {result.version}")
    return result


def rollback(client: Any, target: Target, to_version: str | None, from_version: str | None = None) -> dict[str, str]:
    """Point the alias (all of its traffic) at `to_version`, or at the version the current one replaced.

    With `from_version`, only if the alias still sends that version traffic: the release's cleanup step uses
    it, so a release that already moved the alias back, or never moved it, is left as it is.
    """
    seen = alias_state(client, target)
    current = seen.version
    if from_version and not seen.serves(from_version):
        log(f"alias {target.alias} does not serve version {from_version}: nothing to roll back")
        return {"function": target.function, "alias": target.alias, "version": current, "rolled_back_from": ""}
    if seen.weights and not to_version:
        # Mid-canary the primary is the version the canary was measured against: it is the way back.
        destination = current
    else:
        destination = to_version or version_details(client, target.function, current)["replaces"]
    if not destination:
        raise RolloutError(f"version {current} records no earlier version: pass --to-version")
    if destination == LATEST:
        raise RolloutError("refusing to roll back to $LATEST: it holds the newest image, not an earlier one")
    version_details(client, target.function, destination)  # fails clearly if the version does not exist
    move_alias(client, target, seen, destination)
    moved_from = ",".join([current, *seen.weights]) if seen.weights else current
    log(f"alias {target.alias} moved back from version {moved_from} to {destination}")
    return {
        "function": target.function,
        "alias": target.alias,
        "version": destination,
        "rolled_back_from": moved_from,
    }


class PreTrafficFailure(Exception):
    """The new version answered a pre-traffic check wrongly (or not at all)."""


def version_invoker(client: Any, function: str, version: str) -> Invoker:
    """Invoke exactly `version` (not the alias): the check reaches the new code while users reach the old."""

    def invoke(event: dict[str, Any]) -> dict[str, Any]:
        response = client.invoke(
            FunctionName=function, Qualifier=version, InvocationType="RequestResponse", Payload=json.dumps(event)
        )
        payload = response["Payload"].read()
        if response.get("FunctionError"):
            raise PreTrafficFailure(f"version {version} raised: {payload[:500]!r}")
        try:
            return json.loads(payload)
        except ValueError as error:
            raise PreTrafficFailure(f"version {version} answered no JSON: {payload[:200]!r}") from error

    return invoke


def proxy_event(method: str, path: str, body: Any = None) -> dict[str, Any]:
    """An API Gateway REST (payload 1.0) proxy event, the shape the stage sends to the alias."""
    return {
        "resource": "/{proxy+}",
        "path": path,
        "httpMethod": method,
        "headers": {"content-type": "application/json", "user-agent": "lambda-release-pre-traffic"},
        "queryStringParameters": None,
        "pathParameters": {"proxy": path.lstrip("/")},
        "requestContext": {"stage": "pre-traffic", "httpMethod": method, "path": path, "resourcePath": "/{proxy+}"},
        "body": None if body is None else json.dumps(body),
        "isBase64Encoded": False,
    }


def _answer(invoke: Invoker, event: dict[str, Any], status: int) -> dict[str, Any]:
    """Send one event; the proxy response must have `status` and a JSON body, which is returned."""
    where = f"{event['httpMethod']} {event['path']}"
    try:
        response = invoke(event)
    except PreTrafficFailure as error:  # the version raised or answered no JSON: say on which route
        raise PreTrafficFailure(f"{where}: {error}") from None
    if not isinstance(response, dict) or response.get("statusCode") != status:
        code = response.get("statusCode") if isinstance(response, dict) else None
        raise PreTrafficFailure(f"{where} answered {code}, expected {status}: {str(response)[:300]}")
    try:
        body = json.loads(response.get("body") or "")
    except ValueError as error:
        raise PreTrafficFailure(f"{where} answered a body that is not JSON") from error
    if not isinstance(body, dict):
        raise PreTrafficFailure(f"{where} answered {type(body).__name__}, not a JSON object")
    return body


def pre_traffic_check(invoke: Invoker) -> tuple[str, list[RouteProbe]]:
    """The contract, through the events API Gateway sends, on every route of the serving route table.

    The requests are built from the signature the new version's health route reports, so they fit whatever
    model it serves. Returns that model's version and the probes sent (the canary's synthetic traffic sends
    them again, through the API). Any wrong answer raises PreTrafficFailure.
    """
    method, path = health_route()
    health = _answer(invoke, proxy_event(method, path), 200)
    try:
        check_health(health, f"{method} {path}")
        probes = route_probes(Probes.from_health(health))
        for probe in probes:
            if (probe.method, probe.path, probe.body) != (method, path, None):  # the health route was just checked
                probe.check(_answer(invoke, proxy_event(probe.method, probe.path, probe.body), probe.status))
    except (WrongAnswer, SignatureUnreadable) as error:
        raise PreTrafficFailure(str(error)[:300]) from None
    return str(health["model"]["version"]), probes


def resolve_alarms(cloudwatch: Any, canary: Canary) -> list[str]:
    """The alarms the canary watches, read once before traffic moves: a name that does not exist is an error."""
    kinds = ["MetricAlarm", "CompositeAlarm"]
    found: list[str] = []
    if canary.alarm_prefix:
        paginator = cloudwatch.get_paginator("describe_alarms")
        for page in paginator.paginate(AlarmNamePrefix=canary.alarm_prefix, AlarmTypes=kinds):
            found += [alarm["AlarmName"] for alarm in [*page.get("MetricAlarms", []), *page.get("CompositeAlarms", [])]]
        if not found:
            raise RolloutError(f"no CloudWatch alarm is named {canary.alarm_prefix}*: a canary must watch something")
    names = [name for name in canary.alarm_names if name not in found]
    if names:
        states = alarm_states(cloudwatch, names)
        missing = sorted(set(names) - set(states))
        if missing:
            raise RolloutError(f"CloudWatch alarms not found: {', '.join(missing)} (terraform output alarm_names)")
    return [*found, *names]


def describe_alarms(cloudwatch: Any, names: Sequence[str]) -> list[dict[str, Any]]:
    """The metric and composite alarms of these names; DescribeAlarms takes at most 100 names a call."""
    alarms: list[dict[str, Any]] = []
    for start in range(0, len(names), 100):
        response = cloudwatch.describe_alarms(
            AlarmNames=list(names[start : start + 100]), AlarmTypes=["MetricAlarm", "CompositeAlarm"]
        )
        alarms += [*response.get("MetricAlarms", []), *response.get("CompositeAlarms", [])]
    return alarms


def alarm_states(cloudwatch: Any, names: Sequence[str]) -> dict[str, str]:
    """Alarm name → StateValue (OK, ALARM, INSUFFICIENT_DATA)."""
    return {alarm["AlarmName"]: alarm["StateValue"] for alarm in describe_alarms(cloudwatch, names)}


@dataclass(frozen=True)
class VersionMetric:
    """A metric Lambda publishes per version behind the alias (dimension ExecutedVersion), as a per-version
    alarm reads it (`alarm`), or the new version's Invocations (no alarm)."""

    namespace: str
    metric: str
    dimensions: tuple[tuple[str, str], ...]  # all but ExecutedVersion
    alarm: str = ""

    def query(self, query_id: str, version: str, statistic: str) -> dict[str, Any]:
        dimensions = [*self.dimensions, (EXECUTED_VERSION, version)]
        return {
            "Id": query_id,
            "MetricStat": {
                "Metric": {
                    "Namespace": self.namespace,
                    "MetricName": self.metric,
                    "Dimensions": [{"Name": name, "Value": value} for name, value in dimensions],
                },
                "Period": 60,
                "Stat": statistic,
            },
        }


# The shape of terraform/alarms.tf's per-version queries: SELECT AGG(Metric) FROM SCHEMA("ns", keys...)
# WHERE key = 'value' AND ... GROUP BY ExecutedVersion [ORDER BY ... LIMIT n].
_INSIGHTS_QUERY = re.compile(
    r"""^\s*SELECT\s+\w+\(\s*(?P<metric>\w+)\s*\)\s+FROM\s+SCHEMA\(\s*"(?P<namespace>[^"]+)"\s*,(?P<keys>[^)]*)\)"""
    r"""\s*(?:WHERE\s+(?P<where>.*?)\s*)?GROUP\s+BY\s+(?P<group>\w+)(?:\s|$)""",
    re.IGNORECASE | re.DOTALL,
)
_PINNED = re.compile(r"""\s*\w+\s*=\s*'[^']*'(?:\s+AND\s+\w+\s*=\s*'[^']*')*\s*""", re.IGNORECASE)
_EQUALS = re.compile(r"""(\w+)\s*=\s*'([^']*)'""")


def per_version_metrics(cloudwatch: Any, names: Sequence[str]) -> list[VersionMetric]:
    """The metric each watched per-version alarm (a Metrics Insights query grouped by ExecutedVersion) reads.

    Its state cannot say whether the new version has data: it keeps the worst version's series, and treats
    missing data as OK. Read before traffic moves: a query the canary cannot narrow to one version (a
    dimension of its schema not pinned by an AND of equalities) is an error, not an alarm left unchecked.
    """
    metrics: list[VersionMetric] = []
    for alarm in describe_alarms(cloudwatch, names):
        for query in alarm.get("Metrics") or []:
            expression = query.get("Expression") or ""
            if EXECUTED_VERSION.lower() not in expression.lower():
                continue
            match = _INSIGHTS_QUERY.match(expression)
            where = (match["where"] or "") if match else ""
            pinned = dict(_EQUALS.findall(where)) if match and _PINNED.fullmatch(where) else {}
            keys = {key.strip().strip('"') for key in match["keys"].split(",")} if match else set()
            if not match or match["group"] != EXECUTED_VERSION or keys != {*pinned, EXECUTED_VERSION}:
                raise RolloutError(
                    f"alarm {alarm['AlarmName']} reads versions ({EXECUTED_VERSION}) in a query the canary cannot "
                    f"narrow to the new version, so it could not tell whether that alarm has data: {expression[:200]}"
                )
            dimensions = tuple(sorted(pinned.items()))
            metrics.append(VersionMetric(match["namespace"], match["metric"], dimensions, alarm["AlarmName"]))
    return metrics


@dataclass(frozen=True)
class Evidence:
    """What CloudWatch holds for the new version behind the alias since the canary began."""

    invocations: int
    without_data: tuple[str, ...]  # per-version alarms with no datapoint for it

    def conclusive(self, minimum: int) -> bool:
        return self.invocations >= minimum and not self.without_data

    def describe(self, version: str, minimum: int) -> str:
        served = f"version {version} served {self.invocations} invocations through the alias (at least {minimum})"
        if not self.without_data:
            return served
        return f"{served}; no data for it in {', '.join(self.without_data)}"


def canary_evidence(
    cloudwatch: Any, target: Target, version: str, since: datetime, metrics: Sequence[VersionMetric]
) -> Evidence:
    """Invocations of `version` through the alias (Lambda's Invocations by ExecutedVersion) and the datapoints
    of each per-version alarm's metric for it, from one GetMetricData call (paged)."""
    alias_dimensions = (("FunctionName", target.function), ("Resource", f"{target.function}:{target.alias}"))
    invocations = VersionMetric("AWS/Lambda", "Invocations", alias_dimensions)
    queries = [invocations.query("invocations", version, "Sum")]
    queries += [metric.query(f"alarm{index}", version, "SampleCount") for index, metric in enumerate(metrics)]
    # Whole minutes: Lambda publishes at one-minute resolution, and a datapoint's timestamp is its minute's start.
    start = since.replace(second=0, microsecond=0)
    end = datetime.now(UTC).replace(second=0, microsecond=0) + timedelta(minutes=1)
    totals: dict[str, float] = {}
    for page in cloudwatch.get_paginator("get_metric_data").paginate(
        MetricDataQueries=queries, StartTime=start, EndTime=end
    ):
        for series in page.get("MetricDataResults", []):
            totals[series["Id"]] = totals.get(series["Id"], 0.0) + math.fsum(series.get("Values", []))
    without_data = tuple(metric.alarm for index, metric in enumerate(metrics) if not totals.get(f"alarm{index}"))
    return Evidence(int(totals.get("invocations", 0.0)), without_data)


def api_request(canary: Canary, method: str, path: str, body: Any, timeout: float) -> tuple[int, bytes]:
    """One request through the API at `canary.endpoint_url` (with the API key when set): (status, body).

    Raises OSError when no answer came (URLError, a timeout, a reset connection)."""
    headers = {"Content-Type": "application/json", "User-Agent": "lambda-release-canary"}
    if canary.api_key:
        headers["x-api-key"] = canary.api_key
    data = None if body is None else json.dumps(body).encode()
    url = canary.endpoint_url.rstrip("/") + path
    request = urllib.request.Request(url, data=data, headers=headers, method=method)  # noqa: S310 (http(s) only: endpoint_url)
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


class SyntheticTraffic:
    """The route probes sent through the API while the canary runs, one every 1/rate seconds, from a thread.

    The alias sends the new version its share of them as of any user request, so a canary sees the new
    version even when no user calls. Answers are counted, not judged: through the alias a request may reach
    either version, and the alarms judge the new one by its own metrics.
    """

    EXPECTED = "as expected"

    def __init__(self, canary: Canary, probes: Sequence[RouteProbe], timeout: float = 10.0) -> None:
        self.canary = canary
        self.probes = list(probes)
        self.timeout = timeout
        self.answers: Counter[str] = Counter()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="synthetic-traffic", daemon=True)

    @property
    def enabled(self) -> bool:
        return bool(self.canary.endpoint_url and self.canary.requests_per_second > 0 and self.probes)

    def __enter__(self) -> SyntheticTraffic:
        if self.enabled:
            key = " with the API key as x-api-key" if self.canary.api_key else ""
            log(
                f"canary: sending the {len(self.probes)} route probes to {self.canary.endpoint_url}{key} at "
                f"{self.canary.requests_per_second:g} requests/s"
            )
            self._thread.start()
        else:
            log("canary: no synthetic traffic (no --endpoint-url): the new version must get enough user requests")
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=self.timeout + 1)

    def _run(self) -> None:
        interval = 1 / self.canary.requests_per_second
        due = time.monotonic()
        index = 0
        while not self._stop.wait(max(0.0, due - time.monotonic())):
            answer = self.send(self.probes[index % len(self.probes)])
            index += 1
            # A slow answer delays the next request instead of bunching the ones it held up.
            due = max(due + interval, time.monotonic())
            with self._lock:
                self.answers[answer] += 1

    def send(self, probe: RouteProbe) -> str:
        """One probe through the API; EXPECTED, or what came back instead."""
        try:
            status, body = api_request(self.canary, probe.method, probe.path, probe.body, self.timeout)
        except OSError as error:  # URLError, a timeout, a reset connection
            return f"no answer ({type(error).__name__})"
        if status != probe.status:
            return str(status)
        try:
            answer = json.loads(body)
            if not isinstance(answer, dict):
                raise WrongAnswer(f"{type(answer).__name__}, not a JSON object")
            probe.check(answer)
        except (ValueError, WrongAnswer):  # WrongAnswer is a ValueError too; named for the reader
            return f"{status}, wrong body"
        return self.EXPECTED

    def summary(self) -> str:
        if not self.enabled:
            return "none"
        with self._lock:
            answers = dict(self.answers)
        total = sum(answers.values())
        others = ", ".join(f"{answer} x{count}" for answer, count in sorted(answers.items()) if answer != self.EXPECTED)
        return f"{total} requests, {answers.get(self.EXPECTED, 0)} as expected" + (f"; {others}" if others else "")


def firing(cloudwatch: Any, names: Sequence[str]) -> list[str]:
    return sorted(name for name, state in alarm_states(cloudwatch, names).items() if state == "ALARM")


@contextmanager
def cancellable() -> Iterator[None]:
    """Turn SIGINT and SIGTERM into `Cancelled` so the code holding the alias can put it back."""

    def cancel(signum: int, _frame: Any) -> None:
        raise Cancelled(signal.Signals(signum).name)

    previous = {number: signal.signal(number, cancel) for number in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)


def cancellation_inside(error: BaseException) -> Cancelled | None:
    """The signal behind an AWS call's error: botocore wraps whatever its HTTP client raised (our Cancelled,
    when the signal arrives mid-request) as an HTTPClientError carrying the original."""
    cause = getattr(error, "kwargs", {}).get("error") or error.__cause__ or error.__context__
    return cause if isinstance(cause, Cancelled) else None


@contextmanager
def uninterruptible() -> Iterator[None]:
    """Hold SIGINT and SIGTERM while the alias is moved back: a second signal must not stop the rollback."""
    previous = {number: signal.signal(number, signal.SIG_IGN) for number in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)


def run_verification(command: Sequence[str], result: RollResult) -> int:
    """Run the check against the new live version; its output goes to stderr: stdout stays one JSON object."""
    environment = {
        **os.environ,
        "ROLLOUT_FUNCTION": result.function,
        "ROLLOUT_ALIAS": result.alias,
        "ROLLOUT_VERSION": result.version,
        "ROLLOUT_PREVIOUS_VERSION": result.previous_version,
    }
    log(f"verifying version {result.version}: {' '.join(command)}")
    try:
        return subprocess.run(list(command), env=environment, stdout=sys.stderr, check=False).returncode
    except OSError as error:
        log(f"verification command could not start: {error}")
        return 127


def watch_canary(cloudwatch: Any, result: RollResult, canary: Canary, alarms: Sequence[str]) -> list[str]:
    """Wait out the canary; return the alarms that fired (empty: the new version earned all the traffic)."""
    deadline = time.monotonic() + canary.seconds
    while True:
        fired = firing(cloudwatch, alarms)
        if fired or time.monotonic() >= deadline:
            return fired
        log(f"canary: version {result.version} has {canary.share:.0%} of the traffic; alarms quiet")
        time.sleep(max(0.0, min(canary.poll_interval, deadline - time.monotonic())))


def run_canary(
    cloudwatch: Any,
    target: Target,
    result: RollResult,
    canary: Canary,
    alarms: Sequence[str],
    metrics: Sequence[VersionMetric],
    since: datetime,
) -> tuple[str, Evidence | None]:
    """Watch the canary's windows: ("", evidence) once it passed, else (why it failed, evidence or None).

    Each window is `canary.seconds` under the alarms; at its end CloudWatch must hold the new version's
    invocations and per-version data, else the canary is extended, `canary.extensions` times at most.
    """
    windows = 1 + canary.extensions
    evidence = None
    for window in range(1, windows + 1):
        fired = watch_canary(cloudwatch, result, canary, alarms)
        if fired:
            return f"alarm fired: {', '.join(fired)}", evidence
        evidence = canary_evidence(cloudwatch, target, result.version, since, metrics)
        if evidence.conclusive(canary.min_invocations):
            return "", evidence
        if window < windows:
            log(
                f"canary inconclusive: {evidence.describe(result.version, canary.min_invocations)}; extending it "
                f"by {canary.seconds:g}s ({window} of {canary.extensions})"
            )
    assert evidence is not None  # noqa: S101 (at least one window ran)
    minutes = f"{windows} x {canary.seconds / 60:g} min"
    return f"canary inconclusive after {minutes}: {evidence.describe(result.version, canary.min_invocations)}", evidence


@dataclass(frozen=True)
class AlarmCheck:
    """Staging's alarm-wiring check: `seconds` of synthetic traffic, then up to `settle_seconds` for CloudWatch
    to show it (Lambda publishes its metrics a minute or more after the invocations)."""

    seconds: float = 120.0
    settle_seconds: float = 300.0


def probes_through_api(canary: Canary) -> list[RouteProbe]:
    """The route probes for the model the API serves now, built from its health route's signature (as the
    pre-traffic check builds them from the version's)."""
    method, path = health_route()
    where = f"{method} {canary.endpoint_url.rstrip('/')}{path}"
    try:
        status, body = api_request(canary, method, path, None, timeout=10.0)
    except OSError as error:
        raise RolloutError(f"{where}: no answer ({type(error).__name__})") from error
    if status != 200:
        raise RolloutError(f"{where} answered {status}: {body[:200]!r}")
    try:
        health = json.loads(body)
        check_health(health, where)
        return route_probes(Probes.from_health(health))
    except (ValueError, SignatureUnreadable) as error:  # WrongAnswer is a ValueError
        raise RolloutError(f"{where}: {str(error)[:300]}") from None


def verify_alarms(
    client: Any, cloudwatch: Any, target: Target, version: str, canary: Canary, check: AlarmCheck
) -> dict[str, str]:
    """Send the route probes through the API, then every watched per-version alarm must hold data for
    `version` (default: the version the alias serves), the version must have served `canary.min_invocations`
    through the alias, and no watched alarm may be in ALARM.

    A release that switched all at once (staging) never had a canary to prove its alarms see the new version:
    an alarm wired to the wrong metric, dimension or version would stay quiet in production's canary too.
    The same alarm resolution, per-version queries, evidence and synthetic traffic as the canary's.
    """
    alarms = resolve_alarms(cloudwatch, canary)
    metrics = per_version_metrics(cloudwatch, alarms)
    seen = alias_state(client, target)
    version = version or seen.version
    if seen.version != version or seen.weights:
        raise RolloutError(
            f"alias {target.alias} serves version {seen.version} {seen.weights or ''}, not version {version} "
            "alone: the check would measure another version"
        )
    probes = probes_through_api(canary)
    outcome = {
        "function": target.function,
        "alias": target.alias,
        "version": version,
        "alarms_watched": ",".join(alarms),
    }
    since = datetime.now(UTC)
    with SyntheticTraffic(canary, probes) as traffic:
        time.sleep(check.seconds)
    outcome["synthetic_traffic"] = traffic.summary()
    log(f"alarm check: synthetic traffic {outcome['synthetic_traffic']}")
    deadline = time.monotonic() + check.settle_seconds
    while True:
        fired = firing(cloudwatch, alarms)
        evidence = canary_evidence(cloudwatch, target, version, since, metrics)
        if fired or evidence.conclusive(canary.min_invocations) or time.monotonic() >= deadline:
            break
        log(f"alarm check: waiting for CloudWatch: {evidence.describe(version, canary.min_invocations)}")
        time.sleep(max(0.0, min(canary.poll_interval, deadline - time.monotonic())))
    outcome["invocations"] = str(evidence.invocations)
    if fired:
        return {**outcome, "status": "failed", "outcome": f"alarm fired: {', '.join(fired)}"}
    if not evidence.conclusive(canary.min_invocations):
        described = evidence.describe(version, canary.min_invocations)
        return {**outcome, "status": "failed", "outcome": f"alarm wiring not shown: {described}"}
    passed = f"{evidence.describe(version, canary.min_invocations)}; every watched alarm has data for it, none fires"
    return {**outcome, "status": "passed", "outcome": passed}


@dataclass(frozen=True)
class Watch:
    """What the canary watches, read before anything changes: its alarms, and the metric each per-version alarm
    reads (empty when the release goes all at once)."""

    alarms: list[str]
    metrics: list[VersionMetric]


def deploy(
    client: Any,
    cloudwatch: Any,
    target: Target,
    image_uri: str,
    verify_command: Sequence[str],
    timing: Timing,
    canary: Canary,
    invoker: Callable[[RollResult], Invoker] | None = None,
    published: Callable[[dict[str, str]], None] = lambda _: None,
) -> dict[str, str]:
    """Publish; check the version before traffic; canary under alarms; 100%; verify; undo on any failure.

    `invoker` builds the pre-traffic invoker for the published version (default: Lambda Invoke on that
    version); `published` is told the versions as soon as they are known, before the alias moves, so that a
    release killed past that point still leaves its cleanup step the facts it needs.
    """
    watch = alarms_to_watch(cloudwatch, canary)
    result, seen = publish(client, target, image_uri, timing)
    outcome = release_outcome(result, canary, watch)
    published({key: outcome[key] for key in ("version", "previous_version")})
    build = invoker or (lambda release: version_invoker(client, release.function, release.version))
    if result.version == result.previous_version:
        return verify_in_place(build(result), result, outcome, verify_command)
    probes, rejection = check_before_traffic(build, result)
    if rejection:
        return {**outcome, "outcome": rejection}
    try:
        failure = shift_traffic(client, cloudwatch, target, result, seen, canary, watch, probes, outcome)
        if failure:
            return {**undo(client, target, result, outcome), "outcome": failure}
        exit_status = run_verification(verify_command, result) if verify_command else 0
    except (Cancelled, ClientError, BotoCoreError) as error:
        return interrupted(client, target, result, outcome, error)
    return verdict(client, target, result, outcome, canary, exit_status)


def alarms_to_watch(cloudwatch: Any, canary: Canary) -> Watch:
    """The canary's alarms and per-version metrics; an error if one already fires (before anything changes)."""
    alarms = [] if canary.all_at_once else resolve_alarms(cloudwatch, canary)
    metrics = per_version_metrics(cloudwatch, alarms) if alarms else []
    if metrics:
        watched = ", ".join(f"{metric.alarm} ({metric.metric})" for metric in metrics)
        log(f"canary: the per-version alarms {watched} must have data for the new version")
    if alarms and (already := firing(cloudwatch, alarms)):
        raise RolloutError(
            f"alarms already firing: {', '.join(already)}; a canary could not tell the new version's failures "
            "from the current ones (release with --all-at-once to ship a fix now)"
        )
    return Watch(alarms, metrics)


def release_outcome(result: RollResult, canary: Canary, watch: Watch) -> dict[str, str]:
    """The facts of a release just published, as "rejected" until a later phase says otherwise."""
    return {
        **roll_outcome(result),
        "status": "rejected",
        "live_version": result.previous_version,
        "canary_share": "100%" if canary.all_at_once else f"{canary.share:.0%}",
        "canary_minutes": "0" if canary.all_at_once else f"{canary.seconds / 60:g}",
        "alarms_watched": ",".join(watch.alarms),
    }


def check_before_traffic(build: Callable[[RollResult], Invoker], result: RollResult) -> tuple[list[RouteProbe], str]:
    """The pre-traffic check of the published version: (the probes it sent, "") or ([], why it failed)."""
    try:
        model_version, probes = pre_traffic_check(build(result))
    except (PreTrafficFailure, ClientError, BotoCoreError) as error:
        log(f"pre-traffic check of version {result.version} failed, the alias was not moved: {error}")
        return [], f"pre-traffic check failed: {error}"[:500]
    log(f"pre-traffic check passed: version {result.version} serves model {model_version}")
    return probes, ""


def shift_traffic(
    client: Any,
    cloudwatch: Any,
    target: Target,
    result: RollResult,
    seen: AliasState,
    canary: Canary,
    watch: Watch,
    probes: Sequence[RouteProbe],
    outcome: dict[str, str],
) -> str:
    """The canary's share under the alarms (unless all at once), then all of the traffic to the new version.

    Returns "" once the alias serves the new version alone, or why the canary failed (the alias still gives
    the new version its share: the caller moves it back). The canary's synthetic traffic and invocations are
    recorded in `outcome`, so that every later report carries them.
    """
    if not canary.all_at_once:
        seen = move_alias(client, target, seen, result.previous_version, (result.version, canary.share))
        since = datetime.now(UTC)
        log(f"canary: {canary.share:.0%} of {target.alias} to version {result.version} for {canary.seconds:g}s")
        with SyntheticTraffic(canary, probes) as traffic:
            failure, evidence = run_canary(cloudwatch, target, result, canary, watch.alarms, watch.metrics, since)
        outcome["synthetic_traffic"] = traffic.summary()
        outcome["canary_invocations"] = str(evidence.invocations) if evidence else ""
        log(f"canary: synthetic traffic {outcome['synthetic_traffic']}")
        if failure:
            log(f"{failure}: moving {target.alias} back to version {result.previous_version}")
            return f"{failure}; synthetic traffic: {outcome['synthetic_traffic']}"
    move_alias(client, target, seen, result.version)
    log(f"alias {target.alias} moved from version {result.previous_version} to {result.version}")
    return ""


def interrupted(
    client: Any,
    target: Target,
    result: RollResult,
    outcome: dict[str, str],
    error: Cancelled | ClientError | BotoCoreError,
) -> dict[str, str]:
    """A signal or a failed AWS call once the alias may have moved.

    A signal (raised, or wrapped in the error of the AWS call it interrupted) moves the alias back and is
    reported as a cancel. An update Lambda refused because someone else changed the alias leaves it as they
    set it. Any other failure moves the alias back, then raises.
    """
    signal_name = error if isinstance(error, Cancelled) else cancellation_inside(error)
    if signal_name is not None:
        log(f"{signal_name} received: moving {target.alias} back to version {result.previous_version}")
        return {**undo(client, target, result, outcome), "status": "cancelled", "outcome": f"cancelled ({signal_name})"}
    if isinstance(error, ClientError) and error.response.get("Error", {}).get("Code") == "PreconditionFailedException":
        # Our update was refused, so the alias is as the other party left it: overwriting it would undo them.
        raise RolloutError(
            f"alias {target.alias} was changed by someone else during the release; left as it is: {error}",
            alias_moved=True,
        ) from error
    log(f"AWS call failed after the alias moved: {error}; moving it back")
    undo(client, target, result, outcome)
    raise RolloutError(
        f"{error} (the alias was moved back to version {result.previous_version})", alias_moved=True
    ) from error


def verdict(
    client: Any, target: Target, result: RollResult, outcome: dict[str, str], canary: Canary, exit_status: int
) -> dict[str, str]:
    """The release's outcome once the new version has all of the traffic: live, or rolled back when the
    verification command failed."""
    if exit_status != 0:
        log(f"verification exited {exit_status}: rolling back to version {result.previous_version}")
        return {
            **undo(client, target, result, outcome),
            "verification_exit_status": str(exit_status),
            "outcome": f"verification exited {exit_status}",
        }
    passed = (
        "all at once"
        if canary.all_at_once
        else f"canary passed ({canary.share:.0%}, {outcome['canary_invocations']} invocations of version "
        f"{result.version})"
    )
    return {**outcome, "status": "live", "live_version": result.version, "outcome": passed}


def verify_in_place(
    invoke: Invoker, result: RollResult, outcome: dict[str, str], verify_command: Sequence[str]
) -> dict[str, str]:
    """The alias already serves the version just published: Lambda returned the existing version for an
    unchanged image. That is the very first release (Terraform created the function from this image and
    published it as version 1) or a re-run of a release. There is nothing to canary against and no distinct
    version to roll back to, so the version is checked where it stands, and a failure is reported as one
    without a rollback target rather than as a rollback of the version to itself."""
    log(f"the alias already serves version {result.version}: no canary, and no earlier version to roll back to")
    failed = {**outcome, "status": "failed-no-rollback-target", "live_version": result.version}
    advice = "fix forward (merge a fix, or retrain) or roll back by hand to a version you name"
    try:
        model_version, _ = pre_traffic_check(invoke)
    except (PreTrafficFailure, ClientError, BotoCoreError) as error:
        reason = f"pre-traffic check failed: {error}"
    else:
        log(f"pre-traffic check passed: version {result.version} serves model {model_version}")
        exit_status = run_verification(verify_command, result) if verify_command else 0
        if exit_status == 0:
            return {
                **outcome,
                "status": "live",
                "live_version": result.version,
                "outcome": "unchanged (verified in place)",
            }
        failed["verification_exit_status"] = str(exit_status)
        reason = f"verification exited {exit_status}"
    log(f"{reason}; version {result.version} stays live: there is no earlier version to roll back to")
    return {
        **failed,
        "outcome": f"{reason[:300]}; version {result.version} has no earlier version to roll back to: {advice}",
    }


def undo(client: Any, target: Target, result: RollResult, outcome: dict[str, str]) -> dict[str, str]:
    """All of the alias's traffic back to the previous version, whatever state the release left it in."""
    with uninterruptible():
        try:
            move_alias(client, target, alias_state(client, target), result.previous_version)
        except (ClientError, BotoCoreError, RolloutError) as error:
            raise RollbackError(f"moving {target.alias} back to {result.previous_version} failed: {error}") from error
    log(f"alias {target.alias} moved back to version {result.previous_version}")
    return {**outcome, "status": "rolled-back", "live_version": result.previous_version}


def roll_outcome(result: RollResult) -> dict[str, str]:
    return {
        **{key: str(value) for key, value in asdict(result).items()},
        "status": "live",
        "live_version": result.version,
    }


def current(client: Any, target: Target) -> dict[str, str]:
    version = alias_version(client, target)
    return {
        "function": target.function,
        "alias": target.alias,
        **version_details(client, target.function, version),
    }


def write_outputs(outputs: Mapping[str, str], path: str | None) -> None:
    """Append `key=value` lines for GitHub Actions (keys with dashes, the workflow convention)."""
    if not path:
        return
    with open(path, "a", encoding="utf-8") as github_output:
        for key, value in outputs.items():
            one_line = " ".join(str(value).split())  # a newline would end the value early
            github_output.write(f"{key.replace('_', '-')}={one_line}\n")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m lambda_release",
        description="Roll the Lambda function's alias to a new image, verify, roll back.",
    )
    commands = parser.add_subparsers(dest="command", required=True)

    def add(
        name: str, help_text: str, *, function: bool = True, alias: bool = True, timing: bool = False
    ) -> argparse.ArgumentParser:
        command = commands.add_parser(name, help=help_text, description=help_text)
        if function:
            command.add_argument("--function", required=True, help="Lambda function name")
        if alias:
            command.add_argument("--alias", default=DEFAULT_ALIAS, help="alias API Gateway invokes (default: live)")
        if timing:
            command.add_argument("--timeout", type=seconds, default=600.0, help="seconds to wait per update")
            command.add_argument("--poll-interval", type=seconds, default=5.0, help="seconds between status polls")
        command.add_argument(
            "--github-output",
            default=os.environ.get("GITHUB_OUTPUT"),
            help="file to append step outputs to (default: $GITHUB_OUTPUT)",
        )
        return command

    add("current", "Show the version and image the alias serves.")
    add("wait", "Wait until the function (or a version) has finished updating.", alias=False, timing=True).add_argument(
        "--qualifier", default=LATEST, help="version to wait for (default: $LATEST)"
    )
    add("roll", "Update the image, publish a version, move the alias.", timing=True).add_argument(
        "--image-uri", required=True, help="image to run, e.g. ACCOUNT.dkr.ecr.REGION.amazonaws.com/REPO:SHA"
    )
    rollback_command = add("rollback", "Move all of the alias's traffic back to a given or the replaced version.")
    rollback_command.add_argument(
        "--to-version", help="version to serve (default: mid-canary the primary, else the version the current replaced)"
    )
    rollback_command.add_argument(
        "--from-version", help="only if the alias still sends this version traffic (the release's cleanup step)"
    )
    deploy_command = add(
        "deploy", "Publish, check before traffic, canary, all traffic, verify; roll back on failure.", timing=True
    )
    deploy_command.add_argument("--image-uri", required=True, help="image to run")
    deploy_command.add_argument(
        "--canary-share",
        type=share_of_traffic,
        default=DEFAULT_CANARY_SHARE,
        help=f"share of the alias's traffic the new version gets first, 0 < share < 1 (default {DEFAULT_CANARY_SHARE})",
    )
    deploy_command.add_argument(
        "--canary-minutes",
        type=float,
        default=DEFAULT_CANARY_MINUTES,
        help=f"how long the canary runs before 100%% (default {DEFAULT_CANARY_MINUTES:g})",
    )
    deploy_command.add_argument(
        "--alarm", dest="alarms", action="append", default=[], help="CloudWatch alarm the canary watches (repeatable)"
    )
    deploy_command.add_argument("--alarm-prefix", default="", help="watch every alarm whose name starts with this")
    deploy_command.add_argument(
        "--alarm-poll-interval", type=float, default=15.0, help="seconds between alarm checks (default 15)"
    )
    deploy_command.add_argument(
        "--all-at-once", action="store_true", help="skip the canary: 100%% right after the pre-traffic check"
    )
    deploy_command.add_argument(
        "--min-canary-invocations",
        type=at_least(1),
        default=DEFAULT_MIN_CANARY_INVOCATIONS,
        help="invocations of the new version through the alias (CloudWatch's Invocations by ExecutedVersion) "
        f"without which the canary is inconclusive (default {DEFAULT_MIN_CANARY_INVOCATIONS})",
    )
    deploy_command.add_argument(
        "--canary-extensions",
        type=at_least(0),
        default=DEFAULT_CANARY_EXTENSIONS,
        help="times an inconclusive canary is extended by --canary-minutes before it is rolled back "
        f"(default {DEFAULT_CANARY_EXTENSIONS})",
    )
    deploy_command.add_argument(
        "--endpoint-url",
        type=http_url,
        default="",
        help="the API's URL: the canary sends the route probes there (with $API_KEY as x-api-key when set); "
        "without it the new version gets user traffic only",
    )
    deploy_command.add_argument(
        "--canary-requests-per-second",
        type=float,
        default=DEFAULT_CANARY_REQUESTS_PER_SECOND,
        help=f"rate of the synthetic traffic (default {DEFAULT_CANARY_REQUESTS_PER_SECOND:g}; 0 sends none)",
    )
    deploy_command.add_argument(
        "verify", nargs=argparse.REMAINDER, help="-- COMMAND ARGS... run once the new version has all the traffic"
    )
    add_alarm_check(
        add(
            "verify-alarms",
            "Synthetic traffic through the API, then every watched alarm must have data "
            "for the version and none may fire (staging's alarm-wiring check).",
        )
    )
    add_stage_checks(add)
    return parser


def add_alarm_check(command: argparse.ArgumentParser) -> None:
    command.add_argument("--version", default="", help="version to check (default: the one the alias serves)")
    command.add_argument(
        "--endpoint-url", type=http_url, required=True, help="the API's URL (with $API_KEY as x-api-key when set)"
    )
    command.add_argument("--alarm", dest="alarms", action="append", default=[], help="alarm to check (repeatable)")
    command.add_argument("--alarm-prefix", default="", help="check every alarm whose name starts with this")
    command.add_argument("--minutes", type=float, default=2.0, help="how long the synthetic traffic runs (default 2)")
    command.add_argument(
        "--settle-minutes",
        type=float,
        default=5.0,
        help="how long CloudWatch then gets to show the invocations (default 5; Lambda publishes late)",
    )
    command.add_argument(
        "--min-invocations",
        type=at_least(1),
        default=DEFAULT_MIN_CANARY_INVOCATIONS,
        help="invocations of the version through the alias it must have served "
        f"(default {DEFAULT_MIN_CANARY_INVOCATIONS})",
    )
    command.add_argument(
        "--requests-per-second",
        type=float,
        default=DEFAULT_CANARY_REQUESTS_PER_SECOND,
        help=f"rate of the synthetic traffic (default {DEFAULT_CANARY_REQUESTS_PER_SECOND:g})",
    )
    command.add_argument("--poll-interval", type=float, default=15.0, help="seconds between CloudWatch reads")


def add_stage_checks(add: Callable[..., argparse.ArgumentParser]) -> None:
    image_help = "the image by digest, REGISTRY/REPOSITORY@sha256:..."
    add(
        "mark-staged", "Tag the image's digest <tag>-staged: staging passed it.", function=False, alias=False
    ).add_argument("--image-uri", required=True, help=image_help)
    check_staged = add(
        "check-staged",
        "Refuse (exit 1) an image, or the image a function's alias serves, without a -staged tag.",
        function=False,
    )
    which = check_staged.add_mutually_exclusive_group(required=True)
    which.add_argument("--image-uri", help=image_help)
    which.add_argument("--function", help="Lambda function whose alias's image to check")
    newer_code = add(
        "check-newer-code",
        "Refuse (exit 1) when the alias's live image holds code that --commit does not contain.",
    )
    newer_code.add_argument("--commit", required=True, help="this run's commit (GITHUB_SHA), in the checkout")
    newer_code.add_argument(
        "--allow-older-code", action="store_true", help="report a refusal and go on (a deliberate code rollback)"
    )


def share_of_traffic(text: str) -> float:
    share = float(text)
    if not 0 < share < 1:
        raise argparse.ArgumentTypeError(f"{text} is not strictly between 0 and 1 (use --all-at-once for 100%)")
    return share


def seconds(text: str) -> float:
    """A finite duration above 0 (a poll interval of 0 would ask Lambda in a busy loop)."""
    duration = float(text)
    if not 0 < duration < math.inf:
        raise argparse.ArgumentTypeError(f"{text} is not a number of seconds above 0")
    return duration


def at_least(minimum: int) -> Callable[[str], int]:
    def whole_number(text: str) -> int:
        number = int(text)
        if number < minimum:
            raise argparse.ArgumentTypeError(f"{text} is less than {minimum}")
        return number

    return whole_number


def http_url(text: str) -> str:
    """An http(s) URL, or empty for none."""
    if text and not text.startswith(("https://", "http://")):
        raise argparse.ArgumentTypeError(f"{text!r} is not an http(s) URL")
    return text


def canary_settings(arguments: argparse.Namespace) -> Canary:
    return Canary(
        share=arguments.canary_share,
        seconds=arguments.canary_minutes * 60,
        alarm_names=tuple(arguments.alarms),
        alarm_prefix=arguments.alarm_prefix,
        poll_interval=arguments.alarm_poll_interval,
        all_at_once=arguments.all_at_once,
        min_invocations=arguments.min_canary_invocations,
        extensions=arguments.canary_extensions,
        endpoint_url=arguments.endpoint_url,
        # From the environment, never the command line, where `ps` and the job's log would show it.
        api_key=os.environ.get("API_KEY", ""),
        requests_per_second=arguments.canary_requests_per_second,
    )


def verification_command(arguments: argparse.Namespace) -> list[str]:
    command = list(arguments.verify)
    return command[1:] if command[:1] == ["--"] else command


def alarm_check_settings(arguments: argparse.Namespace) -> tuple[Canary, AlarmCheck]:
    canary = Canary(
        alarm_names=tuple(arguments.alarms),
        alarm_prefix=arguments.alarm_prefix,
        poll_interval=arguments.poll_interval,
        min_invocations=arguments.min_invocations,
        endpoint_url=arguments.endpoint_url,
        api_key=os.environ.get("API_KEY", ""),  # from the environment, as the canary's
        requests_per_second=arguments.requests_per_second,
    )
    return canary, AlarmCheck(arguments.minutes * 60, arguments.settle_minutes * 60)


def stage_check(arguments: argparse.Namespace, client: Any, ecr: Any) -> dict[str, str]:
    """mark-staged, check-staged, check-newer-code: the facts they print."""
    if arguments.command == "mark-staged":
        return staged.mark_staged(ecr, staged.Image.parse(arguments.image_uri))
    if arguments.command == "check-staged" and arguments.image_uri:
        return staged.check_staged(ecr, staged.Image.parse(arguments.image_uri))
    live = current(client, Target(arguments.function, arguments.alias))
    if arguments.command == "check-staged":
        return {"function": arguments.function, **staged.check_staged(ecr, staged.served_image(live))}
    return staged.check_newer_code(ecr, live, arguments.commit, arguments.allow_older_code)


def run_command(arguments: argparse.Namespace, client: Any) -> dict[str, str]:
    """Run one subcommand and return the facts it prints."""
    if arguments.command in STAGE_CHECKS:
        return stage_check(arguments, client, ecr_client())
    target = Target(arguments.function, getattr(arguments, "alias", DEFAULT_ALIAS))
    timing = Timing(getattr(arguments, "timeout", 600.0), getattr(arguments, "poll_interval", 5.0))
    if arguments.command == "verify-alarms":
        canary, check = alarm_check_settings(arguments)
        return verify_alarms(client, cloudwatch_client(), target, arguments.version, canary, check)
    if arguments.command == "current":
        return current(client, target)
    if arguments.command == "wait":
        wait_until_ready(client, target.function, arguments.qualifier, timing)
        # Ready means State Active: the waiters return only then.
        return {"function": target.function, "qualifier": arguments.qualifier, "state": "Active"}
    if arguments.command == "roll":
        return roll_outcome(roll(client, target, arguments.image_uri, timing))
    if arguments.command == "rollback":
        return rollback(client, target, arguments.to_version, arguments.from_version)
    return deploy(
        client,
        cloudwatch_client(),
        target,
        arguments.image_uri,
        verification_command(arguments),
        timing,
        canary_settings(arguments),
        published=lambda versions: write_outputs(versions, arguments.github_output),
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    arguments = parser.parse_args(argv)
    if arguments.command == "deploy" and not arguments.all_at_once and not (arguments.alarms or arguments.alarm_prefix):
        parser.error("a canary needs alarms to watch: --alarm NAME or --alarm-prefix PREFIX (or --all-at-once)")
    if arguments.command == "verify-alarms" and not (arguments.alarms or arguments.alarm_prefix):
        parser.error("the alarm check needs alarms: --alarm NAME or --alarm-prefix PREFIX")
    if arguments.command == "verify-alarms" and arguments.requests_per_second <= 0:
        parser.error("--requests-per-second must be above 0: the check is about traffic the alarms must see")
    exit_codes = {
        "failed": EXIT_VERIFICATION_FAILED,
        "rolled-back": EXIT_VERIFICATION_FAILED,
        "rejected": EXIT_VERIFICATION_FAILED,
        "failed-no-rollback-target": EXIT_VERIFICATION_FAILED,
        "cancelled": EXIT_CANCELLED,
    }
    try:
        with cancellable():
            outcome = run_command(arguments, lambda_client())
        exit_code = exit_codes.get(outcome.get("status", ""), EXIT_OK)
    except Cancelled as signal_name:
        log(f"{signal_name} received before the alias moved: nothing to undo")
        outcome, exit_code = {"status": "cancelled", "error": f"cancelled ({signal_name})"}, EXIT_CANCELLED
    except staged.StageCheckRefused as error:
        log(f"refused: {error}")
        outcome, exit_code = {"status": "refused", "error": str(error)}, EXIT_VERIFICATION_FAILED
    except staged.StageCheckError as error:
        log(f"error: {error}")
        outcome, exit_code = {"status": "failed", "error": str(error)}, EXIT_USAGE
    except RollbackError as error:
        log(f"error: {error}")
        outcome, exit_code = {"status": "rollback-failed", "error": str(error)}, error.exit_code
    except RolloutError as error:
        log(f"error: {error}" if error.alias_moved else f"error: {error} (alias not moved)")
        outcome, exit_code = {"status": "failed", "error": str(error)}, error.exit_code
    except (ClientError, BotoCoreError) as error:
        log(f"error: AWS call failed, alias not moved: {error}")
        outcome, exit_code = {"status": "failed", "error": str(error)}, EXIT_AWS_FAILED
    print(json.dumps(outcome, sort_keys=True))
    write_outputs(outcome, arguments.github_output)
    return exit_code
