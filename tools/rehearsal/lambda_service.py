"""What moto cannot do for the rehearsal: run an image function. Images are the serving stage assembled
without Docker (rehearsal.image), registered in moto's ECR by a manifest whose digest stands for them;
Lambda Invoke on any version or alias runs the handler of the image that version was published with, with
the version's environment variables.

Invoke goes through rehearsal.proxy in front of moto: every other request reaches moto unchanged. Each
invocation is counted as Lambda publishes it to CloudWatch (Invocations, Errors, Duration, by version behind
an alias too), which moto does not: rehearsal.emf_metrics answers GetMetricData from those counts.
"""

from __future__ import annotations

import hashlib
import json
import random
import re
import select
import subprocess
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO
from urllib.parse import parse_qs, unquote, urlsplit

from rehearsal.emf_metrics import Datapoint
from rehearsal.image import TaskRoot
from rehearsal.proxy import ProxiedRequest, Reply

LAYER_MEDIA_TYPE = "application/vnd.docker.image.rootfs.diff.tar.gzip"
# Lambda's init phase (importing the handler, loading the model) may take this long on top of the timeout.
INIT_SECONDS = 10.0
INVOKE_PATH = re.compile(r"^/2015-03-31/functions/(?P<function>[^/]+)/invocations$")
# A warm container, as Lambda keeps one: the handler is imported once, then answers one event per line.
# Its stdout is the handler's log (as in Lambda); the answers go back on a copy of the original stdout.
RUNTIME_LOOP = r"""
import importlib, json, os, sys, traceback
answers = os.fdopen(os.dup(1), "w")
os.dup2(2, 1)

class Context:
    def __init__(self, request):
        self.aws_request_id = request["request_id"]
        self.function_name = request["function_name"]
        self.function_version = request["version"]
        self.invoked_function_arn = request["invoked_arn"]
        self.memory_limit_in_mb = request["memory"]
        self._deadline = request["deadline"]
    def get_remaining_time_in_millis(self):
        import time
        return max(0, int((self._deadline - time.time()) * 1000))

def failure(error, error_type):
    return {"errorMessage": str(error), "errorType": error_type,
            "stackTrace": traceback.format_exc().splitlines()}

module_name, _, function_name = sys.argv[1].rpartition(".")
try:
    handler, init_error = getattr(importlib.import_module(module_name), function_name), None
except Exception as error:
    handler, init_error = None, failure(error, "Runtime.ImportModuleError")
for line in sys.stdin:
    request = json.loads(line)
    if init_error:
        answer = {"error": init_error}
    else:
        try:
            answer = {"payload": handler(request["event"], Context(request))}
        except Exception as error:
            answer = {"error": failure(error, type(error).__name__)}
    answers.write(json.dumps(answer) + "\n")
    answers.flush()
"""


class ImageNotBuilt(LookupError):
    """The function runs an image this rehearsal did not build: there is nothing to run."""


@dataclass
class Container:
    """One warm execution environment of one function version."""

    task_root: TaskRoot
    log_path: Path
    # The version's configured environment variables (METRICS_NAMESPACE, MODEL_URI), over the image's ENV.
    environment: dict[str, str] = field(default_factory=dict)
    process: subprocess.Popen | None = None
    log: BinaryIO | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)

    def invoke(self, request: dict[str, Any]) -> dict[str, Any]:
        """One event; like Lambda, an answer later than the function's timeout (plus the init phase's
        10 s for a new container) is a timeout, and the environment is thrown away."""
        with self.lock:  # a container handles one event at a time, as in Lambda
            timeout = request["timeout"]
            if self.process is None or self.process.poll() is not None:
                self.start()
                timeout += INIT_SECONDS
            stdin, stdout = self.process.stdin, self.process.stdout  # type: ignore[union-attr]
            if stdin is None or stdout is None:
                raise RuntimeError("the runtime has no pipes")
            stdin.write(json.dumps(request) + "\n")
            stdin.flush()
            ready, _, _ = select.select([stdout], [], [], timeout)
            if not ready:
                self.stop()
                message = f"Task timed out after {request['timeout']:.2f} seconds"
                return {"error": {"errorMessage": message, "errorType": "Sandbox.Timedout"}}
            line = stdout.readline()
        if not line:
            return {"error": {"errorMessage": "the runtime exited", "errorType": "Runtime.ExitError"}}
        return json.loads(line)

    def start(self) -> None:
        command, env = self.task_root.command(RUNTIME_LOOP, self.environment)
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        self.log = self.log_path.open("ab")
        self.process = subprocess.Popen(
            [*command, self.task_root.handler], env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            stderr=self.log, text=True,
        )  # fmt: skip

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)
        if self.log is not None:
            self.log.close()
            self.log = None


