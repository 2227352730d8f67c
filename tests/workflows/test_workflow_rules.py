"""The pipeline's shape and hygiene, read from the YAML: triggers, permissions, environments, job order,
pinning, timeouts, concurrency, and the wiring between workflows, reusable workflows and actions."""

from __future__ import annotations

import re
from typing import Any

import pytest

from rehearsal.conditions import JobStatus, evaluate_condition
from tests.support.servers import REPO_ROOT
from tests.workflows.conftest import (
    ACTIONS_DIR,
    STAGES,
    WORKFLOWS_DIR,
    Document,
    JobRun,
    actions,
    bootstrap_environments,
    steps_of,
    workflows,
)

PINNED_USES = re.compile(r"^[\w.-]+/[\w.-]+(/[\w./-]+)?@[0-9a-f]{40}$")
VERSION_COMMENT = re.compile(r"#\s*v\d+\.\d+\.\d+\s*$")
LOCAL_USES = "$/"
# The roles a job may assume, by what names them: an environment's variable (the role of the environment the
# job runs in) or, for the plan roles (pull requests and main: no environment, OIDC sub pull_request / ref),
# the repository's STAGES entry of the job's stage.
PLAN_ROLE = "STAGES plan_role_arn"
ROLE_SCOPES = {
    "AWS_DEPLOY_ROLE_ARN": STAGES,
    "AWS_TRAIN_ROLE_ARN": ("training",),
    "AWS_MONITOR_ROLE_ARN": ("monitoring",),
    PLAN_ROLE: (None,),
}
REUSABLE = {"_checks.yml", "_plan.yml", "_release.yml"}


def all_documents() -> list[Document]:
    return [*workflows().values(), *actions().values()]


def all_steps() -> list[tuple[str, dict[str, Any]]]:
    return [pair for document in all_documents() for pair in steps_of(document)]


def called_workflow(job: dict[str, Any]) -> Document | None:
    uses = job.get("uses")
    if not uses:
        return None
    assert uses.startswith(f"{LOCAL_USES}.github/workflows/"), f"reusable workflows are local: {uses}"
    return workflows()[uses.rsplit("/", 1)[1]]


def role_assumed(step: dict[str, Any], job: dict[str, Any]) -> str:
    """Which role a configure-aws-credentials step assumes: an AWS_*_ROLE_ARN variable, or the plan role of
    STAGES (read through the job's env, so the ARN is written once)."""
    value = step["with"]["role-to-assume"]
    if through_env := re.fullmatch(r"\$\{\{ env\.(\w+) \}\}", value):
        value = job.get("env", {}).get(through_env.group(1), "")
    if variable := re.fullmatch(r"\$\{\{ vars\.(AWS_\w+_ROLE_ARN) \}\}", value):
        return variable.group(1)
    if re.fullmatch(
        r"\$\{\{ fromJSON\(vars\.STAGES\)(\[inputs\.stage\]|\.(staging|production))\.plan_role_arn \}\}", value
    ):
        return PLAN_ROLE
    raise AssertionError(f"role-to-assume {step['with']['role-to-assume']!r} names no known role")


def assumes_role(job: dict[str, Any]) -> set[str]:
    """The roles a job (or the reusable workflow it calls) assumes through OIDC."""
    called = called_workflow(job)
    if called is not None:
        return set().union(*(assumes_role(inner) for inner in called.jobs.values()))
    return {
        role_assumed(step, job)
        for step in job.get("steps", [])
        if step.get("uses", "").startswith("aws-actions/configure-aws-credentials@")
    }


def environment_name(job: dict[str, Any]) -> str | None:
    environment = job.get("environment")
    return environment.get("name") if isinstance(environment, dict) else environment


# ------------------------------------------------------------------------------------------- triggers


def test_the_expected_workflows_exist(all_workflows: dict[str, Document]) -> None:
    assert set(all_workflows) == {
        "pull-request.yml",
        "deploy.yml",
        "retrain.yml",
        "drift.yml",
        "monitor.yml",
        "rollback.yml",
        *REUSABLE,
    }


