"""GitHub's side of the rehearsal: the repository's variables by scope (repository and each environment), its
commits and run numbers, and whole workflow runs (rehearsal.workflow) played on the machine with every `uses:`
step replaced by what it does:
- checkout and setup: the workspace (a copy of this checkout) and `make setup`'s virtualenvs;
- configure-aws-credentials: assume-role-with-web-identity with the OIDC subject the job would present (its
  environment's, evaluated as GitHub does, or its ref's), checked against the role's trust policy first (moto
  checks none);
- Docker: the build's serving stage is assembled without Docker (rehearsal.image) and pushed to moto's ECR as
  a manifest; Lambda runs the handler from that assembled stage (rehearsal.lambda_service);
- API Gateway: each stage's API is served on 127.0.0.1 from what moto keeps (rehearsal.gateway), and the live
  tests are pointed there;
- upload-artifact: the files stay in the workspace.
"""

from __future__ import annotations

import contextlib
import shutil
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from rehearsal import gateway, image
from rehearsal.job import Job, oidc_subject, unsigned_token
from rehearsal.machine import Machine, StageFailed
from rehearsal.servers import local_client
from rehearsal.steps import REPO_ROOT, workflow_data
from rehearsal.token_permissions import require
from rehearsal.workflow import WorkflowRun, play_workflow

# A repository created after 2026-07-15: its tokens carry the immutable subject (owner@ID/name@ID).
GITHUB_REPOSITORY = "octo-org/lambda-model"
GITHUB_OWNER_ID = "1001"
GITHUB_REPOSITORY_ID = "2002"
REPOSITORY_SUBJECT = f"repo:octo-org@{GITHUB_OWNER_ID}/lambda-model@{GITHUB_REPOSITORY_ID}"
# The release's canary is 10 minutes by default; the rehearsal's lasts 6 seconds (one alarm check either side).
# To see the new version in so short a window it gets half the traffic, and the synthetic traffic is faster:
# ~10 requests a second through the API Gateway stand-in give it ~30 invocations, 5 required. Staging's
# alarm-wiring check sends the same traffic for 6 seconds instead of 2 minutes (the stand-ins answer
# GetMetricData at once, so it never waits for CloudWatch to settle).
RELEASE_INPUTS = {
    "canary-minutes": "0.1",
    "alarm-check-minutes": "0.1",
    "canary-share": "0.5",
    "canary-requests-per-second": "10",
    "min-canary-invocations": "5",
}
# deploy.yml's checks job is `make lint` + `make test`, which CI runs on this very commit.
NOT_PLAYED = {"checks": "make lint and make test, which CI runs itself"}
# The step of _release.yml whose outputs name the stack's function and API ("Read the function and endpoint").
STACK_STEP = "stack"


