"""The documented life of the repository, stage by stage, against one moto server (docs/deploy.md): two
deploy stages, staging and production, from the same Terraform with their own state keys, roles and GitHub
environments; one image digest through both.

Each stage runs whole workflows from their YAML (rehearsal.github plays them on rehearsal.machine). What has
no local equivalent is replaced, and every replacement says what it does in the job's log:
- checkout, setup, configure-aws-credentials (the OIDC subject of the job's evaluated environment, checked
  against the role's trust policy), Docker (the serving stage assembled without Docker and pushed to moto's
  ECR as a manifest), API Gateway (each stage's API served on 127.0.0.1), upload-artifact: rehearsal.github;
- CloudWatch's metric extraction from EMF and GetMetricData's statistics: answered from the lines the handler
  wrote by rehearsal.emf_metrics, which says so in the monitor job's log;
- Lambda's own metrics (Invocations, Errors, Duration by ExecutedVersion), which the canary and the
  alarm-wiring check read: counted per invocation by the Lambda stand-in and answered by the same stand-in.
After each stage, the AWS calls its jobs made are judged against the policies of the role that made them
(rehearsal.permissions): moto enforces no IAM, so this is where a missing permission shows. What a stage
claims about a deploy stage it did not touch is a comparison of that stage's footprint (alias, versions,
code, API deployments, Terraform state object version) before and after (rehearsal.checks).
"""

from __future__ import annotations

import json
import time
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from lambda_model.registry.s3_store import S3Store
from lambda_model.registry.store import NO_POINTER
from rehearsal import traffic
from rehearsal.checks import (
    Checks,
    Footprint,
    failed_steps,
    jobs_in,
    parse_stages,
    release_job,
    report_in_summary,
    rollout_outputs,
)
from rehearsal.github import GITHUB_OWNER_ID, GITHUB_REPOSITORY, GITHUB_REPOSITORY_ID, RELEASE_INPUTS, GitHub
from rehearsal.job import Job
from rehearsal.machine import REGION, Machine, StageFailed
from rehearsal.token_permissions import MissingGrant
from rehearsal.workflow import WorkflowRun

# Not the defaults, so that a workflow that forgets to pass them misses the bootstrap's roles.
NAME_PREFIX = "rehearsal"


@dataclass(frozen=True)
class DeployStage:
    key: str  # the bootstrap's `stages` key, the workflows' `stage` input
    environment: str  # the stack's TF_VAR_environment
    github_environment: str

    @property
    def stack_name(self) -> str:
        return f"{NAME_PREFIX}-{self.environment}"


STAGING = DeployStage("staging", "staging", "staging")
# Production's stack environment is not the default "prod" either, for the same reason as NAME_PREFIX.
PRODUCTION = DeployStage("production", "live", "production")
DEPLOY_STAGES = (STAGING, PRODUCTION)
# The GitHub variable scopes the bootstrap must write (staging-contract.md): repository, each stage's
# environment, training and monitoring.
VARIABLE_SCOPES = ("repository", STAGING.github_environment, PRODUCTION.github_environment, "training", "monitoring")
STAGED_SUFFIX = "-staged"
# _release.yml's "Send synthetic traffic and check the alarms see the new version" (staging).
ALARM_CHECK_OUTPUTS = "steps.alarms.outputs."
# drift.yml's job that checks production's live digest carries staging's tag.
SKEW_JOB = "skew"

# Leaves larger than the data set: trees that never split, one class for every flower. The gate must refuse it.
WEAK_PARAMETERS = "min_samples_leaf=1000"
GATE_STEP = "Gate against production on the same hold-out"
# A merge that breaks the stage root (where the seed's curl posts) but not /predict or /health. The
# pre-traffic check calls every route of the route table, so it stops the version in staging, before any
# traffic moves and before production is reached at all.
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


@dataclass
class Played:
    """What a stage did: one line for it, one per deploy stage its runs went through, and the runs' log."""

    detail: str
    log: str = ""
    runs: dict[str, str] = field(default_factory=dict)  # deploy stage key -> what happened there


@dataclass
class Outcome:
    stage: str
    status: str  # ok, FAILED, not rehearsed
    detail: str
    log: str = ""
    runs: dict[str, str] = field(default_factory=dict)
    seconds: float = 0.0  # how long it took, so the rehearsal's time stays visible stage by stage


