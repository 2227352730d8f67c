"""Terraform fixtures: the CLI pointed at a local provider mirror (or the registry, with the committed lock
files, where the machine has none), and one initialised copy of each root."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import pytest

from rehearsal import servers as processes
from rehearsal.servers import MOTO_OVER_HTTPS
from rehearsal.terraform import cli_config, find_mirror, plugin_cache_dir
from tests.support.servers import REPO_ROOT, log_path

TERRAFORM_DIR = REPO_ROOT / "terraform"
ROOTS = {"stack": TERRAFORM_DIR, "bootstrap": TERRAFORM_DIR / "bootstrap"}
# The local modules the roots call (source = "./modules/NAME" or "../modules/NAME"); each has its own tests.
MODULES = {path.name: path for path in sorted((TERRAFORM_DIR / "modules").iterdir()) if any(path.glob("*.tf"))}


@dataclass(frozen=True)
class Terraform:
    """The terraform CLI with a private CLI config (see cli_config) and no credentials of the caller."""

    binary: str
    env: Mapping[str, str]

    def run(
        self,
        *args: str,
        cwd: Path,
        env: Mapping[str, str] | None = None,
        timeout: float = 240,
        check: bool = True,
    ) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(
            [self.binary, *args],
            cwd=cwd,
            env={**self.env, **(env or {})},
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        if check and result.returncode != 0:
            pytest.fail(
                f"terraform {' '.join(args)} (in {cwd}) exited {result.returncode}\n"
                f"--- stdout ---\n{result.stdout[-6000:]}\n--- stderr ---\n{result.stderr[-6000:]}"
            )
        return result

    def popen(self, *args: str, cwd: Path, env: Mapping[str, str] | None = None) -> subprocess.Popen[str]:
        return subprocess.Popen(
            [self.binary, *args],
            cwd=cwd,
            env={**self.env, **(env or {})},
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )


@pytest.fixture(scope="session")
def terraform(tmp_path_factory: pytest.TempPathFactory) -> Terraform:
    binary = shutil.which("terraform")
    if binary is None:
        pytest.skip("terraform is not on PATH (CI installs it; see docs/infrastructure.md)")
    home = tmp_path_factory.mktemp("terraform-cli")
    config = home / "terraformrc"
    config.write_text(cli_config(find_mirror(), plugin_cache_dir()))
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("TF_", "AWS_")) or key in ("AWS_CA_BUNDLE",)
    }
    env.update(
        TF_CLI_CONFIG_FILE=str(config),
        TF_IN_AUTOMATION="1",
        TF_INPUT="0",
        CHECKPOINT_DISABLE="1",
        # Test roots never see real credentials, even if the developer's shell has some.
        AWS_ACCESS_KEY_ID="testing",
        AWS_SECRET_ACCESS_KEY="testing",
        AWS_REGION="eu-central-1",
    )
    return Terraform(binary=binary, env=env)


def copy_terraform(destination: Path) -> dict[str, Path]:
    """terraform/ without any local .terraform/, state or override files of a developer; where each root and
    module is in the copy. The tree is copied whole because the roots call the modules by relative path."""
    shutil.copytree(
        TERRAFORM_DIR,
        destination,
        ignore=shutil.ignore_patterns(".terraform", "*.tfstate*", "*_override.tf", "*.tfplan"),
    )
    return {name: destination / path.relative_to(TERRAFORM_DIR) for name, path in {**ROOTS, **MODULES}.items()}


@pytest.fixture(scope="session")
def initialized_configs(terraform: Terraform, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """terraform/ copied once, each root and module initialised without a backend, for
    validate and test.

    -lockfile=readonly makes a stale committed .terraform.lock.hcl of a root fail here instead of being
    rewritten; a module has no lock file of its own (its callers' lock files pin the provider).
    """
    configs = copy_terraform(tmp_path_factory.mktemp("terraform-roots") / "terraform")
    for name, config in configs.items():
        lockfile = ["-lockfile=readonly"] if name in ROOTS else []
        terraform.run("init", "-backend=false", *lockfile, "-no-color", cwd=config)
    return configs


@pytest.fixture(scope="session")
def moto_over_https() -> Iterator[str]:
    """The rehearsal's moto (rehearsal.moto_launch with its corrections): every request stands in for an HTTPS
    one, so the bootstrap's TLS-only bucket policies let the stacks' S3 backend and the tests' object calls
    through, as on AWS, and a function reads back as written. The apply tests use the bootstrap's own state
    bucket and model bucket, which the tests' plain moto would refuse every object call on."""
    with processes.moto_server(log_path("moto_over_https"), MOTO_OVER_HTTPS) as endpoint:
        yield endpoint
