"""What production checks about an image before it changes anything, and what staging records for it.

    python -m lambda_release mark-staged      --image-uri REPO@sha256:...
    python -m lambda_release check-staged     (--image-uri REPO@sha256:... | --function NAME [--alias live])
    python -m lambda_release check-newer-code --function NAME [--alias live] --commit SHA [--allow-older-code]

Staging marks the digest it passed with an ECR tag `<tag>-staged` on the same manifest (BatchGetImage, then
PutImage of that manifest under the new tag: no layer moves). Only the staging deploy role may PutImage, so
the production role, which checks the tag, cannot write one. The repository's tags are immutable, so a tag,
once written, names that digest for good.

An image's tag is `<commit sha>-<model version>` (the build-image action), so the digest a function serves
also says which commit its code comes from: production refuses to replace code that this run's commit does
not contain (`git merge-base --is-ancestor`), which a retrain started on an older main would otherwise do.
"""

from __future__ import annotations

import re
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

STAGED_SUFFIX = "-staged"
# <registry>/<repository>@sha256:<64 hex>: the only form production deploys, so a tag cannot move under it.
_BY_DIGEST = re.compile(r"^(?P<registry>[^/@\s]+)/(?P<repository>[^@:\s]+)@(?P<digest>sha256:[0-9a-f]{64})$")
# The build's tag (and its -staged twin): the commit is the 40 hex digits before the model version.
_RELEASE_TAG = re.compile(r"^(?P<commit>[0-9a-f]{40})-.+$")


class StageCheckError(Exception):
    """An image or commit cannot be checked at all (bad input, not in the repository, no tags)."""


class StageCheckRefused(Exception):
    """The check ran and said no: production must not ship this image (or over this live image)."""


@dataclass(frozen=True)
class Image:
    """An image in ECR, named by its digest."""

    registry: str
    repository: str
    digest: str

    @classmethod
    def parse(cls, uri: str) -> Image:
        match = _BY_DIGEST.match(uri)
        if not match:
            raise StageCheckError(f"{uri!r} is not an image by digest (REGISTRY/REPOSITORY@sha256:<64 hex>)")
        return cls(match["registry"], match["repository"], match["digest"])

    @property
    def uri(self) -> str:
        return f"{self.registry}/{self.repository}@{self.digest}"


def image_tags(ecr: Any, image: Image) -> list[str]:
    """The digest's tags (DescribeImages by digest); an image not in the repository is an error."""
    try:
        response = ecr.describe_images(repositoryName=image.repository, imageIds=[{"imageDigest": image.digest}])
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") in ("ImageNotFoundException", "RepositoryNotFoundException"):
            raise StageCheckError(f"{image.uri} is not in the repository {image.repository}") from error
        raise
    details = response.get("imageDetails") or []
    if not details:
        raise StageCheckError(f"{image.uri} is not in the repository {image.repository}")
    return sorted(details[0].get("imageTags") or [])


def staged_tags(tags: Sequence[str]) -> list[str]:
    return [tag for tag in tags if tag.endswith(STAGED_SUFFIX)]


def mark_staged(ecr: Any, image: Image) -> dict[str, str]:
    """Tag the digest `<tag>-staged` for each of its release tags; a digest already staged is left as it is
    (a re-run of the staging job)."""
    tags = image_tags(ecr, image)
    already = staged_tags(tags)
    if already:
        return {"image_uri": image.uri, "staged_tags": ",".join(already), "added": ""}
    release_tags = [tag for tag in tags if not tag.endswith(STAGED_SUFFIX)]
    if not release_tags:
        raise StageCheckError(f"{image.uri} has no tag to derive a {STAGED_SUFFIX} tag from")
    response = ecr.batch_get_image(repositoryName=image.repository, imageIds=[{"imageDigest": image.digest}])
    images = response.get("images") or []
    if not images:
        failures = "; ".join(failure.get("failureReason", "?") for failure in response.get("failures") or [])
        raise StageCheckError(f"cannot read the manifest of {image.uri}: {failures or 'no image returned'}")
    manifest = images[0]
    added = []
    for tag in release_tags:
        staged = f"{tag}{STAGED_SUFFIX}"
        arguments = {
            "repositoryName": image.repository,
            "imageManifest": manifest["imageManifest"],
            "imageTag": staged,
            "imageDigest": image.digest,
        }
        if manifest.get("imageManifestMediaType"):
            arguments["imageManifestMediaType"] = manifest["imageManifestMediaType"]
        ecr.put_image(**arguments)
        added.append(staged)
    return {"image_uri": image.uri, "staged_tags": ",".join(added), "added": ",".join(added)}