def test_triggers(all_workflows: dict[str, Document]) -> None:
    assert all_workflows["pull-request.yml"].triggers == {"pull_request": {"branches": ["main"]}}
    deploy = all_workflows["deploy.yml"].triggers
    assert deploy["push"]["branches"] == ["main"]
    assert "workflow_dispatch" in deploy
    retrain = all_workflows["retrain.yml"].triggers
    assert set(retrain) == {"workflow_dispatch"}
    assert {"data", "params", "min-accuracy"} <= set(retrain["workflow_dispatch"]["inputs"])
    drift = all_workflows["drift.yml"].triggers
    assert re.fullmatch(r"\d+ \d+ \* \* \*", drift["schedule"][0]["cron"]), "drift runs daily"
    monitor = all_workflows["monitor.yml"].triggers
    assert set(monitor) == {"schedule", "workflow_dispatch"}
    assert re.fullmatch(r"\d+ \d+ \* \* \*", monitor["schedule"][0]["cron"]), "the monitor runs daily"
    assert set(all_workflows["rollback.yml"].triggers) == {"workflow_dispatch"}
    for name in REUSABLE:
        assert set(all_workflows[name].triggers) == {"workflow_call"}, name


def test_no_trigger_runs_untrusted_code_with_secrets(all_workflows: dict[str, Document]) -> None:
    for document in all_workflows.values():
        assert not {"pull_request_target", "workflow_run"} & set(document.triggers), document.name


# ---------------------------------------------------------------------------------------- permissions


def test_every_workflow_starts_with_no_permissions(all_workflows: dict[str, Document]) -> None:
    for document in all_workflows.values():
        assert document.data.get("permissions") == {}, f"{document.name}: top-level permissions must be {{}}"


def test_every_job_states_its_permissions(all_workflows: dict[str, Document]) -> None:
    for document in all_workflows.values():
        for job_id, job in document.jobs.items():
            assert "permissions" in job, f"{document.name}:{job_id} inherits permissions"
            assert job["permissions"] != "write-all", f"{document.name}:{job_id}"


def test_id_token_only_where_a_role_is_assumed(all_workflows: dict[str, Document]) -> None:
    for document in all_workflows.values():
        for job_id, job in document.jobs.items():
            wants_token = job["permissions"].get("id-token") == "write"
            assert wants_token == bool(assumes_role(job)), f"{document.name}:{job_id}"


def test_write_permissions_are_few_and_explained(all_workflows: dict[str, Document]) -> None:
    granted = {
        (document.name, job_id, scope)
        for document in all_workflows.values()
        for job_id, job in document.jobs.items()
        for scope, level in job["permissions"].items()
        if level == "write" and scope != "id-token"
    }
    assert granted == {("pull-request.yml", "comment-staging", "pull-requests")}
    for document in all_workflows.values():
        for line in document.text.splitlines():
            if re.match(r"\s+[a-z-]+: (read|write)\s*(#.*)?$", line):
                assert "#" in line, f"{document.name}: say why a permission is granted: {line.strip()}"


def test_callers_grant_what_reusable_workflows_ask_for(all_workflows: dict[str, Document]) -> None:
    """GitHub refuses to start a called job that asks for more than its caller granted."""
    for document in all_workflows.values():
        for job_id, job in document.jobs.items():
            called = called_workflow(job)
            if called is None:
                continue
            for inner_id, inner in called.jobs.items():
                for scope, level in inner["permissions"].items():
                    granted = job["permissions"].get(scope)
                    assert granted == level or (level == "read" and granted == "write"), (
                        f"{document.name}:{job_id} does not grant {scope}: {level} to {called.name}:{inner_id}"
                    )


# --------------------------------------------------------------------------------------- environments