@dataclass
class GitHub:
    machine: Machine
    scopes: dict[str, dict[str, str]] = field(default_factory=dict)  # GitHub variables by scope
    run_number: int = 0
    run_sha: str = ""  # the commit the current run checked out
    gateways: contextlib.ExitStack = field(default_factory=contextlib.ExitStack)
    # By GitHub environment: the API its last release read, and the stand-in's URL serving it.
    apis: dict[str, tuple[gateway.Api, str]] = field(default_factory=dict)

    def close(self) -> None:
        self.gateways.close()

    @property
    def sha(self) -> str:
        return self.machine.git("rev-parse", "HEAD")

    def commit(self, message: str) -> str:
        """A merge to main (what the workspace holds, changed or not): the next runs check out this commit."""
        self.machine.git("commit", "--quiet", "--all", "--allow-empty", f"--message={message}")
        return self.sha

    @property
    def variables(self) -> dict[str, str]:
        """The repository-level variables (every job sees them)."""
        return self.scopes.get("repository", {})

    def play(self, workflow: str, inputs: Mapping[str, str] | None = None) -> WorkflowRun:
        self.run_number += 1
        self.run_sha = self.sha
        # The github context is the run's: a called workflow's jobs see the caller's name and run id.
        context = {
            "github.run_id": str(1000 + self.run_number),
            "github.workflow": workflow_data(workflow)["name"],
            "github.sha": self.run_sha,
            "github.ref": "refs/heads/main",
            "github.repository": GITHUB_REPOSITORY,
            **{f"vars.{name}": value for name, value in self.variables.items()},
        }
        return play_workflow(workflow, self.make_job, inputs, context, NOT_PLAYED)

    def make_job(self, workflow: str, job_id: str, inputs: Mapping[str, str]) -> Job:
        if workflow == "_release.yml":
            inputs = {**inputs, **RELEASE_INPUTS}
        runner = self.machine.runner_env(
            {
                "GITHUB_SHA": self.run_sha,
                "GITHUB_REF": "refs/heads/main",
                "GITHUB_REPOSITORY": GITHUB_REPOSITORY,
                "GITHUB_RUN_ID": str(1000 + self.run_number),
            }
        )
        job = Job(
            workflow,
            job_id,
            self.machine.workspace,
            runner,
            {},
            self.actions(),
            after_step=self.after_step,
            step_notes=self.machine.metrics.take_notes,
        ).with_inputs(inputs)
        # A job sees the repository's variables and those of its environment only; the environment's name
        # may be an expression of the inputs (`${{ inputs.stage }}`), so it is read once they are set.
        visible = {**self.variables, **self.scopes.get(job.environment or "", {})}
        job.context.update({f"vars.{name}": value for name, value in visible.items()})
        return job

    def actions(self) -> dict[str, Callable[[Job, dict[str, str]], str | tuple[str, dict[str, str]]]]:
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
        workspace = self.machine.workspace
        path = settings.get("path", "")
        matches = sorted(workspace.glob(path)) if path else []
        if not matches:  # GitHub warns and uploads nothing (if-no-files-found: warn, the default)
            return f"{path} matches no file: nothing kept", {}
        target = matches[0] if len(matches) == 1 and "*" not in path else matches[0].parent
        return f"{path} stays in the workspace", {"artifact-url": target.as_uri()}

    def check_out(self, job: Job, settings: dict[str, str]) -> str:
        """actions/checkout: the workspace already is the checkout, if GitHub would let the job read it. Each
        job's runner starts without terraform's backend settings (the jobs of both stages share this
        workspace, each with its own state key): the providers stay, as a plugin cache would keep them."""
        require(job.permissions, "contents", "read", job.job_id, "actions/checkout cannot read the repository")
        for root in ("terraform", "terraform/bootstrap"):
            (self.machine.workspace / root / ".terraform" / "terraform.tfstate").unlink(missing_ok=True)
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
        role = self.machine.client("iam").get_role(RoleName=role_arn.rsplit("/", 1)[1])["Role"]
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
        credentials = self.machine.client("sts").assume_role_with_web_identity(
            RoleArn=role_arn, RoleSessionName=settings.get("role-session-name", "rehearsal"), WebIdentityToken=token
        )["Credentials"]
        self.machine.audit.session(credentials["AccessKeyId"], role["RoleName"])
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
        workspace = self.machine.workspace
        context = workspace / settings["context"]
        tag = settings["tags"]
        folder = workspace / "images" / tag.rsplit(":", 1)[1]
        if folder.exists():
            shutil.rmtree(folder)
        installs = workspace / "images" / ".installs"
        installs.mkdir(parents=True, exist_ok=True)
        task_root = image.assemble(settings["target"], folder, context / "model", context, installs)
        if settings.get("push") != "true":
            return f"stage {settings['target']} assembled in {folder} (not pushed)"
        repository_url, _, image_tag = tag.rpartition(":")
        digest = self.machine.service.push(repository_url.split("/", 1)[1], image_tag, task_root)
        return f"stage {settings['target']} assembled without Docker in {folder}; pushed as {image_tag} ({digest})"

    def after_step(self, job: Job, step_id: str, context: dict[str, str]) -> None:
        """The release's "Read the function and endpoint": the API's invoke URL is served here instead, one
        stand-in per stage (keyed by the job's GitHub environment)."""
        if job.workflow != "_release.yml" or step_id != STACK_STEP:
            return
        invoke_url = context[f"steps.{step_id}.outputs.endpoint-url"]
        api = gateway.Api.read(self.machine.client("apigateway"), self.machine.client("lambda"), invoke_url)
        serving = gateway.serving(api, local_client(self.machine.endpoint, "lambda"))
        local_url = self.gateways.enter_context(serving)
        self.apis[job.environment or ""] = (api, local_url)
        context[f"steps.{step_id}.outputs.endpoint-url"] = local_url
        job.records[-1].note = f"API Gateway stand-in: {invoke_url} served at {local_url}"