def check_staged(ecr: Any, image: Image) -> dict[str, str]:
    """The digest carries a -staged tag, or StageCheckRefused."""
    tags = image_tags(ecr, image)
    staged = staged_tags(tags)
    if not staged:
        raise StageCheckRefused(
            f"{image.uri} carries no {STAGED_SUFFIX} tag (tags: {', '.join(tags) or 'none'}): staging did not "
            "pass it. Production ships only what staging verified: release through deploy.yml or retrain.yml"
        )
    return {"image_uri": image.uri, "staged_tags": ",".join(staged), "tags": ",".join(tags)}


def served_image(function_details: dict[str, str]) -> Image:
    """The image a published version runs, by digest (version_details' ImageUri or ResolvedImageUri)."""
    for uri in (function_details.get("image_uri", ""), function_details.get("resolved_image_uri", "")):
        if _BY_DIGEST.match(uri):
            return Image.parse(uri)
    raise StageCheckError(
        f"version {function_details.get('version', '?')} runs {function_details.get('image_uri') or 'no image'}, "
        "not an image by digest"
    )


def image_commits(tags: Sequence[str]) -> list[str]:
    """The commits an image's release tags name (normally one)."""
    return sorted({match["commit"] for tag in tags if (match := _RELEASE_TAG.match(tag))})


def is_ancestor_or_equal(older: str, newer: str, repository: str = ".") -> bool:
    """`git merge-base --is-ancestor`: exit 0 yes, 1 no; anything else (a commit the checkout does not have,
    a shallow clone) cannot be judged and is an error, never a yes."""
    try:
        result = subprocess.run(
            ["git", "merge-base", "--is-ancestor", older, newer],
            cwd=repository,
            capture_output=True,
            text=True,
            check=False,
        )
    except OSError as error:
        raise StageCheckError(f"cannot run git: {error}") from error
    if result.returncode in (0, 1):
        return result.returncode == 0
    raise StageCheckError(
        f"git cannot compare {older[:12]} with {newer[:12]} (is the checkout complete? fetch-depth: 0): "
        f"{result.stderr.strip()[:300]}"
    )


def uncontained_code(image: Image, commits: Sequence[str], commit: str, repository: str) -> str:
    """Why the live image's code may not be in `commit` ("" when one of its commits is an ancestor or equal).
    Code that cannot be placed (no commit tag, a commit the checkout lacks) is never in it."""
    if not commits:
        return f"the live image {image.uri} has no <commit>-<model> tag: which code it holds is unknown"
    try:
        if any(is_ancestor_or_equal(live_commit, commit, repository) for live_commit in commits):
            return ""
    except StageCheckError as error:
        return str(error)
    return (
        f"production's live image {image.uri} holds commit {', '.join(commits)}, which {commit} does not "
        "contain: releasing would roll its code back"
    )


def check_newer_code(
    ecr: Any, live: dict[str, str], commit: str, allow_older_code: bool = False, repository: str = "."
) -> dict[str, str]:
    """The live version's image holds no code `commit` lacks: its tag's commit is an ancestor of, or equal
    to, `commit`. With `allow_older_code` a refusal is reported and let through (a deliberate release)."""
    if not re.fullmatch(r"[0-9a-f]{40}", commit):
        raise StageCheckError(f"--commit {commit!r} is not a full commit sha (40 hex digits)")
    image = served_image(live)
    commits = image_commits(image_tags(ecr, image))
    facts = {"live_version": live.get("version", ""), "live_image": image.uri, "commit": commit}
    facts["live_commit"] = ",".join(commits)
    problem = uncontained_code(image, commits, commit, repository)
    if not problem:
        return {**facts, "verdict": "no newer code live"}
    if allow_older_code:
        return {**facts, "verdict": f"allowed: {problem}"}
    raise StageCheckRefused(
        f"{problem}. Release from a newer commit (merge main into the change, or retrain from main), or pass "
        "allow-older-code if rolling the code back is what you mean"
    )
