"""What the stages look at once a run ended, read from the moto account directly (not through the audited
proxy): aliases, the promoted model, a stage's footprint (so "production did not change" is a comparison,
not a claim), the tags on an image's digest, and what a run's jobs said."""

from __future__ import annotations

import json
import subprocess
from dataclasses import dataclass
from typing import Any

from rehearsal.job import Job
from rehearsal.machine import Machine, StageFailed
from rehearsal.steps import REPO_ROOT
from rehearsal.workflow import WorkflowRun

ALIAS = "live"
RELEASE_WORKFLOW = "_release.yml"
ROLLOUT_OUTPUTS = "steps.rollout.outputs."


@dataclass(frozen=True)
class Footprint:
    """A stage's stack as AWS and the state bucket hold it. Two equal footprints mean nothing was released,
    applied or rolled back in between: an apply rewrites the state object (a new S3 version), a release
    publishes a version or moves the alias, an API change makes a deployment."""

    alias: tuple[str, tuple[tuple[str, float], ...]]  # version, additional weights
    versions: tuple[str, ...]  # published versions
    code: tuple[str, str]  # $LATEST's CodeSha256 and LastModified
    api: tuple[tuple[str, ...], str]  # the API's deployment ids, and the stage's current deployment
    state_object: tuple[str, str]  # the Terraform state object's VersionId and ETag

    def changes(self, later: Footprint) -> list[str]:
        """What differs in `later`, named field by field ("alias: ('2', ()) -> ('3', ...)")."""
        return [
            f"{name}: {getattr(self, name)} -> {getattr(later, name)}"
            for name in self.__dataclass_fields__
            if getattr(self, name) != getattr(later, name)
        ]