def test_each_role_is_assumed_only_from_the_environment_its_trust_policy_names(all_runs: list[JobRun]) -> None:
    """Evaluated at every call site: `environment: ${{ inputs.stage }}` is the stage its caller passes, and
    each stage's deploy role trusts only its own stage's environment (the bootstrap's `stages`)."""
    trusted = bootstrap_environments()
    seen = set()
    for run in all_runs:
        for role in assumes_role(run.job):
            scopes = ROLE_SCOPES[role]
            environments = {None if scope is None else trusted[scope] for scope in scopes}
            assert run.environment in environments, f"{run.where} assumes {role} in {run.environment}"
            if role == "AWS_DEPLOY_ROLE_ARN":  # the stage's own role: its environment is its stage's
                assert run.environment == trusted[run.inputs["stage"]], run.where
            if role == PLAN_ROLE and "[inputs.stage]" in run.job["env"].get("PLAN_ROLE_ARN", ""):
                assert run.inputs["stage"] in STAGES, run.where
            seen.add((role, run.environment))
    assert seen == {
        ("AWS_DEPLOY_ROLE_ARN", trusted["staging"]),
        ("AWS_DEPLOY_ROLE_ARN", trusted["production"]),
        ("AWS_TRAIN_ROLE_ARN", trusted["training"]),
        ("AWS_MONITOR_ROLE_ARN", trusted["monitoring"]),
        (PLAN_ROLE, None),
    }


def stage_runs(all_runs: list[JobRun], environment: str) -> set[tuple[str, str, str]]:
    return {(run.caller.name, run.caller_job, run.document.name) for run in all_runs if run.environment == environment}


@pytest.mark.parametrize("stage", STAGES)
def test_a_stage_is_reached_only_through_the_release_and_rollback_jobs(all_runs: list[JobRun], stage: str) -> None:
    """A stage's environment (so its deploy role) is entered by _release.yml called with that stage, by
    deploy and retrain, and by rollback.yml's choice of that stage; by nothing else."""
    assert stage_runs(all_runs, bootstrap_environments()[stage]) == {
        ("deploy.yml", f"release-{stage}", "_release.yml"),
        ("retrain.yml", f"release-{stage}", "_release.yml"),
        ("rollback.yml", "rollback", "rollback.yml"),
    }


def test_the_stage_is_an_expression_evaluated_at_every_call_site(all_runs: list[JobRun]) -> None:
    """`environment: ${{ inputs.stage }}` must get a literal stage from every caller: one computed from
    anything else could name an environment the reviewer did not expect."""
    release = workflows()["_release.yml"].jobs["release"]
    assert release["environment"]["name"] == "${{ inputs.stage }}"
    assert workflows()["rollback.yml"].jobs["rollback"]["environment"] == "${{ inputs.stage }}"
    stages = [run.inputs["stage"] for run in all_runs if run.document.name in ("_release.yml", "rollback.yml")]
    assert sorted(stages) == sorted([*STAGES, *STAGES, *STAGES])
    rollback_stage = workflows()["rollback.yml"].triggers["workflow_dispatch"]["inputs"]["stage"]
    assert rollback_stage["type"] == "choice"
    assert set(rollback_stage["options"]) == set(STAGES)


def test_deploy_and_retrain_release_through_both_stages(all_workflows: dict[str, Document]) -> None:
    """Production gets staging's outputs, never a model or a build of its own."""
    for name in ("deploy.yml", "retrain.yml"):
        for stage in STAGES:
            job = all_workflows[name].jobs[f"release-{stage}"]
            assert job["uses"] == f"{LOCAL_USES}.github/workflows/_release.yml", name
            assert job["with"]["stage"] == stage
    staged = {
        "image-uri": "${{ needs.release-staging.outputs.image-uri }}",
        "model-version": "${{ needs.release-staging.outputs.model-version }}",
    }
    deploy = all_workflows["deploy.yml"].jobs
    assert deploy["release-staging"]["with"] == {"stage": "staging"}, "deploy ships the promoted model"
    assert deploy["release-production"]["with"] == {
        "stage": "production",
        **staged,
        "model-pointer-tag": "${{ needs.release-staging.outputs.model-pointer-tag }}",
    }
    assert deploy["release-production"]["if"] == "needs.release-staging.outputs.image-uri != ''"
    retrain = all_workflows["retrain.yml"].jobs
    assert retrain["release-staging"]["with"] == {"stage": "staging", "model-uri": "${{ needs.train.outputs.uri }}"}
    assert retrain["release-production"]["with"] == {
        "stage": "production",
        **staged,
        # Production's pointer as the gate judged it: checked before anything changes, and the promotion's
        # compare-and-set, so a rollback or promotion in between is not overwritten.
        "model-pointer-tag": "${{ needs.train.outputs.pointer-tag }}",
        "promote-version": "${{ needs.train.outputs.version }}",
        "allow-older-code": "${{ inputs.allow-older-code }}",
    }
    train = retrain["train"]
    assert train["outputs"]["pointer-tag"] == "${{ steps.gate.outputs.pointer-tag }}"
    gate_step = next(step for step in train["steps"] if step.get("id") == "gate")
    assert '--pointer-tag-output "$GITHUB_OUTPUT"' in gate_step["run"]


