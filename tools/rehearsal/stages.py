"""The documented life of the repository, stage by stage, against one moto server (docs/deploy.md).

Each stage runs whole workflows (rehearsal.workflow) from their YAML. What has no local equivalent is
replaced, and every replacement says what it does in the job's log:
- checkout and setup: the workspace (a copy of this checkout) and `make setup`'s virtualenvs;
- configure-aws-credentials: assume-role-with-web-identity with the OIDC subject the job would present,
  checked against the role's trust policy first (moto checks none);
- Docker: the build's serving stage is assembled without Docker (rehearsal.image) and pushed to moto's ECR
  as a manifest; Lambda runs the handler from that assembled stage (rehearsal.lambda_service), as the PR
  smoke test does;
- API Gateway: the stage is served on 127.0.0.1 from the API moto keeps (rehearsal.gateway), and the live
  tests are pointed there;
- CloudWatch's metric extraction from EMF and GetMetricData's statistics: answered from the lines the handler
  wrote by rehearsal.emf_metrics, which says so in the monitor job's log;
- Lambda's own metrics (Invocations, Errors, Duration by ExecutedVersion), which the canary reads: counted per
  invocation by the Lambda stand-in and answered by the same stand-in, which says so in the release job's log.
After each stage, the AWS calls its jobs made are judged against the policies of the role that made them
(rehearsal.permissions): moto enforces no IAM, so this is where a missing permission shows.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import traceback
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from lambda_model.registry.artifact import baseline_of, signature_of
from lambda_model.registry.s3_store import S3Store
from lambda_model.registry.store import NO_POINTER
from lambda_model.training.data import load_dataset
from rehearsal import emf_metrics, gateway, image
from rehearsal.job import Job, oidc_subject, unsigned_token
from rehearsal.lambda_service import LambdaService
from rehearsal.permissions import RoleAudit
from rehearsal.proxy import ProxiedRequest, Reply, proxy_to
from rehearsal.servers import local_client
from rehearsal.steps import REPO_ROOT, workflow_data
from rehearsal.terraform import cli_config, find_mirror, plugin_cache_dir, provider_override, s3_backend_override
from rehearsal.token_permissions import MissingGrant, require
from rehearsal.workflow import WorkflowRun, play_workflow

REGION = "eu-central-1"
ACCOUNT = "123456789012"  # moto's
# A repository created after 2026-07-15: its tokens carry the immutable subject (owner@ID/name@ID).
GITHUB_REPOSITORY = "octo-org/lambda-model"
GITHUB_OWNER_ID = "1001"
GITHUB_REPOSITORY_ID = "2002"
REPOSITORY_SUBJECT = f"repo:octo-org@{GITHUB_OWNER_ID}/lambda-model@{GITHUB_REPOSITORY_ID}"
# Not the defaults, so that a workflow that forgets to pass them misses the bootstrap's roles.
NAME_PREFIX = "rehearsal"
ENVIRONMENT = "live"
# Leaves larger than the data set: trees that never split, one class for every flower. The gate must refuse it.
WEAK_PARAMETERS = "min_samples_leaf=1000"
GATE_STEP = "Gate against production on the same hold-out"
ROLLOUT_STEP = "Check the new version before traffic, canary it under the alarms, roll back on failure"
# The release's canary is 10 minutes by default; the rehearsal's lasts 6 seconds (one alarm check either side).
# To see the new version in so short a window it gets half the traffic, and the synthetic traffic is faster:
# ~10 requests a second through the API Gateway stand-in give it ~30 invocations, 5 required.
RELEASE_INPUTS = {
    "canary-minutes": "0.1",
    "canary-share": "0.5",
    "canary-requests-per-second": "10",
    "min-canary-invocations": "5",
}
# deploy.yml's checks job is `make lint` + `make test`, which CI runs on this very commit.
NOT_PLAYED = {"checks": "make lint and make test, which CI runs itself"}
# A merge that breaks the stage root (where the seed's curl posts) but not /predict or /health. The
# pre-traffic check calls every route of the route table, so it stops the version before any traffic moves.
BROKEN_ROOT_ROUTE = """

# Injected by the rehearsal's "failing release" stage.
_released_handler = handler


def handler(event, context):
    if event.get("path") == "/":
        raise RuntimeError("a merge that broke the stage root")
    return _released_handler(event, context)