@dataclass
class Checks:
    machine: Machine
    model_bucket: str
    state_bucket: str

    def client(self, service: str) -> Any:
        return self.machine.client(service)

    def alias(self, function: str) -> tuple[str, dict[str, float]]:
        alias = self.client("lambda").get_alias(FunctionName=function, Name=ALIAS)
        return alias["FunctionVersion"], (alias.get("RoutingConfig") or {}).get("AdditionalVersionWeights") or {}

    def promoted(self) -> str:
        """The store's current version (`*` in `lambda_model versions`), empty when none."""
        listing = subprocess.run(
            [
                str(REPO_ROOT / ".venv" / "bin" / "python"),
                "-m",
                "lambda_model",
                "versions",
                "--store",
                f"s3://{self.model_bucket}/models",
            ],
            env=self.machine.admin_env(),
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        current = [line.split()[1] for line in listing.splitlines() if line.startswith("*")]
        return current[0] if current else ""

    def served_image(self, function: str) -> str:
        """The image (repository@digest) the alias's version runs."""
        version, _ = self.alias(function)
        code = self.client("lambda").get_function(FunctionName=function, Qualifier=version)["Code"]
        # ImageUri as the release set it (moto's ResolvedImageUri appends a second digest to a digest URI).
        return code["ImageUri"]

    def image_details(self, image_uri: str) -> dict[str, Any]:
        """The registry's description of an image named repository@sha256:... or repository:tag."""
        if "@" in image_uri:
            repository_url, _, digest = image_uri.partition("@")
            image_id = {"imageDigest": digest}
        else:
            repository_url, _, tag = image_uri.rpartition(":")
            image_id = {"imageTag": tag}
        ecr = self.client("ecr")
        try:
            details = ecr.describe_images(repositoryName=repository_url.split("/", 1)[1], imageIds=[image_id])
        except ecr.exceptions.ImageNotFoundException:
            raise StageFailed(f"the registry holds no image named {image_uri}") from None
        if len(details["imageDetails"]) != 1:
            raise StageFailed(f"the registry holds {len(details['imageDetails'])} images named {image_uri}")
        return details["imageDetails"][0]

    def digest(self, image_uri: str) -> str:
        return self.image_details(image_uri)["imageDigest"]

    def image_tags(self, image_uri: str) -> list[str]:
        """The tags on an image's digest in the registry."""
        return sorted(self.image_details(image_uri).get("imageTags", []))

    def footprint(self, stack_name: str, state_key: str) -> Footprint:
        lambda_ = self.client("lambda")
        version, weights = self.alias(stack_name)
        versions = lambda_.list_versions_by_function(FunctionName=stack_name)["Versions"]
        latest = lambda_.get_function_configuration(FunctionName=stack_name)
        apigateway = self.client("apigateway")
        api_ids = [api["id"] for api in apigateway.get_rest_apis()["items"] if api["name"] == stack_name]
        if len(api_ids) != 1:
            raise StageFailed(f"{len(api_ids)} REST APIs are named {stack_name}")
        deployments = tuple(sorted(item["id"] for item in apigateway.get_deployments(restApiId=api_ids[0])["items"]))
        stages = apigateway.get_stages(restApiId=api_ids[0])["item"]
        state = self.client("s3").head_object(Bucket=self.state_bucket, Key=state_key)
        return Footprint(
            alias=(version, tuple(sorted(weights.items()))),
            versions=tuple(item["Version"] for item in versions),
            code=(latest["CodeSha256"], latest["LastModified"]),
            api=(deployments, ",".join(sorted(stage["deploymentId"] for stage in stages))),
            state_object=(state.get("VersionId", ""), state["ETag"]),
        )


def release_job(run: WorkflowRun, environment: str) -> Job:
    """The one _release.yml job of `run` that ran in GitHub environment `environment`."""
    matches = [job for job in run.jobs() if job.workflow == RELEASE_WORKFLOW and job.environment == environment]
    if len(matches) != 1:
        raise StageFailed(f"{run.workflow}: {len(matches)} release jobs ran in environment {environment}\n{run.log()}")
    return matches[0]


def jobs_in(run: WorkflowRun, environment: str) -> list[Job]:
    """The jobs of `run` that ran in GitHub environment `environment`."""
    return [job for job in run.jobs() if job.environment == environment]


def rollout_outputs(job: Job) -> dict[str, str]:
    """The release's rollout step outputs (status, version, outcome, canary-invocations, ...)."""
    return {key.removeprefix(ROLLOUT_OUTPUTS): value for key, value in job.context.items()
            if key.startswith(ROLLOUT_OUTPUTS)}  # fmt: skip


def failed_steps(job: Job) -> list[str]:
    return [record.name for record in job.records if record.outcome == "failure"]


def report_in_summary(job: Job, folder: Any, log: str, charts: bool = True) -> str:
    """The job's summary holds the report's tables and links the page and every picture in `folder`, which
    the upload steps kept (the rehearsal's artifact-url is the file's own); `charts`: and its Mermaid charts
    (the monitor's summary is its own tables). Returns what it lists."""
    summary = job.summary()
    pictures = sorted(path.name for path in folder.glob("*.png"))
    page = (folder / "report.html").as_uri()
    missing = [name for name in pictures if f"`{name}`" not in summary]
    if not pictures or missing or f"[the report page]({page})" not in summary or (charts and "xychart" not in summary):
        raise StageFailed(f"the summary does not link the report ({pictures}, missing {missing})\n{summary}\n{log}")
    return f"summary links report.html and {', '.join(pictures)}"


def parse_stages(text: str) -> dict[str, dict[str, str]]:
    """vars.STAGES (the bootstrap's JSON: stage -> plan_role_arn, state_key, stack_environment)."""
    try:
        stages = json.loads(text)
    except json.JSONDecodeError as error:
        raise StageFailed(f"the STAGES variable is not JSON ({error}): {text[:200]!r}") from None
    if not isinstance(stages, dict) or not all(isinstance(value, dict) for value in stages.values()):
        raise StageFailed(f"the STAGES variable is not an object of objects: {text[:200]!r}")
    return stages