def test_pull_requests_and_drift_plan_through_the_same_reusable_workflow(all_runs: list[JobRun]) -> None:
    """Pull requests plan staging only: production's plan role does not trust pull_request, and its state can
    hold the API key's value. The drift check plans each stage in a job of its own (no matrix)."""
    plans = {
        (run.caller.name, run.caller_job, run.inputs["stage"]) for run in all_runs if run.document.name == "_plan.yml"
    }
    assert plans == {
        ("pull-request.yml", "plan-staging", "staging"),
        ("drift.yml", "plan-staging", "staging"),
        ("drift.yml", "plan-production", "production"),
    }
    for name in ("pull-request.yml", "deploy.yml"):
        assert workflows()[name].jobs["checks"]["uses"].endswith("/_checks.yml")
    assert not any("strategy" in job for document in workflows().values() for job in document.jobs.values())


def test_the_checks_run_every_make_target_that_ci_runs(all_workflows: dict[str, Document]) -> None:
    """What .ci/run runs, each pull request and deploy runs too: the rehearsal included."""
    ci_targets = re.findall(r"^make (\w+)", (REPO_ROOT / ".ci" / "run").read_text(), re.MULTILINE)
    checks = all_workflows["_checks.yml"].jobs
    run = [step.get("run", "") for job in checks.values() for step in job["steps"]]
    assert {"test", "rehearse"} <= set(ci_targets)
    for target in [*ci_targets, "lint"]:
        assert f"make {target}" in run, f"_checks.yml runs no `make {target}` step"


def test_the_monitor_fails_on_drift_and_is_skipped_without_its_role(all_workflows: dict[str, Document]) -> None:
    job = all_workflows["monitor.yml"].jobs["monitor"]
    assert job["permissions"] == {"contents": "read", "id-token": "write"}
    setup, *rest, keep = job["steps"]
    assert "vars.AWS_MONITOR_ROLE_ARN" in setup["env"]["ROLE_ARN"]
    assert all(step["if"] == "steps.setup.outputs.configured == 'true'" for step in rest)
    # The report step runs only after the judging step ran (so never without the role either).
    assert keep["uses"] == KEEP_REPORT
    judge = rest[-1]["run"]
    assert "lambda_model monitor" in judge
    assert '--summary-md "$GITHUB_STEP_SUMMARY"' in judge
    assert re.search(r"1\)\s+echo \"::error title=Model drift::.*\"\s+exit 1", judge)
    # The namespace the stack's function writes to: the stack's name, from the same variables as the stack's.
    assert job["env"]["NAMESPACE"] == "${{ vars.STACK_NAME_PREFIX }}-${{ vars.STACK_ENVIRONMENT }}"


# ------------------------------------------------------------------------------------------ job order


def needs_of(job: dict[str, Any]) -> set[str]:
    needs = job.get("needs", [])
    return {needs} if isinstance(needs, str) else set(needs)