"""
HANDLER_SOURCE = Path("app/lambda_model/serving/handler.py")
MONITOR_STEP = "Judge the served model's drift from its metrics"
# Traffic per monitor run: above the monitor's 500-record minimum, in full batches (the API's limit is 100).
MONITOR_RECORDS, MONITOR_BATCH = 600, 100
# The shifted traffic moves the signature's first feature by this many training standard deviations: with the
# unshifted records still in the window, the measured PSI is ~0.7 for any iris feature (drift from 0.25).
MONITOR_SHIFT_STDS = 2.0
# What the workflows run from the checkout besides app/ and terraform/ (copied: the build writes app/model).
CHECKOUT_LINKS = (".venv", ".github", "tests", "tools", "pyproject.toml", "Makefile", "requirements")


class StageFailed(AssertionError):
    pass


@dataclass
class Outcome:
    stage: str
    status: str  # ok, FAILED, not rehearsed
    detail: str
    log: str = ""


@dataclass
class Rehearsal:
    """One empty moto account, one checkout copy, and what each stage leaves for the next."""

    endpoint: str  # what the workflows call: the proxy in front of moto
    moto_endpoint: str
    workspace: Path
    service: LambdaService
    audit: RoleAudit
    metrics: emf_metrics.EmfMetrics
    scopes: dict[str, dict[str, str]] = field(default_factory=dict)  # GitHub variables by scope
    commits: int = 0
    run_number: int = 0
    gateways: contextlib.ExitStack = field(default_factory=contextlib.ExitStack)
    api: tuple[gateway.Api, str] | None = None  # the last release's API and the URL serving it

    # -- the machine ------------------------------------------------------------------------------
    @classmethod
    @contextlib.contextmanager
    def running(cls, moto_endpoint: str, workspace: Path) -> Iterator[Rehearsal]:
        workspace = workspace.resolve()  # terraform and the jobs run with other working directories
        if workspace.exists():
            shutil.rmtree(workspace)
        workspace.mkdir(parents=True)
        for name in CHECKOUT_LINKS:
            (workspace / name).symlink_to(REPO_ROOT / name)
        shutil.copytree(REPO_ROOT / "app", workspace / "app", ignore=shutil.ignore_patterns("model", "__pycache__"))
        shutil.copytree(
            REPO_ROOT / "terraform",
            workspace / "terraform",
            ignore=shutil.ignore_patterns(".terraform", "*.tfstate*", "*_override.tf", "*.tfplan", "tests"),
        )
        service = LambdaService(
            local_client(moto_endpoint, "lambda"), local_client(moto_endpoint, "ecr"), workspace / "containers"
        )
        audit = RoleAudit(local_client(moto_endpoint, "iam"), ACCOUNT, endpoint="")
        metrics = emf_metrics.EmfMetrics(
            emf_metrics.log_lines(workspace / "containers"), lambda_metrics=service.lambda_metrics
        )

        def handle(request: ProxiedRequest, ask_moto: Callable[[], Reply]) -> Reply:
            audit.record(request)
            return metrics.handle(request, lambda: service.handle(request, ask_moto))

        with proxy_to(moto_endpoint, handle) as endpoint:
            audit.endpoint = endpoint
            (workspace / "terraform" / "moto_override.tf").write_text(
                s3_backend_override(endpoint) + provider_override(endpoint, static_credentials=False)
            )
            (workspace / "terraform" / "bootstrap" / "moto_override.tf").write_text(provider_override(endpoint))
            (workspace / "terraformrc").write_text(cli_config(find_mirror(), plugin_cache_dir()))
            rehearsal = cls(endpoint, moto_endpoint, workspace, service, audit, metrics)
            try:
                with rehearsal.gateways:
                    yield rehearsal
            finally:
                service.stop()

    @property
    def sha(self) -> str:
        return f"{self.commits:040x}"

    def runner_env(self) -> dict[str, str]:
        """A fresh runner: no credentials or TF_ variables of the caller, AWS calls sent to moto."""
        keep = ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR", "USER", "SSL_CERT_FILE", "XDG_CACHE_HOME")
        env = {name: os.environ[name] for name in keep if name in os.environ}
        env["PATH"] = f"{REPO_ROOT / '.venv' / 'bin'}:{env.get('PATH', '/usr/bin:/bin')}"
        env.update(
            AWS_ENDPOINT_URL=self.endpoint,
            TF_CLI_CONFIG_FILE=str(self.workspace / "terraformrc"),
            TF_IN_AUTOMATION="1",
            TF_INPUT="0",
            CHECKPOINT_DISABLE="1",
            GITHUB_ACTIONS="true",
            GITHUB_SHA=self.sha,
            GITHUB_REF="refs/heads/main",
            GITHUB_REPOSITORY=GITHUB_REPOSITORY,
            GITHUB_RUN_ID=str(1000 + self.run_number),
        )
        return env

    def admin_env(self) -> dict[str, str]:
        return {
            **self.runner_env(),
            "AWS_ACCESS_KEY_ID": "admin",
            "AWS_SECRET_ACCESS_KEY": "admin",
            "AWS_REGION": REGION,
            "AWS_DEFAULT_REGION": REGION,
        }

    def client(self, service: str) -> Any:
        return local_client(self.moto_endpoint, service)

    @property
    def variables(self) -> dict[str, str]:
        return self.scopes.get("repository", {})

    # -- a workflow run -----------------------------------------------------------------------------
    def play(self, workflow: str, inputs: Mapping[str, str] | None = None) -> WorkflowRun:
        self.run_number += 1
        # The github context is the run's: a called workflow's jobs see the caller's name and run id.
        context = {
            "github.run_id": str(1000 + self.run_number),
            "github.workflow": workflow_data(workflow)["name"],
            "github.sha": self.sha,
            "github.ref": "refs/heads/main",
            "github.repository": GITHUB_REPOSITORY,
            **{f"vars.{name}": value for name, value in self.variables.items()},
        }
        return play_workflow(workflow, self.make_job, inputs, context, NOT_PLAYED)

    def make_job(self, workflow: str, job_id: str, inputs: Mapping[str, str]) -> Job:
        if workflow == "_release.yml":
            inputs = {**inputs, **RELEASE_INPUTS}
        job = Job(
            workflow,
            job_id,
            self.workspace,
            self.runner_env(),
            {},
            self.actions(),
            after_step=self.after_step,
            step_notes=self.metrics.take_notes,
        )
        # A job sees the repository's variables and those of its environment only.
        visible = {**self.variables, **self.scopes.get(job.environment or "", {})}
        job.context.update({f"vars.{name}": value for name, value in visible.items()})
        return job.with_inputs(inputs)

    def actions(self) -> dict[str, Callable[[Job, dict[str, str]], str]]:
        return {
            "actions/checkout@": self.check_out,
            "actions/setup-python@": lambda job, settings: f"Python of {REPO_ROOT / '.venv'}",
            "/.github/actions/setup": lambda job, settings: "make setup's virtualenvs and the local terraform",
            "hashicorp/setup-terraform@": lambda job, settings: "the local terraform",
            "aws-actions/configure-aws-credentials@": self.assume_role,
            "aws-actions/amazon-ecr-login@": lambda job, settings: "moto's registry needs no docker login",
            "docker/setup-buildx-action@": lambda job, settings: "no builder: the stage is assembled without Docker",
            "docker/build-push-action@": self.build_and_push,
            "actions/upload-artifact@": self.keep_artifact,
        }

    def keep_artifact(self, job: Job, settings: dict[str, str]) -> tuple[str, dict[str, str]]:
        """upload-artifact: the files stay in the workspace, and artifact-url names them there (GitHub's names
        the artifact's page), so what a summary links can be checked to exist."""
        path = settings.get("path", "")
        matches = sorted(self.workspace.glob(path)) if path else []
        if not matches:  # GitHub warns and uploads nothing (if-no-files-found: warn, the default)
            return f"{path} matches no file: nothing kept", {}
        target = matches[0] if len(matches) == 1 and "*" not in path else matches[0].parent
        return f"{path} stays in the workspace", {"artifact-url": target.as_uri()}

    def check_out(self, job: Job, settings: dict[str, str]) -> str:
        """actions/checkout: the workspace already is the checkout, if GitHub would let the job read it."""
        require(job.permissions, "contents", "read", job.job_id, "actions/checkout cannot read the repository")
        return "the workspace is the checkout"

    def assume_role(self, job: Job, settings: dict[str, str]) -> str:
        """configure-aws-credentials: the job's OIDC token exchanged for the role's session. GitHub issues
        the token only to a job granted `id-token: write`; moto checks no trust policy, so the subject is
        checked against the role's here, as STS would."""
        role_arn, region = settings.get("role-to-assume", ""), settings.get("aws-region", "")
        if not role_arn or not region:
            raise StageFailed(f"{job.job_id}: role-to-assume {role_arn!r} / aws-region {region!r} is empty")
        require(job.permissions, "id-token", "write", job.job_id, f"GitHub gives it no OIDC token to assume {role_arn}")
        subject = oidc_subject(REPOSITORY_SUBJECT, job.environment)
        role = self.client("iam").get_role(RoleName=role_arn.rsplit("/", 1)[1])["Role"]
        trusted = [
            value
            for statement in role["AssumeRolePolicyDocument"]["Statement"]
            for condition in statement.get("Condition", {}).values()
            for key, values in condition.items()
            if key.endswith(":sub")
            for value in ([values] if isinstance(values, str) else values)
        ]
        if subject not in trusted:
            raise StageFailed(f"{role_arn} does not trust the job's subject {subject} (it trusts {trusted})")
        token = unsigned_token(
            {"iss": "https://token.actions.githubusercontent.com", "aud": "sts.amazonaws.com", "sub": subject}
        )
        credentials = self.client("sts").assume_role_with_web_identity(
            RoleArn=role_arn, RoleSessionName=settings.get("role-session-name", "rehearsal"), WebIdentityToken=token
        )["Credentials"]
        self.audit.session(credentials["AccessKeyId"], role["RoleName"])
        job.env.update(
            AWS_ACCESS_KEY_ID=credentials["AccessKeyId"],
            AWS_SECRET_ACCESS_KEY=credentials["SecretAccessKey"],
            AWS_SESSION_TOKEN=credentials["SessionToken"],
            AWS_REGION=region,
            AWS_DEFAULT_REGION=region,
        )
        return f"assume-role-with-web-identity as {subject}"

    def build_and_push(self, job: Job, settings: dict[str, str]) -> str:
        """docker/build-push-action: the target stage assembled from the build context without Docker, and
        registered in moto's ECR under the tag (a manifest; moto keeps no layers)."""
        context = self.workspace / settings["context"]
        tag = settings["tags"]
        folder = self.workspace / "images" / tag.rsplit(":", 1)[1]
        if folder.exists():
            shutil.rmtree(folder)
        task_root = image.assemble(settings["target"], folder, context / "model", context)
        if settings.get("push") != "true":
            return f"stage {settings['target']} assembled in {folder} (not pushed)"
        repository_url, _, image_tag = tag.rpartition(":")
        digest = self.service.push(repository_url.split("/", 1)[1], image_tag, task_root)
        return f"stage {settings['target']} assembled without Docker in {folder}; pushed as {image_tag} ({digest})"

    def after_step(self, job: Job, step_id: str, context: dict[str, str]) -> None:
        """The release's "Read the function and endpoint": the API's invoke URL is served here instead."""
        if job.workflow != "_release.yml" or step_id != "stack":
            return
        invoke_url = context[f"steps.{step_id}.outputs.endpoint-url"]
        api = gateway.Api.read(self.client("apigateway"), self.client("lambda"), invoke_url)
        local_url = self.gateways.enter_context(gateway.serving(api, local_client(self.endpoint, "lambda")))
        self.api = (api, local_url)
        context[f"steps.{step_id}.outputs.endpoint-url"] = local_url
        job.records[-1].note = f"API Gateway stand-in: {invoke_url} served at {local_url}"

    # -- what the stages look at --------------------------------------------------------------------
    def alias(self, function: str, name: str = "live") -> tuple[str, dict[str, float]]:
        alias = self.client("lambda").get_alias(FunctionName=function, Name=name)
        return alias["FunctionVersion"], (alias.get("RoutingConfig") or {}).get("AdditionalVersionWeights") or {}

    def promoted(self) -> str:
        """The store's current version (`*` in `lambda_model versions`), empty when none."""
        store = f"s3://{self.variables['MODEL_BUCKET']}/models"
        listing = subprocess.run(
            [str(REPO_ROOT / ".venv" / "bin" / "python"), "-m", "lambda_model", "versions", "--store", store],
            env=self.admin_env(),
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        current = [line.split()[1] for line in listing.splitlines() if line.startswith("*")]
        return current[0] if current else ""

    def terraform(self, root: Path, *arguments: str) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(
            ["terraform", *arguments], cwd=root, env=self.admin_env(), capture_output=True, text=True, check=False
        )
        if result.returncode != 0:
            raise StageFailed(
                f"terraform {arguments[0]} in {root.name} exited {result.returncode}\n{result.stderr[-4000:]}"
            )
        return result

    def release_outputs(self, run: WorkflowRun) -> tuple[Job, dict[str, str]]:
        job = run.job("release")
        return job, {key.removeprefix("steps.rollout.outputs."): value for key, value in job.context.items()
                     if key.startswith("steps.rollout.outputs.")}  # fmt: skip

    # -- the stages ---------------------------------------------------------------------------------
    def run_stage(self, method: str) -> tuple[str, str]:
        """One stage, then every AWS call its jobs made judged against the policies of the role that made it."""
        result = getattr(self, method)()
        detail, log = result if isinstance(result, tuple) else (result, "")
        counted, denied = self.audit.judge()
        if denied:
            listing = "\n".join(f"- {denial}" for denial in denied)
            raise StageFailed(f"{len(denied)} AWS requests would be denied by IAM\n{listing}\n{log}")
        if counted:
            by_role = ", ".join(f"{count} {role}" for role, count in sorted(counted.items()))
            detail = f"{detail}; IAM allows all {sum(counted.values())} requests ({by_role})"
        return detail, log

    def bootstrap(self) -> str:
        """docs/infrastructure.md: apply terraform/bootstrap with admin credentials, set the variables."""
        root = self.workspace / "terraform" / "bootstrap"
        variables = {
            "aws_region": REGION,
            "name_prefix": NAME_PREFIX,
            "environment": ENVIRONMENT,
            "github_repository": GITHUB_REPOSITORY,
            "github_owner_id": GITHUB_OWNER_ID,
            "github_repository_id": GITHUB_REPOSITORY_ID,
        }
        arguments = [f"-var={name}={value}" for name, value in variables.items()]
        self.terraform(root, "init", "-no-color")
        self.terraform(root, "apply", "-auto-approve", "-no-color", *arguments)
        outputs = json.loads(self.terraform(root, "output", "-json").stdout)
        self.scopes = outputs["github_variables"]["value"]
        self.client("s3").head_bucket(Bucket=self.variables["TF_STATE_BUCKET"])
        count = sum(len(scope) for scope in self.scopes.values())
        return (
            f"state bucket {self.variables['TF_STATE_BUCKET']}, {count} GitHub variables in {len(self.scopes)} scopes"
        )

    def first_merge(self) -> tuple[str, str]:
        """deploy.yml on the first merge: the release creates the registry and the bucket, then stops with
        "no model yet" (nothing to build, nothing deployed)."""
        self.commits += 1
        run = self.play("deploy.yml")
        log = run.log()
        if not run.succeeded:
            raise StageFailed(f"the deploy run failed\n{log}")
        job = run.job("release")
        if job.output("model", "uri") != "" or "title=No model yet" not in job.stdout():
            raise StageFailed(f"the release did not end with 'no model yet'\n{log}")
        repository = job.output("store", "repository").split("/", 1)[1]
        self.client("ecr").describe_repositories(repositoryNames=[repository])
        bucket = job.output("store", "store").removeprefix("s3://").split("/", 1)[0]
        if bucket != self.variables["MODEL_BUCKET"]:
            raise StageFailed(
                f"the stack's model bucket {bucket} is not the bootstrap's {self.variables['MODEL_BUCKET']}"
            )
        self.client("s3").head_bucket(Bucket=bucket)
        functions = self.client("lambda").list_functions()["Functions"]
        if functions:
            raise StageFailed(f"a function exists before any model: {[f['FunctionName'] for f in functions]}")
        return f"no model yet; repository {repository} and bucket {bucket} created, no function", log

    def report_in_summary(self, job: Job, log: str, folder_name: str = "report", charts: bool = True) -> str:
        """The job's summary holds the report's tables and links the page and every picture, which the upload
        steps kept (the rehearsal's artifact-url is the file's own); `charts`: and its Mermaid charts (the
        monitor's summary is its own tables). Returns what it lists."""
        summary = job.summary()
        folder = self.workspace / "build" / folder_name
        pictures = sorted(path.name for path in folder.glob("*.png"))
        page = (folder / "report.html").as_uri()
        missing = [name for name in pictures if f"`{name}`" not in summary]
        if (
            not pictures
            or missing
            or f"[the report page]({page})" not in summary
            or (charts and "xychart" not in summary)
        ):
            raise StageFailed(f"the summary does not link the report ({pictures}, missing {missing})\n{summary}\n{log}")
        return f"summary links report.html and {', '.join(pictures)}"

    def first_retrain(self) -> tuple[str, str]:
        """retrain.yml: train a version, gate it against "no production", release it (Terraform creates the
        function from its image: version 1, checked in place), then promote it."""
        run = self.play("retrain.yml")
        log = run.log()
        if not run.succeeded:
            raise StageFailed(f"the retrain run failed\n{log}")
        train = run.job("train")
        version, pointer = train.output("train", "version"), train.output("gate", "pointer-tag")
        if pointer != NO_POINTER:
            raise StageFailed(f"the gate judged production pointer {pointer!r}, not {NO_POINTER!r} (none yet)\n{log}")
        job, rollout = self.release_outputs(run)
        function = job.output("stack", "function-name")
        if (rollout.get("status"), rollout.get("version")) != ("live", "1") or self.alias(function) != ("1", {}):
            raise StageFailed(
                f"the first release is not version 1 live: {rollout}, alias {self.alias(function)}\n{log}"
            )
        if self.promoted() != version:
            raise StageFailed(f"model {version} was released but {self.promoted()!r} is promoted\n{log}")
        reported = self.report_in_summary(train, log)
        return (
            f"model {version} trained, gated (no production yet), released as version 1 "
            f"({rollout['outcome']}), promoted; {reported}",
            log,
        )

    def merge(self) -> tuple[str, str]:
        """deploy.yml on a later merge: the promoted model in a new image, published as version 2, canary
        under the alarms, all traffic, live contract tests."""
        self.commits += 1
        run = self.play("deploy.yml")
        log = run.log()
        job, rollout = self.release_outputs(run)
        function = job.output("stack", "function-name")
        if not run.succeeded or (rollout.get("status"), rollout.get("version")) != ("live", "2"):
            raise StageFailed(f"the release did not make version 2 live: {rollout}\n{log}")
        if self.alias(function) != ("2", {}):
            raise StageFailed(f"the alias serves {self.alias(function)}, not version 2 alone\n{log}")
        if job.output("build", "model-version") != self.promoted():
            raise StageFailed(f"the image carries model {job.output('build', 'model-version')}, not the promoted one")
        if int(rollout.get("canary-invocations") or 0) < int(RELEASE_INPUTS["min-canary-invocations"]):
            raise StageFailed(f"the canary passed without the invocations it requires: {rollout}\n{log}")
        if "EMF stand-in" not in log:
            raise StageFailed(f"the canary's GetMetricData was not answered by the stand-in\n{log}")
        return (
            f"version 2 (model {self.promoted()}) live after {rollout['outcome']} (synthetic traffic: "
            f"{rollout['synthetic-traffic']}; Invocations by ExecutedVersion from the Lambda stand-in's counts) "
            "and the live tests",
            log,
        )

    def failing_release(self) -> tuple[str, str]:
        """deploy.yml with a merge that breaks the stage root: the pre-traffic check, which calls every route
        of the route table, rejects version 3 before the alias moves; version 2 keeps all the traffic."""
        self.commits += 1
        source = self.workspace / HANDLER_SOURCE
        released = source.read_text()
        source.write_text(released + BROKEN_ROOT_ROUTE)
        try:
            run = self.play("deploy.yml")
        finally:
            source.write_text(released)
        log = run.log()
        job, rollout = self.release_outputs(run)
        function = job.output("stack", "function-name")
        failed = [record.name for record in job.records if record.outcome == "failure"]
        if run.succeeded or failed != [ROLLOUT_STEP]:
            raise StageFailed(f"expected the release to fail at its rollout only, failed steps: {failed}\n{log}")
        if (rollout.get("status"), rollout.get("version"), rollout.get("previous-version")) != (
            "rejected",
            "3",
            "2",
        ):
            raise StageFailed(f"the rollout did not reject version 3 before traffic: {rollout}\n{log}")
        # "POST / answered 502" for a wrong answer, "POST /: version 3 raised" for the rehearsal's exception.
        if not rollout.get("outcome", "").startswith(
            ("pre-traffic check failed: POST / ", "pre-traffic check failed: POST /:")
        ):
            raise StageFailed(f"version 3 was not stopped at POST / before traffic: {rollout.get('outcome')}\n{log}")
        if self.alias(function) != ("2", {}):
            raise StageFailed(f"the alias serves {self.alias(function)}, not version 2 alone\n{log}")
        return (
            f"version 3 failed the pre-traffic check at {rollout['outcome'][26:80]}...; the alias never moved from "
            "version 2, the live tests never ran",
            log,
        )

    def manual_rollback(self) -> tuple[str, str]:
        """rollback.yml without inputs: the alias goes back to the version the live one replaced."""
        run = self.play("rollback.yml")
        log = run.log()
        function = run.job("rollback").output("stack", "function-name")
        if not run.succeeded or self.alias(function) != ("1", {}):
            raise StageFailed(f"the rollback did not move the alias to version 1: {self.alias(function)}\n{log}")
        return "the alias moved from version 2 back to 1 (the version 2 replaced)", log

    def drift_check(self) -> tuple[str, str]:
        """drift.yml: a plan of main with the plan role after all of the above is empty (the rollout's alias
        and image changes are the rollout's, not drift)."""
        run = self.play("drift.yml")
        log = run.log()
        plan = run.job("plan")
        if not run.succeeded or plan.output("plan", "changes") != "false":
            raise StageFailed(
                f"the drift check found changes or failed (exit {plan.output('plan', 'exitcode')})\n{log}"
            )
        return "terraform plan -detailed-exitcode: no changes", log

    def send_traffic(self, records: list[dict[str, float]]) -> None:
        """POST /predict through the API Gateway stand-in of the last release, in full batches, as clients do."""
        if self.api is None:
            raise StageFailed("no release has served the API yet: there is nothing to send traffic to")
        api, url = self.api
        headers = {"Content-Type": "application/json"}
        if any(route.api_key_required for route in api.routes):
            headers["x-api-key"] = sorted(api.api_keys)[0]
        for start in range(0, len(records), MONITOR_BATCH):
            body = json.dumps(records[start : start + MONITOR_BATCH]).encode()
            # The stand-in's own http:// URL, never a caller's.
            request = urllib.request.Request(f"{url}/predict", data=body, headers=headers, method="POST")  # noqa: S310
            try:
                with urllib.request.urlopen(request, timeout=30):  # noqa: S310
                    pass
            except urllib.error.HTTPError as error:
                raise StageFailed(f"POST /predict answered {error.code}: {error.read()[:300]!r}") from None

    def monitor_traffic(self) -> tuple[list[dict[str, float]], list[dict[str, float]], str]:
        """Records resampled from the served model's training data, and the same records with the signature's
        first feature shifted by MONITOR_SHIFT_STDS of its training standard deviations (from the baseline)."""
        store = S3Store(self.variables["MODEL_BUCKET"], "models", client=self.client("s3"))
        version = store.current_version()
        if version is None:
            raise StageFailed("no model is promoted: there is no served model to monitor")
        metadata = store.read_metadata(version)
        signature, baseline = signature_of(metadata), baseline_of(metadata)
        if baseline is None:
            raise StageFailed(f"model {version} has no baseline: the handler writes no bins to monitor")
        data = load_dataset(metadata["data"]["source"], metadata["data"]["label_column"])
        rows = data.features[np.random.default_rng(16).integers(0, len(data.features), MONITOR_RECORDS)]
        order = [data.feature_names.index(name) for name in signature.names]
        rows = rows[:, order]
        shifted = rows.copy()
        shifted[:, 0] += MONITOR_SHIFT_STDS * baseline.features[0].std

        def as_records(matrix: np.ndarray) -> list[dict[str, float]]:
            return [dict(zip(signature.names, map(float, row), strict=True)) for row in matrix]

        return as_records(rows), as_records(shifted), signature.names[0]

    def model_monitor(self) -> tuple[str, str]:
        """monitor.yml after traffic through the API: records resampled from the training data pass the monitor;
        after as many again with one feature shifted, the run fails with drift on that feature. GetMetricData
        is answered from the handler's EMF lines by rehearsal.emf_metrics (moto extracts no EMF)."""
        unshifted, shifted, feature = self.monitor_traffic()
        self.send_traffic(unshifted)
        passing = self.play("monitor.yml")
        summary = passing.job("monitor").stdout()
        log = f"{passing.log()}\n{summary}"
        if not passing.succeeded or "no drift" not in summary:
            raise StageFailed(f"the monitor did not pass {len(unshifted)} resampled training records\n{log}")
        if "EMF stand-in" not in log:
            raise StageFailed(f"the monitor's GetMetricData was not answered by the EMF stand-in\n{log}")
        self.send_traffic(shifted)
        failing = self.play("monitor.yml")
        log += "\n" + failing.log()
        job = failing.job("monitor")
        failed = [record.name for record in job.records if record.outcome == "failure"]
        if failing.succeeded or failed != [MONITOR_STEP] or f"drift: {feature} (PSI" not in job.stdout():
            raise StageFailed(f"the monitor did not fail with drift on {feature} (failed steps {failed})\n{log}")
        reported = self.report_in_summary(job, log, "monitor-report", charts=False)
        return (
            f"{len(unshifted)} resampled records: no drift; {len(shifted)} more with {feature} "
            f"+{MONITOR_SHIFT_STDS:g} std: the monitor failed with drift on {feature} "
            f"(GetMetricData from the handler's EMF lines, by the stand-in); {reported}",
            log,
        )

    def failing_gate(self) -> tuple[str, str]:
        """retrain.yml with parameters that cannot learn: the gate fails the train job, so the release job
        (needs: train) never starts and the promoted model stays."""
        promoted = self.promoted()
        run = self.play("retrain.yml", {"params": WEAK_PARAMETERS})
        log = run.log()
        failed = [record.name for record in run.job("train").records if record.outcome == "failure"]
        if run.succeeded or failed != [GATE_STEP]:
            raise StageFailed(f"expected only {GATE_STEP!r} to fail, not {failed}\n{log}")
        if run.results["release"].result != "skipped":
            raise StageFailed(f"the release job ran after a failed gate: {run.results['release'].result}\n{log}")
        if self.promoted() != promoted:
            raise StageFailed(f"model {self.promoted()} is promoted after a failed gate, not {promoted}\n{log}")
        reported = self.report_in_summary(run.job("train"), log)
        return f"gate failed ({WEAK_PARAMETERS}), release job skipped, model {promoted} stays promoted; {reported}", log


# The documented order (issue 9 / docs/deploy.md): (stage, method).
STAGES: tuple[tuple[str, str], ...] = (
    ("bootstrap", "bootstrap"),
    ("first merge", "first_merge"),
    ("first retrain", "first_retrain"),
    ("merge", "merge"),
    ("failing release", "failing_release"),
    ("manual rollback", "manual_rollback"),
    ("drift check", "drift_check"),
    ("model monitor", "model_monitor"),
    ("retrain, gate fails", "failing_gate"),
)


def play(rehearsal: Rehearsal, report: Callable[[Outcome], None]) -> list[Outcome]:
    """Every stage in order until the first one that does not end as documented."""
    outcomes: list[Outcome] = []
    failed = False
    for stage, method in STAGES:
        if failed:
            outcome = Outcome(stage, "not rehearsed", "an earlier stage failed")
        else:
            try:
                detail, log = rehearsal.run_stage(method)
                outcome = Outcome(stage, "ok", detail, log)
            except (StageFailed, MissingGrant) as error:
                outcome = Outcome(stage, "FAILED", str(error).splitlines()[0], str(error))
                failed = True
            except Exception as error:  # a bug or an AWS error: the traceback says where
                outcome = Outcome(
                    stage, "FAILED", f"{type(error).__name__}: {error}".splitlines()[0], traceback.format_exc()
                )
                failed = True
        outcomes.append(outcome)
        report(outcome)
    return outcomes