@dataclass(frozen=True)
class Watch:
    """A deploy stage's footprint and the audit's position when the watch began."""

    life: Life
    stage: DeployStage
    before: Footprint
    mark: int

    def verify(self, log: str) -> str:
        """The stage's footprint is as it was and its roles made no call since; one line saying so."""
        changes = self.before.changes(self.life.footprint(self.stage))
        # The stage's roles are named after its stack (<prefix>-<environment>-github-plan|deploy).
        acted = sorted(
            role for role in self.life.machine.audit.roles_since(self.mark) if role.startswith(self.stage.stack_name)
        )
        if changes or acted:
            raise StageFailed(f"{self.stage.key} changed: {changes}; its roles {acted} made calls\n{log}")
        version, etag = self.before.state_object
        return (
            f"alias {self.before.alias[0]} {dict(self.before.alias[1]) or '(no canary weights)'}, versions "
            f"{','.join(self.before.versions)}, API deployment {self.before.api[1]} and state object version "
            f"{version or '-'} (ETag {etag}) unchanged; {self.stage.stack_name}-github-deploy made no call"
        )


@dataclass
class Life:
    """The stages, played in order on one machine; each leaves the account for the next."""

    machine: Machine
    github: GitHub

    @classmethod
    @contextmanager
    def running(cls, moto_endpoint: str, workspace: Path) -> Iterator[Life]:
        with Machine.running(moto_endpoint, workspace) as machine:
            github = GitHub(machine)
            try:
                yield cls(machine, github)
            finally:
                github.close()

    @property
    def checks(self) -> Checks:
        variables = self.github.variables
        return Checks(self.machine, variables["MODEL_BUCKET"], variables["TF_STATE_BUCKET"])

    def state_key(self, stage: DeployStage) -> str:
        return parse_stages(self.github.variables["STAGES"])[stage.key]["state_key"]

    def footprint(self, stage: DeployStage) -> Footprint:
        return self.checks.footprint(stage.stack_name, self.state_key(stage))

    def watch(self, stage: DeployStage) -> Watch:
        """From now on, `stage` must not change (see Watch.verify)."""
        return Watch(self, stage, self.footprint(stage), self.machine.audit.mark())

    # -- running a stage ---------------------------------------------------------------------------------
    def run_stage(self, method: str) -> Played:
        """One stage, then every AWS call its jobs made judged against the policies of the role that made it."""
        played: Played = getattr(self, method)()
        counted, denied = self.machine.audit.judge()
        if denied:
            listing = "\n".join(f"- {denial}" for denial in denied)
            raise StageFailed(f"{len(denied)} AWS requests would be denied by IAM\n{listing}\n{played.log}")
        if counted:
            by_role = ", ".join(f"{count} {role}" for role, count in sorted(counted.items()))
            played.detail = f"{played.detail}; IAM allows all {sum(counted.values())} requests ({by_role})"
        return played

    def expect_success(self, run: WorkflowRun) -> str:
        log = run.log()
        if not run.succeeded:
            raise StageFailed(f"the {run.workflow} run failed\n{log}")
        return log

    def released(self, run: WorkflowRun, stage: DeployStage, version: str, log: str) -> tuple[Job, dict[str, str]]:
        """The stage's release job and rollout outputs, once its rollout made `version` live alone."""
        job = release_job(run, stage.github_environment)
        rollout = rollout_outputs(job)
        alias = self.checks.alias(stage.stack_name)
        if (rollout.get("status"), rollout.get("version")) != ("live", version) or alias != (version, {}):
            raise StageFailed(f"{stage.key}: version {version} is not live alone: {rollout}, alias {alias}\n{log}")
        return job, rollout

    def staged_digest(self, staging: Job, production: Job, log: str) -> str:
        """Both stages serve one digest, staging tagged it -staged, production built nothing. The digest."""
        served = {stage.key: self.checks.served_image(stage.stack_name) for stage in DEPLOY_STAGES}
        digests = {key: self.checks.digest(image) for key, image in served.items()}
        if digests["staging"] != digests["production"]:
            raise StageFailed(f"the stages do not serve one image digest: {served}\n{log}")
        tags = self.checks.image_tags(served["production"])
        if not any(tag.endswith(STAGED_SUFFIX) for tag in tags):
            raise StageFailed(f"production serves {served['production']}, which carries no -staged tag: {tags}\n{log}")
        built = [record.name for record in production.records if "assembled without Docker" in record.note]
        if built or not any("assembled without Docker" in record.note for record in staging.records):
            raise StageFailed(f"staging must build the image and production never (production built: {built})\n{log}")
        return f"{digests['production'][:19]}... (tags {', '.join(tags)})"

    # -- the stages -------------------------------------------------------------------------------------
    def bootstrap(self) -> Played:
        """docs/infrastructure.md: apply terraform/bootstrap with admin credentials (both stages, the shared
        registry and model bucket), then set the GitHub variables of every scope from its output."""
        root = self.machine.workspace / "terraform" / "bootstrap"
        variables = {
            "aws_region": REGION,
            "name_prefix": NAME_PREFIX,
            "stages": {
                stage.key: {"environment": stage.environment, "github_environment": stage.github_environment}
                for stage in DEPLOY_STAGES
            },
            "github_repository": GITHUB_REPOSITORY,
            "github_owner_id": GITHUB_OWNER_ID,
            "github_repository_id": GITHUB_REPOSITORY_ID,
        }
        var_file = self.machine.workspace / "bootstrap.tfvars.json"
        var_file.write_text(json.dumps(variables, indent=2))
        self.machine.terraform(root, "init", "-no-color")
        self.machine.terraform(root, "apply", "-auto-approve", "-no-color", f"-var-file={var_file}")
        outputs = json.loads(self.machine.terraform(root, "output", "-json").stdout)
        self.github.scopes = outputs["github_variables"]["value"]
        missing = [scope for scope in VARIABLE_SCOPES if not self.github.scopes.get(scope)]
        if missing:
            raise StageFailed(f"the bootstrap's github_variables has no {missing} scope: {sorted(self.github.scopes)}")
        stages = parse_stages(self.github.variables["STAGES"])
        if sorted(stages) != sorted(stage.key for stage in DEPLOY_STAGES):
            raise StageFailed(f"STAGES names {sorted(stages)}, not staging and production")
        s3, ecr = self.machine.client("s3"), self.machine.client("ecr")
        s3.head_bucket(Bucket=self.github.variables["TF_STATE_BUCKET"])
        s3.head_bucket(Bucket=self.github.variables["MODEL_BUCKET"])
        repository = self.github.variables["ECR_REPOSITORY_URL"].split("/", 1)[1]
        ecr.describe_repositories(repositoryNames=[repository])
        count = sum(len(scope) for scope in self.github.scopes.values())
        return Played(
            f"state bucket {self.github.variables['TF_STATE_BUCKET']}, registry {repository}, model bucket "
            f"{self.github.variables['MODEL_BUCKET']}; {count} GitHub variables in {len(self.github.scopes)} "
            f"scopes ({', '.join(sorted(self.github.scopes))}); state keys "
            + ", ".join(f"{key}: {settings['state_key']}" for key, settings in sorted(stages.items()))
        )

    def first_merge(self) -> Played:
        """deploy.yml on the first merge: no model yet, so staging builds nothing and production ships nothing."""
        self.github.commit("The first merge")
        run = self.github.play("deploy.yml")
        log = self.expect_success(run)
        staging = release_job(run, STAGING.github_environment)
        if "title=No model yet" not in staging.stdout():
            raise StageFailed(f"staging's release did not end with 'no model yet'\n{log}")
        production = jobs_in(run, PRODUCTION.github_environment)
        if production and not all("title=No model yet" in job.stdout() for job in production):
            raise StageFailed(f"production's release ran past 'no model yet'\n{log}")
        functions = self.machine.client("lambda").list_functions()["Functions"]
        if functions:
            raise StageFailed(f"a function exists before any model: {[f['FunctionName'] for f in functions]}")
        images = self.machine.client("ecr").describe_images(
            repositoryName=self.github.variables["ECR_REPOSITORY_URL"].split("/", 1)[1]
        )["imageDetails"]
        if images:
            raise StageFailed(f"an image was pushed without a model: {images}\n{log}")
        return Played(
            "no model yet: no image, no function in either stage",
            log,
            {
                "staging": "no model yet: nothing built, nothing applied",
                "production": "no model yet: nothing shipped" if production else "skipped: staging shipped no image",
            },
        )

    def first_retrain(self) -> Played:
        """retrain.yml: train a version and gate it against production's pointer (none yet); staging builds the
        candidate's image, creates its function (version 1, checked in place) and marks the digest staged;
        production ships that digest as its version 1 and promotes the model with the compare-and-set."""
        run = self.github.play("retrain.yml")
        log = self.expect_success(run)
        train = run.job("train")
        version, pointer = train.output("train", "version"), train.output("gate", "pointer-tag")
        if pointer != NO_POINTER:
            raise StageFailed(f"the gate judged production pointer {pointer!r}, not {NO_POINTER!r} (none yet)\n{log}")
        staging, staging_rollout = self.released(run, STAGING, "1", log)
        production, production_rollout = self.released(run, PRODUCTION, "1", log)
        digest = self.staged_digest(staging, production, log)
        if self.checks.promoted() != version:
            raise StageFailed(f"model {version} was released but {self.checks.promoted()!r} is promoted\n{log}")
        reported = report_in_summary(train, self.machine.workspace / "build" / "report", log)
        return Played(
            f"model {version} trained, gated (no production yet), released through both stages as version 1 "
            f"of each, promoted; {reported}",
            log,
            {
                "staging": f"candidate image {digest} built, version 1 {staging_rollout['outcome']}",
                "production": f"the staged digest shipped, version 1 {production_rollout['outcome']}; "
                f"model {version} promoted (compare-and-set against {NO_POINTER})",
            },
        )

    def merge(self) -> Played:
        """deploy.yml on a later merge: staging builds the promoted model into a new image, switches all at
        once, runs the live tests, the synthetic traffic and the alarm-wiring check, tags the digest staged;
        production ships that digest under a canary that must see the invocations it requires."""
        self.github.commit("A merge")
        run = self.github.play("deploy.yml")
        log = self.expect_success(run)
        staging, staging_rollout = self.released(run, STAGING, "2", log)
        production, rollout = self.released(run, PRODUCTION, "2", log)
        digest = self.staged_digest(staging, production, log)
        wiring = {key.rsplit(".", 1)[1]: value for key, value in staging.context.items()
                  if key.startswith(ALARM_CHECK_OUTPUTS)}  # fmt: skip
        if wiring.get("status") != "passed":
            raise StageFailed(f"staging's alarm-wiring check did not pass: {wiring}\n{log}")
        model = staging.outputs().get("model-version", "")
        if model != self.checks.promoted():
            raise StageFailed(f"the image carries model {model!r}, not the promoted {self.checks.promoted()!r}")
        if int(rollout.get("canary-invocations") or 0) < int(RELEASE_INPUTS["min-canary-invocations"]):
            raise StageFailed(f"the canary passed without the invocations it requires: {rollout}\n{log}")
        if "EMF stand-in" not in log:
            raise StageFailed(f"the canary's GetMetricData was not answered by the stand-in\n{log}")
        return Played(
            f"version 2 (model {model}) live in both stages from one digest",
            log,
            {
                "staging": f"image {digest}; version 2 {staging_rollout['outcome']}, live tests; alarm wiring: "
                f"{wiring.get('outcome', '?')}",
                "production": f"version 2 after {rollout['outcome']} (synthetic traffic: "
                f"{rollout.get('synthetic-traffic', '?')}; Invocations by ExecutedVersion from the Lambda "
                "stand-in's counts) and the live tests",
            },
        )

    def failing_release(self) -> Played:
        """deploy.yml with a merge that breaks the stage root: staging's pre-traffic check, which calls every
        route of the route table, rejects version 3 before its alias moves; production is never reached: its
        alias, versions, API and Terraform state object are as they were and its role made no call."""
        source = self.machine.workspace / HANDLER_SOURCE
        released = source.read_text()
        production_watch = self.watch(PRODUCTION)
        source.write_text(released + BROKEN_ROOT_ROUTE)
        try:
            self.github.commit("A merge that breaks POST /")
            run = self.github.play("deploy.yml")
        finally:
            source.write_text(released)
            self.github.commit("Revert the merge that broke POST /")
        log = run.log()
        production_unchanged = production_watch.verify(log)
        staging = release_job(run, STAGING.github_environment)
        rollout = rollout_outputs(staging)
        if run.succeeded or len(failed_steps(staging)) != 1:
            raise StageFailed(f"expected staging's release to fail at one step: {failed_steps(staging)}\n{log}")
        if (rollout.get("status"), rollout.get("version"), rollout.get("previous-version")) != ("rejected", "3", "2"):
            raise StageFailed(f"staging's rollout did not reject version 3 before traffic: {rollout}\n{log}")
        # "POST / answered 502" for a wrong answer, "POST /: version 3 raised" for the rehearsal's exception.
        if not rollout.get("outcome", "").startswith(
            ("pre-traffic check failed: POST / ", "pre-traffic check failed: POST /:")
        ):
            raise StageFailed(f"version 3 was not stopped at POST / before traffic: {rollout.get('outcome')}\n{log}")
        if self.checks.alias(STAGING.stack_name) != ("2", {}):
            raise StageFailed(f"staging's alias serves {self.checks.alias(STAGING.stack_name)}, not 2 alone\n{log}")
        if jobs_in(run, PRODUCTION.github_environment):
            raise StageFailed(f"a production job ran after staging failed\n{log}")
        return Played(
            "a merge broken at POST / stopped in staging; production never reached",
            log,
            {
                "staging": f"version 3 failed the pre-traffic check at {rollout['outcome'][26:80]}...; the alias "
                "stayed on version 2, the digest was not staged",
                "production": f"skipped: {production_unchanged}",
            },
        )

    def manual_rollback(self) -> Played:
        """rollback.yml with each stage as its input: that stage's alias goes back to the version the live one
        replaced, and the other stage is untouched."""
        runs: dict[str, str] = {}
        logs: list[str] = []
        for stage, other in ((STAGING, PRODUCTION), (PRODUCTION, STAGING)):
            before, other_watch = self.checks.alias(stage.stack_name)[0], self.watch(other)
            logs.append(self.expect_success(self.github.play("rollback.yml", {"stage": stage.key})))
            after = self.checks.alias(stage.stack_name)
            if after != (str(int(before) - 1), {}):
                raise StageFailed(f"{stage.key}: the rollback moved the alias from {before} to {after}\n{logs[-1]}")
            runs[stage.key] = f"alias {before} -> {after[0]}; {other.key}: {other_watch.verify(logs[-1])}"
        return Played("each stage rolled back alone", "\n".join(logs), runs)

    def drift_check(self) -> Played:
        """drift.yml: a plan of main for each stage with its plan role is empty (the rollouts' alias and image
        changes are theirs, not drift), and production's live digest carries staging's -staged tag."""
        run = self.github.play("drift.yml")
        log = self.expect_success(run)
        runs = {}
        for stage in DEPLOY_STAGES:
            plans = [job for job in run.jobs() if job.context.get("inputs.stage") == stage.key]
            changes = [job.output("plan", "changes") for job in plans]
            if changes != ["false"]:
                raise StageFailed(f"{stage.key}: drift plans found changes or did not run ({changes})\n{log}")
            runs[stage.key] = "terraform plan -detailed-exitcode: no changes"
        if run.results[SKEW_JOB].result != "success":
            raise StageFailed(f"drift.yml's {SKEW_JOB} job did not pass: {run.results[SKEW_JOB].result}\n{log}")
        served = self.checks.served_image(PRODUCTION.stack_name)
        tags = self.checks.image_tags(served)
        if not any(tag.endswith(STAGED_SUFFIX) for tag in tags):
            raise StageFailed(f"production's live image {served} is not staged (tags {tags})\n{log}")
        runs["production"] += f"; {SKEW_JOB}: its live digest is staged ({', '.join(tags)})"
        return Played("both stages as their Terraform says; no stage skew", log, runs)

    def model_monitor(self) -> Played:
        """monitor.yml after traffic through production's API: records resampled from the training data pass
        the monitor; after as many again with one feature shifted, the run fails with drift on that feature.
        GetMetricData is answered from the handler's EMF lines by rehearsal.emf_metrics (moto extracts no EMF)."""
        if PRODUCTION.github_environment not in self.github.apis:
            raise StageFailed("no production release has served the API yet: there is nothing to send traffic to")
        api = self.github.apis[PRODUCTION.github_environment]
        store = S3Store(self.github.variables["MODEL_BUCKET"], "models", client=self.machine.client("s3"))
        unshifted, shifted, feature = traffic.monitor_records(store)
        traffic.send(api, unshifted)
        passing = self.github.play("monitor.yml")
        summary = passing.job("monitor").stdout()
        log = f"{passing.log()}\n{summary}"
        if not passing.succeeded or "no drift" not in summary:
            raise StageFailed(f"the monitor did not pass {len(unshifted)} resampled training records\n{log}")
        if "EMF stand-in" not in log:
            raise StageFailed(f"the monitor's GetMetricData was not answered by the EMF stand-in\n{log}")
        traffic.send(api, shifted)
        failing = self.github.play("monitor.yml")
        log += "\n" + failing.log()
        job = failing.job("monitor")
        failed = failed_steps(job)
        if failing.succeeded or failed != [MONITOR_STEP] or f"drift: {feature} (PSI" not in job.stdout():
            raise StageFailed(f"the monitor did not fail with drift on {feature} (failed steps {failed})\n{log}")
        reported = report_in_summary(job, self.machine.workspace / "build" / "monitor-report", log, charts=False)
        return Played(
            f"{len(unshifted)} resampled records: no drift; {len(shifted)} more with {feature} "
            f"+{traffic.MONITOR_SHIFT_STDS:g} std: the monitor failed with drift on {feature} "
            f"(GetMetricData from the handler's EMF lines, by the stand-in); {reported}",
            log,
        )

    def failing_gate(self) -> Played:
        """retrain.yml with parameters that cannot learn: the gate fails the train job, so neither stage's
        release starts (they need train) and the promoted model stays."""
        promoted = self.checks.promoted()
        run = self.github.play("retrain.yml", {"params": WEAK_PARAMETERS})
        log = run.log()
        failed = failed_steps(run.job("train"))
        if run.succeeded or failed != [GATE_STEP]:
            raise StageFailed(f"expected only {GATE_STEP!r} to fail, not {failed}\n{log}")
        released = [job.job_id for job in run.jobs() if job.workflow == "_release.yml"]
        if released:
            raise StageFailed(f"release jobs ran after a failed gate: {released}\n{log}")
        if self.checks.promoted() != promoted:
            raise StageFailed(f"model {self.checks.promoted()} is promoted after a failed gate, not {promoted}\n{log}")
        reported = report_in_summary(run.job("train"), self.machine.workspace / "build" / "report", log)
        return Played(
            f"gate failed ({WEAK_PARAMETERS}), model {promoted} stays promoted; {reported}",
            log,
            {stage.key: "skipped: the gate failed" for stage in DEPLOY_STAGES},
        )


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


def play(life: Life, report: Callable[[Outcome], None], until: str = "") -> list[Outcome]:
    """Every stage in order (up to and including `until`'s, when given) until the first one that does not end
    as documented."""
    names = [stage for stage, _ in STAGES]
    if until and until not in names:
        raise ValueError(f"no stage is named {until!r}: the stages are {', '.join(names)}")
    outcomes: list[Outcome] = []
    failed = False
    for stage, method in STAGES[: names.index(until) + 1 if until else len(STAGES)]:
        started = time.monotonic()
        if failed:
            outcome = Outcome(stage, "not rehearsed", "an earlier stage failed")
        else:
            try:
                played = life.run_stage(method)
                outcome = Outcome(stage, "ok", played.detail, played.log, played.runs)
            except (StageFailed, MissingGrant) as error:
                outcome = Outcome(stage, "FAILED", str(error).splitlines()[0], str(error))
                failed = True
            except Exception as error:  # a bug or an AWS error: the traceback says where
                outcome = Outcome(
                    stage, "FAILED", f"{type(error).__name__}: {error}".splitlines()[0], traceback.format_exc()
                )
                failed = True
        outcome.seconds = time.monotonic() - started
        outcomes.append(outcome)
        report(outcome)
    return outcomes
