"""Terraform pointed at a local moto server: the CLI configuration (a local provider mirror, or the
registry with the committed lock files) and the override files that send the provider and the S3 backend
to the endpoint. Shared by the rehearsal and tests/terraform."""

from __future__ import annotations

import os
from pathlib import Path

PROVIDER = Path("registry.terraform.io/hashicorp/aws")
# Where CI images and developer machines keep an unpacked provider mirror; TF_PLUGIN_MIRROR wins.
MIRROR_CANDIDATES = (
    "/opt/tf-plugins",
    "/usr/local/share/terraform/plugins",
    "/usr/share/terraform/plugins",
    "~/.terraform.d/plugins",
    "~/.local/share/terraform/plugins",
)
# The services the roots call; moto serves them all on one endpoint.
SERVICES = ("apigateway", "cloudwatch", "ecr", "iam", "lambda", "logs", "s3", "sts")


def find_mirror() -> Path | None:
    """The first directory holding an unpacked hashicorp/aws provider for this machine."""
    candidates = [os.environ.get("TF_PLUGIN_MIRROR", ""), *MIRROR_CANDIDATES]
    for candidate in filter(None, candidates):
        path = Path(candidate).expanduser()
        if any((path / PROVIDER).glob("*/linux_amd64/terraform-provider-aws_*")):
            return path
    return None


def cli_config(mirror: Path | None, plugin_cache: Path) -> str:
    """The CLI configuration terraform runs with.

    With a mirror on this machine, hashicorp providers come only from it (no network). Without one, as on
    a GitHub-hosted runner, terraform installs them from the registry as `terraform init` normally does:
    the roots' committed lock files pin the versions and checksums, and the shared plugin cache keeps one
    download across inits and across sessions.
    """
    if mirror is None:
        return f'plugin_cache_dir = "{plugin_cache}"\n'
    return (
        "provider_installation {\n"
        f'  filesystem_mirror {{\n    path    = "{mirror}"\n    include = ["registry.terraform.io/hashicorp/*"]\n  }}\n'
        '  direct {\n    exclude = ["registry.terraform.io/hashicorp/*"]\n  }\n'
        "}\n"
    )


def plugin_cache_dir() -> Path:
    """Where registry downloads are kept between sessions (TF_PLUGIN_CACHE_DIR wins, as for terraform)."""
    configured = os.environ.get("TF_PLUGIN_CACHE_DIR")
    cache = Path(configured) if configured else Path(os.environ.get("XDG_CACHE_HOME", "~/.cache")) / "terraform-plugins"
    cache = cache.expanduser()
    cache.mkdir(parents=True, exist_ok=True)
    return cache


def provider_override(endpoint: str, static_credentials: bool = True) -> str:
    """The aws provider sent to `endpoint`. Without `static_credentials` it uses the environment's (the
    rehearsal's assumed-role session), as on a runner."""
    endpoints = "\n".join(f'    {service:<10} = "{endpoint}"' for service in SERVICES)
    keys = '  access_key                  = "testing"\n  secret_key                  = "testing"\n'
    return f"""
provider "aws" {{
{keys if static_credentials else ""}  skip_credentials_validation = true
  skip_metadata_api_check     = true
  s3_use_path_style           = true
  endpoints {{
{endpoints}
  }}
}}
"""


def s3_backend_override(endpoint: str) -> str:
    """Replaces the stack's backend block (override files replace it whole): same S3 backend, local endpoint."""
    return f"""
terraform {{
  backend "s3" {{
    use_lockfile                = true
    encrypt                     = true
    use_path_style              = true
    skip_credentials_validation = true
    skip_requesting_account_id  = true
    skip_metadata_api_check     = true
    endpoints = {{
      s3  = "{endpoint}"
      sts = "{endpoint}"
    }}
  }}
}}
"""