def test_job_order(all_workflows: dict[str, Document]) -> None:
    deploy, retrain = all_workflows["deploy.yml"].jobs, all_workflows["retrain.yml"].jobs
    assert needs_of(deploy["release-staging"]) == {"checks"}
    assert needs_of(deploy["release-production"]) == {"release-staging"}
    assert needs_of(retrain["release-staging"]) == {"train"}
    assert needs_of(retrain["release-production"]) == {"train", "release-staging"}
    assert needs_of(all_workflows["pull-request.yml"].jobs["comment-staging"]) == {"plan-staging"}
    assert needs_of(all_workflows["drift.yml"].jobs["report"]) == {"plan-staging", "plan-production"}
    for document in all_workflows.values():
        for job_id, job in document.jobs.items():
            assert needs_of(job) <= set(document.jobs), f"{document.name}:{job_id} needs an unknown job"


def step_index(job: dict[str, Any], pattern: str) -> int:
    for index, step in enumerate(job["steps"]):
        if re.search(pattern, step.get("run", "") + step.get("uses", "")):
            return index
    raise AssertionError(f"no step matches {pattern!r}")


def test_the_release_checks_builds_applies_rolls_verifies_then_marks_or_promotes(
    all_workflows: dict[str, Document],
) -> None:
    release = all_workflows["_release.yml"].jobs["release"]
    assert (
        "inputs.stage" in release["steps"][0]["name"].lower()
        or release["steps"][0]["name"] == "Refuse an unknown stage"
    )
    order = [
        step_index(release, r"case \"\$STAGE\" in"),
        step_index(release, r"configure-aws-credentials@"),
        step_index(release, r"/actions/build-image"),
        step_index(release, r"lambda_release check-staged"),
        step_index(release, r"--pointer-tag-output \"\$recorded\""),
        step_index(release, r"lambda_release check-newer-code"),
        step_index(release, r"terraform -chdir=terraform apply -input=false -auto-approve -lock-timeout=10m"),
        step_index(release, r"lambda_release deploy"),
        step_index(release, r"lambda_release verify-alarms"),
        step_index(release, r"lambda_release mark-staged"),
        step_index(release, r"lambda_model promote"),
    ]
    assert order == sorted(order), order
    assert order[0] == 0, "the stage is checked before anything else"
    rollout = release["steps"][order[7]]
    assert "tests/integration" in rollout["run"]
    assert rollout["env"]["ENDPOINT_URL"] == "${{ steps.stack.outputs.endpoint-url }}"
    # The live tests must pass an API key when the stack requires one; the key is masked first.
    key_step = release["steps"][step_index(release, r"get-api-key")]
    assert "::add-mask::" in key_step["run"]
    assert step_index(release, r"get-api-key") < order[7]
    for step in (rollout, release["steps"][order[8]]):
        assert step["env"]["API_KEY"] == f"${{{{ steps.{key_step['id']}.outputs.value }}}}"
    # The promotion is the compare-and-set against the pointer production checked before it started.
    promote = release["steps"][order[10]]
    assert promote["env"]["IF_POINTER"] == "${{ inputs.model-pointer-tag }}"
    assert '--if-pointer "$IF_POINTER"' in promote["run"]


# Outputs a successful release's steps write that the conditions compare with a literal; any other output a
# step that ran writes is some non-empty value, and a step that did not run writes none.
SUCCESSFUL_OUTPUTS = {"steps.rollout.outputs.status": "live"}
BUILDS = re.compile(r"/actions/build-image|amazon-ecr-login@|docker (build|push)|buildx")


def steps_that_run(inputs: dict[str, str], outputs: dict[str, str] | None = None) -> list[dict[str, Any]]:
    """The release job's steps a successful run with these inputs runs, its `if:`s evaluated in order as
    GitHub does (the rehearsal's evaluator): a step's outputs exist only once it ran."""
    job = workflows()["_release.yml"].jobs["release"]
    referenced = set(re.findall(r"steps\.[\w-]+\.outputs\.[\w-]+", str(job)))
    context = {f"inputs.{name}": value for name, value in inputs.items()}
    ran = []
    for step in job["steps"]:
        if evaluate_condition(step.get("if"), context, JobStatus()):
            ran.append(step)
            for name in referenced:
                if step.get("id") and name.startswith(f"steps.{step['id']}.outputs."):
                    context[name] = {**SUCCESSFUL_OUTPUTS, **(outputs or {})}.get(name, "written")
    return ran


