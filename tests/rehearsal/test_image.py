"""The image stand-in's pip installs: run once per command and requirement file content, then linked into
each build's task root (the rehearsal builds the serving stage three times)."""

from __future__ import annotations

import sys
import textwrap
from pathlib import Path

import pytest

from rehearsal import image

DOCKERFILE = """
FROM public.ecr.aws/lambda/python:3.12 AS base
FROM base AS serving
COPY requirements.txt /tmp/requirements.txt
RUN pip install --no-cache-dir --no-deps --target "${LAMBDA_TASK_ROOT}" -r /tmp/requirements.txt
COPY predict.py ${LAMBDA_TASK_ROOT}/
CMD ["predict.handler"]
"""


@pytest.fixture
def context(tmp_path: Path) -> Path:
    folder = tmp_path / "context"
    folder.mkdir()
    (folder / "Dockerfile").write_text(textwrap.dedent(DOCKERFILE))
    (folder / "requirements.txt").write_text("onnxruntime==1.0 --hash=sha256:aa\n")
    (folder / "predict.py").write_text("def handler(event, context):\n    return 1\n")
    return folder


@pytest.fixture
def installs_run(monkeypatch: pytest.MonkeyPatch) -> list[list[str]]:
    """Each install the stand-in would run, carried out by writing one module into its --target."""
    ran: list[list[str]] = []

    def fake_install(words: list[str], staged: dict[str, Path]) -> list[str]:
        ran.append(words)
        target = words[words.index("--target") + 1]
        code = "import pathlib, sys; p = pathlib.Path(sys.argv[1]); p.mkdir(exist_ok=True); "
        code += "(p / 'dep.py').write_text('x')"
        return [sys.executable, "-c", code, target]

    monkeypatch.setattr(image, "_stand_in_command", fake_install)
    return ran


def test_the_same_install_runs_once_and_every_task_root_gets_its_files(tmp_path, context, installs_run):
    installs = tmp_path / "installs"
    installs.mkdir()
    roots = [image.assemble("serving", tmp_path / f"root{n}", tmp_path, context, installs) for n in (1, 2)]
    assert len(installs_run) == 1
    for root in roots:
        assert (root.path / "dep.py").read_text() == "x"
        assert (root.path / "predict.py").exists()
    assert len(list(installs.iterdir())) == 1
    assert not list(installs.glob("*.partial"))


def test_other_requirements_install_again(tmp_path, context, installs_run):
    installs = tmp_path / "installs"
    installs.mkdir()
    image.assemble("serving", tmp_path / "root1", tmp_path, context, installs)
    (context / "requirements.txt").write_text("onnxruntime==2.0 --hash=sha256:bb\n")
    image.assemble("serving", tmp_path / "root2", tmp_path, context, installs)
    assert len(installs_run) == 2
    assert len(list(installs.iterdir())) == 2


def test_without_a_cache_every_build_installs(tmp_path, context, installs_run):
    for n in (1, 2):
        image.assemble("serving", tmp_path / f"root{n}", tmp_path, context)
    assert len(installs_run) == 2
