"""Where the Terraform tests get the AWS provider: a machine's mirror when it has one, else the registry with
the committed lock files, as on a GitHub-hosted runner (which has no mirror)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from rehearsal import terraform as provider_installation
from rehearsal.terraform import cli_config, find_mirror
from tests.terraform import conftest


def test_no_mirror_is_found_where_none_is_unpacked(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TF_PLUGIN_MIRROR", str(tmp_path))
    monkeypatch.setattr(provider_installation, "MIRROR_CANDIDATES", ())
    assert find_mirror() is None


def test_a_mirror_keeps_the_hashicorp_providers_off_the_network(tmp_path: Path) -> None:
    config = cli_config(tmp_path / "mirror", tmp_path / "cache")
    assert f'path    = "{tmp_path / "mirror"}"' in config
    assert 'exclude = ["registry.terraform.io/hashicorp/*"]' in config


def test_without_a_mirror_terraform_installs_from_the_registry_with_the_lock_file(tmp_path: Path) -> None:
    """A runner without a mirror must reach `init`, not fail the session; offline here, the registry is
    unreachable on purpose, so the only failure left is the download itself."""
    binary = shutil.which("terraform")
    if binary is None:
        pytest.skip("terraform is not on PATH")
    cache = tmp_path / "cache"
    cache.mkdir()
    config = tmp_path / "terraformrc"
    config.write_text(cli_config(None, cache))
    assert "filesystem_mirror" not in config.read_text()
    root = tmp_path / "stack"
    root.mkdir()
    for name in ("versions.tf", ".terraform.lock.hcl"):
        shutil.copy(conftest.TERRAFORM_DIR / name, root / name)
    result = subprocess.run(
        [binary, "init", "-backend=false", "-lockfile=readonly", "-no-color"],
        cwd=root,
        env={
            "PATH": "/usr/bin:/bin",
            "HOME": str(tmp_path),
            "TF_CLI_CONFIG_FILE": str(config),
            "CHECKPOINT_DISABLE": "1",
            # Nothing listens here: the registry request fails at once instead of waiting for a timeout.
            "HTTPS_PROXY": "http://127.0.0.1:9",
        },
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode != 0
    assert "registry.terraform.io" in result.stderr + result.stdout
    assert "mirror" not in (result.stderr + result.stdout).lower()