def script_of(step: dict[str, Any]) -> str:
    return step.get("run", "") + step.get("uses", "")


@pytest.mark.parametrize("promote", ["", "20260101T000000Z-abc"])
def test_the_production_path_never_builds_and_checks_before_it_changes_anything(promote: str) -> None:
    ran = [script_of(step) for step in steps_that_run({"stage": "production", "promote-version": promote})]
    assert not [script for script in ran if BUILDS.search(script)], "production deploys staging's digest"
    assert not [script for script in ran if "mark-staged" in script], "only staging may record a pass"
    guards = ["lambda_release check-staged", '--pointer-tag-output "$recorded"', "lambda_release check-newer-code"]
    changes = [index for index, script in enumerate(ran) if "terraform -chdir=terraform apply" in script]
    assert changes, "production applies its stack"
    for guard in guards:
        (index,) = [index for index, script in enumerate(ran) if guard in script]
        assert index < changes[0], f"{guard} runs after the apply"
    assert any("lambda_release deploy" in script for script in ran)
    assert any("lambda_model promote" in script for script in ran) == bool(promote)


def test_the_staging_path_builds_verifies_and_marks_the_digest_staged() -> None:
    ran = [script_of(step) for step in steps_that_run({"stage": "staging", "promote-version": ""})]
    assert any("/actions/build-image" in script for script in ran)
    assert not [script for script in ran if "check-staged" in script or "lambda_model promote" in script]
    indexes = {
        what: [index for index, script in enumerate(ran) if what in script]
        for what in ("lambda_release deploy", "lambda_release verify-alarms", "lambda_release mark-staged")
    }
    assert all(len(found) == 1 for found in indexes.values()), indexes
    deploy, alarms, marked = (found[0] for found in indexes.values())
    assert deploy < alarms < marked, "the digest is marked only once everything else passed"


def test_staging_marks_nothing_when_its_rollout_failed_and_ships_nothing_without_a_model() -> None:
    staging = {"stage": "staging", "promote-version": ""}
    failed = [script_of(step) for step in steps_that_run(staging, {"steps.rollout.outputs.status": "rolled-back"})]
    assert not [script for script in failed if "mark-staged" in script or "verify-alarms" in script]
    # An empty store: nothing built, so the image step (which copies the build's outputs) names none.
    empty = {"steps.model.outputs.uri": "", "steps.image.outputs.uri": ""}
    shipped = [script_of(step) for step in steps_that_run(staging, empty)]
    assert not [script for script in shipped if BUILDS.search(script) or "terraform -chdir=terraform apply" in script]


def test_retrain_gates_before_anything_is_released(all_workflows: dict[str, Document]) -> None:
    train = all_workflows["retrain.yml"].jobs["train"]
    assert step_index(train, r"lambda_model train") < step_index(train, r"lambda_model gate")
    assert "--no-promote" in train["steps"][step_index(train, r"lambda_model train")]["run"]
    gate = train["steps"][step_index(train, r"lambda_model gate")]
    assert '--summary-md "$GITHUB_STEP_SUMMARY"' in gate["run"]
    assert "continue-on-error" not in gate, "a failed gate must stop the release"
    assert "--report build/report" in gate["run"], "the summary's tables and the pictures come from the gate's run"


KEEP_REPORT = "$/.github/actions/keep-report"


@pytest.mark.parametrize(
    ("workflow", "job_id", "step_id", "folder"),
    [("retrain.yml", "train", "gate", "build/report"), ("monitor.yml", "monitor", "monitor", "build/monitor-report")],
)
def test_the_report_is_kept_and_linked_from_the_summary_whatever_the_verdict(
    all_workflows: dict[str, Document], workflow: str, job_id: str, step_id: str, folder: str
) -> None:
    steps = all_workflows[workflow].jobs[job_id]["steps"]
    judging = next(index for index, step in enumerate(steps) if step.get("id") == step_id)
    assert f"--report {folder}" in steps[judging]["run"]
    (keep,) = [step for step in steps if step.get("uses") == KEEP_REPORT]
    assert steps.index(keep) > judging
    assert keep["with"]["folder"] == folder
    # Kept after a failed gate or on drift too, when the pictures matter most; not when the step never ran.
    outcome = f"steps.{step_id}.outcome"
    assert keep["if"] == f"${{{{ !cancelled() && ({outcome} == 'success' || {outcome} == 'failure') }}}}"


