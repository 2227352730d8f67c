"""The machine the rehearsal plays on: one empty moto account behind a proxy, the stand-ins that answer what
moto cannot (Lambda's invokes and metrics, CloudWatch's EMF extraction), the IAM audit of every call, and a
checkout copy the workflows run in. Neither GitHub's side (rehearsal.github) nor what the stages check
(rehearsal.checks) lives here."""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rehearsal import emf_metrics
from rehearsal.lambda_service import LambdaService
from rehearsal.permissions import RoleAudit
from rehearsal.proxy import ProxiedRequest, Reply, proxy_to
from rehearsal.servers import local_client
from rehearsal.steps import REPO_ROOT
from rehearsal.terraform import cli_config, find_mirror, plugin_cache_dir, provider_override, s3_backend_override

REGION = "eu-central-1"
ACCOUNT = "123456789012"  # moto's
# What the workflows run from the checkout besides app/ and terraform/ (copied: the build writes app/model).
CHECKOUT_LINKS = (".venv", ".github", "tests", "tools", "pyproject.toml", "Makefile", "requirements")
# What a fresh runner keeps of the caller's environment: no credentials, no TF_ variables.
RUNNER_KEEPS = ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR", "USER", "SSL_CERT_FILE", "XDG_CACHE_HOME")


class StageFailed(AssertionError):
    """A rehearsed stage did not end as documented (the first line says how, the rest is the log)."""


@dataclass
class Machine:
    endpoint: str  # what the workflows call: the proxy in front of moto
    moto_endpoint: str  # moto itself, for the rehearsal's own (unaudited) calls
    workspace: Path
    service: LambdaService
    audit: RoleAudit
    metrics: emf_metrics.EmfMetrics

    @classmethod
    @contextlib.contextmanager
    def running(cls, moto_endpoint: str, workspace: Path) -> Iterator[Machine]:
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
        audit = RoleAudit(
            local_client(moto_endpoint, "iam"),
            ACCOUNT,
            endpoint="",
            apigateway=local_client(moto_endpoint, "apigateway"),
        )
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
            machine = cls(endpoint, moto_endpoint, workspace, service, audit, metrics)
            # A history of its own: production's release compares its live image's commit with the run's
            # (git merge-base --is-ancestor), so each rehearsed merge is a commit of this repository.
            machine.git("init", "--quiet", "--initial-branch=main")
            machine.git("add", "--all")
            machine.git("commit", "--quiet", "--message=The checkout the rehearsal starts from")
            try:
                yield machine
            finally:
                service.stop()

    def git(self, *arguments: str) -> str:
        """git in the workspace, with an identity of its own (none of the caller's configuration)."""
        result = subprocess.run(
            ["git", "-c", "user.name=rehearsal", "-c", "user.email=rehearsal@example.com", *arguments],
            cwd=self.workspace,
            env={**self.runner_env({}), "GIT_CONFIG_GLOBAL": os.devnull, "GIT_CONFIG_NOSYSTEM": "1"},
            capture_output=True,
            text=True,
            check=False,
        )
        if result.returncode != 0:
            raise StageFailed(f"git {' '.join(arguments)} exited {result.returncode}: {result.stderr.strip()}")
        return result.stdout.strip()

    def runner_env(self, github: Mapping[str, str]) -> dict[str, str]:
        """A fresh runner's environment: nothing of the caller's but PATH and the like, AWS calls sent to moto
        through the proxy, and `github`'s GITHUB_* variables."""
        env = {name: os.environ[name] for name in RUNNER_KEEPS if name in os.environ}
        env["PATH"] = f"{REPO_ROOT / '.venv' / 'bin'}:{env.get('PATH', '/usr/bin:/bin')}"
        env.update(
            AWS_ENDPOINT_URL=self.endpoint,
            TF_CLI_CONFIG_FILE=str(self.workspace / "terraformrc"),
            TF_IN_AUTOMATION="1",
            TF_INPUT="0",
            CHECKPOINT_DISABLE="1",
            GITHUB_ACTIONS="true",
        )
        env.update(github)
        return env

    def admin_env(self) -> dict[str, str]:
        """The rehearsal's own credentials (the bootstrap's administrator; no pipeline role, so not audited)."""
        return {
            **self.runner_env({}),
            "AWS_ACCESS_KEY_ID": "admin",
            "AWS_SECRET_ACCESS_KEY": "admin",
            "AWS_REGION": REGION,
            "AWS_DEFAULT_REGION": REGION,
        }

    def client(self, service: str) -> Any:
        return local_client(self.moto_endpoint, service)

    def terraform(self, root: Path, *arguments: str) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(
            ["terraform", *arguments], cwd=root, env=self.admin_env(), capture_output=True, text=True, check=False
        )
        if result.returncode != 0:
            raise StageFailed(
                f"terraform {arguments[0]} in {root.name} exited {result.returncode}\n{result.stderr[-4000:]}"
            )
        return result