def manifest(layer_digest: str, layer_size: int, config: bytes) -> str:
    """A single-platform image manifest. moto's ECR keeps manifests, not layers, and derives an image's
    digest from its layer digests: images with different layers get different digests."""
    return json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
            "config": {
                "mediaType": "application/vnd.docker.container.image.v1+json",
                "size": len(config),
                "digest": f"sha256:{hashlib.sha256(config).hexdigest()}",
            },
            "layers": [
                {
                    "mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip",
                    "size": layer_size,
                    "digest": layer_digest,
                }
            ],
        }
    )


def image_manifest(task_root: TaskRoot, created: str) -> str:
    """The manifest standing for an assembled image: one layer for the task root's content and the build
    time. Like a real build (whose image config records when it was built), every build gets a digest of
    its own."""
    content, size = hashlib.sha256(), 0
    for path in sorted(task_root.path.rglob("*")):
        if path.is_file():
            data = path.read_bytes()
            content.update(str(path.relative_to(task_root.path)).encode())
            content.update(hashlib.sha256(data).digest())
            size += len(data)
    config = json.dumps({"created": created, "config": {"Cmd": [task_root.handler]}}).encode()
    layer = hashlib.sha256(f"{content.hexdigest()} {created}".encode()).hexdigest()
    return manifest(f"sha256:{layer}", size, config)