def test_the_report_action_uploads_the_page_unzipped_and_links_both_artifacts() -> None:
    action = actions()["keep-report"]
    steps = action.data["runs"]["steps"]
    uploads = {step["id"]: step for step in steps if "upload-artifact@" in step.get("uses", "")}
    # The page opens in the browser (archive: false needs v7+); the pictures are every PNG the report drew.
    assert uploads["page"]["with"] == {
        "path": "${{ inputs.folder }}/report.html",
        "archive": False,
        "retention-days": 30,
    }
    assert uploads["pictures"]["with"]["path"] == "${{ inputs.folder }}/*.png"
    link = steps[-1]
    assert link["env"]["PAGE_URL"] == "${{ steps.page.outputs.artifact-url }}"
    assert link["env"]["PICTURES_URL"] == "${{ steps.pictures.outputs.artifact-url }}"
    assert '"$GITHUB_STEP_SUMMARY"' in link["run"]


# --------------------------------------------------------------------------- timeouts and concurrency


def test_every_job_that_runs_has_a_timeout(all_workflows: dict[str, Document]) -> None:
    for document in all_workflows.values():
        for job_id, job in document.jobs.items():
            if "runs-on" in job:
                assert 0 < job.get("timeout-minutes", 0) <= 60, f"{document.name}:{job_id}"


def test_shared_state_is_changed_one_run_at_a_time(all_workflows: dict[str, Document]) -> None:
    for name in ("pull-request.yml", "retrain.yml", "drift.yml"):
        assert "group" in all_workflows[name].data["concurrency"], name
    assert all_workflows["retrain.yml"].data["concurrency"]["cancel-in-progress"] is False
    # deploy.yml has no group of its own: its stage jobs queue per stage, so a newer merge can pass staging
    # while an older one waits for production's reviewers.
    assert "concurrency" not in all_workflows["deploy.yml"].data
    # What moves a stage's alias is never cancelled halfway; each stage and workflow queues on its own group
    # (test_stack_wiring: a shared group would drop a pending rollback or retrain release).
    expected = {
        "_release.yml": ("release", "${{ inputs.stage }}-${{ github.workflow }}"),
        "rollback.yml": ("rollback", "${{ inputs.stage }}-rollback"),
    }
    for name, (job_id, group) in expected.items():
        assert all_workflows[name].jobs[job_id]["concurrency"] == {"group": group, "cancel-in-progress": False}


# ---------------------------------------------------------------------------------- pinning and secrets


def test_every_action_is_pinned_to_a_commit_with_its_version_in_a_comment() -> None:
    pins: dict[str, set[str]] = {}
    for document in all_documents():
        read = 0
        for line in document.text.splitlines():
            match = re.match(r"\s*(?:-\s+)?uses:\s*(\S+)(.*)$", line)
            if not match or match.group(1).startswith(LOCAL_USES):
                continue
            read += 1
            reference, comment = match.groups()
            assert PINNED_USES.match(reference), f"{document.name}: {reference} is not pinned to a commit"
            assert VERSION_COMMENT.search(comment), f"{document.name}: {reference} needs a '# vX.Y.Z' comment"
            action, sha = reference.split("@")
            pins.setdefault(action, set()).add(sha + comment.strip())
        # Every `uses:` the YAML parser sees (steps and jobs) went through the checks above, none around them.
        external = [uses for uses in document_uses(document) if not uses.startswith(LOCAL_USES)]
        assert read == len(external), f"{document.name}: {len(external)} external uses:, {read} checked"
    for action, versions in pins.items():
        assert len(versions) == 1, f"{action} is pinned to different commits: {versions}"


