"""The bootstrap's policies exactly as Terraform renders them: `terraform plan -out` + `terraform show -json`.

A plan needs an AWS API for the caller identity, so the caller points AWS_ENDPOINT_URL at a local moto
server in `env`; every policy document is made of locals and data sources, hence known at plan time.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

Policy = dict[str, Any]


class RenderError(RuntimeError):
    """terraform failed, or a policy the checks need was not in the plan."""


@dataclass(frozen=True)
class BootstrapPolicies:
    """Role key (staging-plan, production-deploy, train, ...) → its inline policy; stage key → the permissions
    boundary of that stage's function role; every policy document of the plan by resource address (for the
    static lint); and the outputs the plan already knows (names and keys made of variables and the account)."""

    roles: dict[str, Policy]
    function_boundaries: dict[str, Policy]
    documents: dict[str, Policy]
    outputs: dict[str, Any]


def _terraform(binary: str, *args: str, cwd: Path, env: Mapping[str, str]) -> str:
    result = subprocess.run([binary, *args], cwd=cwd, env=dict(env), capture_output=True, text=True, timeout=240)
    if result.returncode != 0:
        raise RenderError(f"terraform {' '.join(args)} exited {result.returncode}:\n{result.stderr[-4000:]}")
    return result.stdout


def render_bootstrap(
    terraform_dir: Path,
    workdir: Path,
    env: Mapping[str, str],
    variables: Mapping[str, str],
    binary: str = "terraform",
) -> BootstrapPolicies:
    """Copy terraform/ (the bootstrap calls ../modules) into `workdir`, plan the bootstrap, read the policies."""
    copy = workdir / "terraform"
    shutil.copytree(terraform_dir, copy, ignore=shutil.ignore_patterns(".terraform", "*.tfstate*", "*_override.tf"))
    root = copy / "bootstrap"
    _terraform(binary, "init", "-backend=false", "-input=false", "-no-color", cwd=root, env=env)
    var_flags = [f"-var={key}={value}" for key, value in variables.items()]
    _terraform(binary, "plan", "-input=false", "-no-color", "-out=policies.tfplan", *var_flags, cwd=root, env=env)
    plan = json.loads(_terraform(binary, "show", "-json", "policies.tfplan", cwd=root, env=env))
    return _policies(plan)


def _policies(plan: Mapping[str, Any]) -> BootstrapPolicies:
    documents = {
        resource["address"]: _document(resource["address"], resource["values"].get("policy"))
        for resource in plan["planned_values"]["root_module"].get("resources", [])
        if resource["type"] in ("aws_iam_role_policy", "aws_iam_policy")
    }
    roles = _by_key(documents, "aws_iam_role_policy.github")
    boundaries = _by_key(documents, "aws_iam_policy.function_boundary")
    if not roles or not boundaries:
        raise RenderError("the plan has no aws_iam_role_policy.github[...] or aws_iam_policy.function_boundary[...]")
    # An output with unknown parts (a role's ARN) is in output_changes with its known parts only.
    outputs = {name: change.get("after") for name, change in plan.get("output_changes", {}).items()}
    return BootstrapPolicies(roles=roles, function_boundaries=boundaries, documents=documents, outputs=outputs)


def _by_key(documents: Mapping[str, Policy], address: str) -> dict[str, Policy]:
    """The documents of the for_each resource at `address`, by their keys."""
    return {
        name.removeprefix(f'{address}["').removesuffix('"]'): document
        for name, document in documents.items()
        if name.startswith(f'{address}["')
    }


def _document(address: str, document: Any) -> Policy:
    if not isinstance(document, str):
        raise RenderError(f"{address}: the policy is not known at plan time")
    return json.loads(document)
