"""Load the workflows, reusable workflows and composite actions once, as plain data."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.support.servers import REPO_ROOT

GITHUB_DIR = REPO_ROOT / ".github"
WORKFLOWS_DIR = GITHUB_DIR / "workflows"
ACTIONS_DIR = GITHUB_DIR / "actions"


@dataclass(frozen=True)
class Document:
    path: Path
    text: str
    data: dict[str, Any]

    @property
    def name(self) -> str:
        return self.path.name if self.path.parent == WORKFLOWS_DIR else self.path.parent.name

    @property
    def triggers(self) -> dict[str, Any]:
        # YAML 1.1 reads the key `on` as the boolean True.
        triggers = self.data.get(True, self.data.get("on"))
        return {triggers: None} if isinstance(triggers, str) else dict(triggers or {})

    @property
    def jobs(self) -> dict[str, dict[str, Any]]:
        return self.data.get("jobs", {})


def load(path: Path) -> Document:
    text = path.read_text()
    return Document(path, text, yaml.safe_load(text))


def workflows() -> dict[str, Document]:
    return {path.name: load(path) for path in sorted(WORKFLOWS_DIR.glob("*.yml"))}


def actions() -> dict[str, Document]:
    return {path.parent.name: load(path) for path in sorted(ACTIONS_DIR.glob("*/action.yml"))}


def steps_of(document: Document) -> Iterator[tuple[str, dict[str, Any]]]:
    """(where, step) for every step of every job, and of a composite action."""
    for job_id, job in document.jobs.items():
        for step in job.get("steps", []):
            yield f"{document.name}:{job_id}", step
    for step in document.data.get("runs", {}).get("steps", []):
        yield document.name, step


@pytest.fixture(scope="session")
def all_workflows() -> dict[str, Document]:
    found = workflows()
    assert found, f"no workflows in {WORKFLOWS_DIR}"
    return found


@pytest.fixture(scope="session")
def all_actions() -> dict[str, Document]:
    return actions()