def document_uses(document: Document) -> list[str]:
    """Every `uses:` value of a workflow's jobs and steps, or of a composite action's steps."""
    jobs = document.data.get("jobs") or {}
    uses = [job["uses"] for job in jobs.values() if "uses" in job]
    return uses + [step["uses"] for _, step in steps_of(document) if "uses" in step]


def test_local_references_point_at_files_that_exist() -> None:
    for where, step in all_steps():
        uses = step.get("uses", "")
        if uses.startswith(LOCAL_USES):
            action = ACTIONS_DIR.parent.parent / uses.removeprefix(LOCAL_USES) / "action.yml"
            assert action.is_file(), f"{where}: {uses}"
            declared = set(actions()[action.parent.name].data.get("inputs", {}))
            assert set(step.get("with", {})) <= declared, f"{where}: unknown inputs for {uses}"
    for document in workflows().values():
        for job_id, job in document.jobs.items():
            called = called_workflow(job)
            if called is not None:
                declared = set((called.triggers["workflow_call"] or {}).get("inputs") or {})
                assert set(job.get("with", {})) <= declared, f"{document.name}:{job_id}"


def test_no_stored_keys_or_secrets() -> None:
    for document in all_documents():
        assert "secrets." not in document.text, document.name
        assert "secrets: inherit" not in document.text, document.name
        for forbidden in ("aws-access-key-id", "aws-secret-access-key", "AWS_SECRET_ACCESS_KEY", "AKIA"):
            assert forbidden not in document.text, f"{document.name} mentions {forbidden}"


def test_roles_and_region_come_from_variables() -> None:
    for document in workflows().values():
        for job_id, job in document.jobs.items():
            for step in job.get("steps", []):
                if step.get("uses", "").startswith("aws-actions/configure-aws-credentials@"):
                    assert role_assumed(step, job) in ROLE_SCOPES, f"{document.name}:{job_id}"
                    assert step["with"]["aws-region"] == "${{ vars.AWS_REGION }}", f"{document.name}:{job_id}"


def test_no_expression_inside_a_shell_script() -> None:
    """Values reach scripts through env:, so no input or output can inject shell code."""
    for where, step in all_steps():
        assert "${{" not in step.get("run", ""), f"{where}: {step.get('name')}"


def test_checkouts_do_not_keep_the_token() -> None:
    checkouts = [(where, step) for where, step in all_steps() if step.get("uses", "").startswith("actions/checkout@")]
    assert checkouts
    for where, step in checkouts:
        assert step.get("with", {}).get("persist-credentials") is False, where


def test_every_step_output_read_is_written_by_a_step_with_that_id() -> None:
    for document in all_documents():
        jobs = list(document.jobs.values()) or [document.data.get("runs", {})]
        for job in jobs:
            ids = {step["id"] for step in job.get("steps", []) if "id" in step}
            text = str(job)
            for step_id in re.findall(r"steps\.([\w-]+)\.outputs", text):
                assert step_id in ids, f"{document.name}: steps.{step_id} is not a step id"


def test_every_needs_output_read_is_declared() -> None:
    for document in workflows().values():
        for job_id, job in document.jobs.items():
            for needed, output in re.findall(r"needs\.([\w-]+)\.outputs\.([\w-]+)", str(job)):
                assert needed in needs_of(job), f"{document.name}:{job_id} reads {needed} without needing it"
                producer = document.jobs[needed]
                called = called_workflow(producer)
                declared = called.triggers["workflow_call"]["outputs"] if called else producer.get("outputs", {})
                assert output in declared, f"{document.name}:{job_id} reads undeclared {needed}.{output}"


@pytest.mark.parametrize("name", sorted(REUSABLE))
def test_reusable_workflows_have_no_concurrency_of_their_own_at_the_top(name: str) -> None:
    """In a called workflow github.workflow is the caller's name: a workflow-level group there can collide
    with the caller's own group and cancel the run. Job-level groups (the release job's) are fine."""
    assert "concurrency" not in workflows()[name].data


def test_the_workflow_folder_holds_only_workflows() -> None:
    assert {path.suffix for path in WORKFLOWS_DIR.iterdir()} == {".yml"}