@dataclass
class LambdaService:
    """Answers Lambda Invoke for the images pushed through `push`; `lambda_client` and `ecr_client` talk to
    moto directly (never through the proxy this serves)."""

    lambda_client: Any
    ecr_client: Any
    log_dir: Path
    images: dict[str, TaskRoot] = field(default_factory=dict)  # digest -> the image's file system
    containers: dict[tuple[str, str], Container] = field(default_factory=dict)  # (function, version)
    datapoints: list[Datapoint] = field(default_factory=list)  # Lambda's own metrics of every invocation
    lock: threading.Lock = field(default_factory=threading.Lock)

    def push(self, repository: str, tag: str, task_root: TaskRoot) -> str:
        """Register `task_root` as repository:tag in moto's ECR; returns the image digest."""
        created = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()) + f".{time.time_ns()}"
        response = self.ecr_client.put_image(
            repositoryName=repository, imageManifest=image_manifest(task_root, created), imageTag=tag
        )
        digest = response["image"]["imageId"]["imageDigest"]
        self.images[digest] = task_root
        return digest

    def handle(self, request: ProxiedRequest, ask_moto: Any) -> Reply:
        match = INVOKE_PATH.match(request.path)
        if request.method != "POST" or not match:
            return ask_moto()
        function, qualifier = split_qualifier(
            unquote(match["function"]), parse_qs(urlsplit(request.target).query).get("Qualifier", [""])[0]
        )
        started = time.monotonic()
        try:
            answer, version = self.invoke(function, qualifier, json.loads(request.body or b"{}"))
        except self.lambda_client.exceptions.ResourceNotFoundException as error:
            return Reply(404, {"Content-Type": "application/json"}, json.dumps(error.response["Error"]).encode())
        except ImageNotBuilt as error:
            body = {"Type": "User", "message": str(error)}
            return Reply(502, {"X-Amzn-ErrorType": "InvalidImageException", "Content-Type": "application/json"},
                         json.dumps(body).encode())  # fmt: skip
        self.count(function, qualifier, version, "error" in answer, (time.monotonic() - started) * 1000)
        headers = {"Content-Type": "application/json", "X-Amz-Executed-Version": version}
        if "error" in answer:
            headers["X-Amz-Function-Error"] = "Unhandled"
            return Reply(200, headers, json.dumps(answer["error"]).encode())
        return Reply(200, headers, json.dumps(answer["payload"]).encode())

    def invoke(self, function: str, qualifier: str, event: Any) -> tuple[dict[str, Any], str]:
        version = self.version_for(function, qualifier)
        configuration = self.lambda_client.get_function(FunctionName=function, Qualifier=version)["Configuration"]
        name = configuration["FunctionName"]
        digest = f"sha256:{configuration['CodeSha256']}"
        if digest not in self.images:
            raise ImageNotBuilt(f"{name}:{version} runs image {digest}, which this rehearsal did not build")
        key = (name, version)
        request = {
            "event": event,
            "request_id": str(uuid.uuid4()),
            "function_name": name,
            "version": version,
            "invoked_arn": configuration["FunctionArn"] + (f":{qualifier}" if qualifier else ""),
            "memory": configuration.get("MemorySize", 128),
            "timeout": configuration.get("Timeout", 3),
            "deadline": time.time() + configuration.get("Timeout", 3),
        }
        with self.lock:
            if key not in self.containers:
                # A version's configuration is immutable, so its container keeps the variables it started with.
                environment = (configuration.get("Environment") or {}).get("Variables") or {}
                self.containers[key] = Container(
                    self.images[digest], self.log_dir / f"{name}-{version}.log", dict(environment)
                )
            container = self.containers[key]
        return container.invoke(request), version

    def count(self, function: str, qualifier: str, version: str, failed: bool, milliseconds: float) -> None:
        """The metrics Lambda publishes for one invocation: Invocations, Errors and Duration, by function, by
        function and qualifier (Resource), and through an alias also by the version that ran (ExecutedVersion),
        which the canary's per-version alarms and its evidence read."""
        name = function.rsplit(":", 1)[-1] if function.startswith("arn:") else function
        dimension_sets = [{"FunctionName": name}]
        if qualifier:
            dimension_sets.append({"FunctionName": name, "Resource": f"{name}:{qualifier}"})
        if qualifier and qualifier != "$LATEST" and not qualifier.isdigit():
            dimension_sets.append({"FunctionName": name, "Resource": f"{name}:{qualifier}", "ExecutedVersion": version})
        values = {"Invocations": 1.0, "Errors": float(failed), "Duration": milliseconds}
        now = time.time()
        points = [
            Datapoint("AWS/Lambda", metric, frozenset(dimensions.items()), now, value)
            for dimensions in dimension_sets
            for metric, value in values.items()
        ]
        with self.lock:
            self.datapoints += points

    def lambda_metrics(self) -> list[Datapoint]:
        with self.lock:
            return list(self.datapoints)

    def version_for(self, function: str, qualifier: str) -> str:
        """The version an Invoke runs: a number as given, $LATEST, or an alias's, weighted as Lambda routes."""
        if not qualifier or qualifier == "$LATEST" or qualifier.isdigit():
            return qualifier or "$LATEST"
        return weighted_version(self.lambda_client.get_alias(FunctionName=function, Name=qualifier))

    def stop(self) -> None:
        for container in self.containers.values():
            container.stop()


def weighted_version(alias: dict[str, Any]) -> str:
    """The version one request through `alias` (a GetAlias answer) runs, drawn by its routing weights."""
    weights = (alias.get("RoutingConfig") or {}).get("AdditionalVersionWeights") or {}
    draw, cumulative = random.random(), 0.0  # noqa: S311 (traffic shifting, not cryptography)
    for version, weight in weights.items():
        cumulative += weight
        if draw < cumulative:
            return version
    return alias["FunctionVersion"]


def split_qualifier(function: str, qualifier: str) -> tuple[str, str]:
    """Invoke's FunctionName may carry the qualifier (name:alias, or a qualified ARN)."""
    if function.startswith("arn:"):
        parts = function.split(":")
        if len(parts) == 8:
            return ":".join(parts[:7]), qualifier or parts[7]
        return function, qualifier
    name, _, suffix = function.partition(":")
    return name, qualifier or suffix
