"""Assemble a Dockerfile stage's file system without Docker, to run the image's code as Lambda would.

There is no Docker daemon here, so this reads app/Dockerfile and carries out the few instruction
forms it uses (COPY from the build context, `RUN pip install ... -r FILE`, `RUN python -m compileall`,
ENV, CMD) into a folder standing in for ${LAMBDA_TASK_ROOT}. An instruction it does not understand fails loudly, so the
Dockerfile and this stand-in cannot drift apart silently.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

from rehearsal.steps import REPO_ROOT

APP_DIR = REPO_ROOT / "app"
DOCKERFILE = APP_DIR / "Dockerfile"
TASK_ROOT_VARIABLE = "${LAMBDA_TASK_ROOT}"


@dataclass
class Stage:
    name: str
    parent: str | None
    instructions: list[tuple[str, str]] = field(default_factory=list)


def parse_stages(dockerfile: Path = DOCKERFILE) -> dict[str, Stage]:
    text = re.sub(r"\\\n\s*", " ", dockerfile.read_text())  # join continuation lines
    stages: dict[str, Stage] = {}
    current: Stage | None = None
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        keyword, _, rest = line.partition(" ")
        keyword = keyword.upper()
        if keyword == "FROM":
            image, _, name = rest.partition(" AS ")
            current = Stage(name.strip(), image.strip() if image.strip() in stages else None)
            stages[current.name] = current
        elif current is not None:
            current.instructions.append((keyword, rest.strip()))
    return stages


def stage_chain(stage: str, dockerfile: Path = DOCKERFILE) -> list[tuple[str, str]]:
    stages = parse_stages(dockerfile)
    chain: list[tuple[str, str]] = []
    name: str | None = stage
    while name is not None:
        chain[:0] = stages[name].instructions
        name = stages[name].parent
    return chain


def requirements_files(stage: str, context: Path = APP_DIR) -> list[Path]:
    """The requirement files a stage's `RUN pip install -r` lines install, as paths in the build context."""
    copied = {}
    files = []
    for keyword, rest in stage_chain(stage, context / "Dockerfile"):
        if keyword == "COPY":
            *sources, destination = shlex.split(rest)
            copied[destination] = context / sources[0]
        elif keyword == "RUN" and "pip install" in rest:
            words = shlex.split(rest)
            files.append(copied[words[words.index("-r") + 1]])
    return files


@dataclass(frozen=True)
class TaskRoot:
    path: Path
    environment: dict[str, str]
    handler: str

    def command(self, code: str, extra_env: dict[str, str] | None = None) -> tuple[list[str], dict[str, str]]:
        """The command and environment that run `code` with only the task root on the path, like the
        Lambda runtime: no site-packages."""
        env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(self.path), **self.environment, **(extra_env or {})}
        return [sys.executable, "-S", "-c", code], env

    def python(self, code: str, extra_env: dict[str, str] | None = None, timeout: float = 120):
        command, env = self.command(code, extra_env)
        return subprocess.run(
            command,
            env=env,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )


def _stand_in_command(words: list[str], staged: dict[str, Path]) -> list[str]:
    """The RUN forms the Dockerfile uses, run with this interpreter: `pip install ...`, `python -m compileall ...`."""
    if words[:2] == ["pip", "install"]:
        return [sys.executable, "-m", *(str(staged.get(word, word)) for word in words), "--quiet"]
    if words[:3] == ["python", "-m", "compileall"]:
        return [sys.executable, *words[1:]]
    raise ValueError(f"the stand-in cannot run `RUN {shlex.join(words)}`")


def _cached_install(words: list[str], staged: dict[str, Path], task_root: Path, installs: Path) -> bool:
    """`RUN pip install --target <task root> -r FILE` from `installs`, a folder of earlier installs keyed by the
    command and the requirement file's content (hashes pinned, so the same key is the same files): installed
    there once, then hard-linked into the task root (its files are never written afterwards). False when
    the RUN is not such an install."""
    if words[:2] != ["pip", "install"] or "--target" not in words or "-r" not in words:
        return False
    if words[words.index("--target") + 1] != str(task_root):
        return False
    requirements = staged.get(words[words.index("-r") + 1])
    if requirements is None:
        return False
    key = hashlib.sha256(
        "\0".join([sys.version, *(word for word in words if word != str(task_root)), requirements.read_text()]).encode()
    ).hexdigest()[:32]
    cached = installs / key
    if not cached.exists():
        partial = installs / f"{key}.partial"
        shutil.rmtree(partial, ignore_errors=True)
        command = _stand_in_command([str(partial) if word == str(task_root) else word for word in words], staged)
        result = subprocess.run(command, capture_output=True, text=True, timeout=600, check=False)
        if result.returncode != 0:
            raise RuntimeError(f"RUN {shlex.join(words)} failed ({result.returncode}):\n{result.stdout}{result.stderr}")
        partial.rename(cached)
    shutil.copytree(cached, task_root, dirs_exist_ok=True, copy_function=os.link)
    return True


def assemble(
    stage: str, task_root: Path, model_dir: Path, context: Path = APP_DIR, installs: Path | None = None
) -> TaskRoot:
    """Carry out `stage` of `context`'s Dockerfile into `task_root`; the build context's model/ is taken
    from `model_dir`. `installs`: a folder to keep the stage's pip installs in and reuse them from (the
    rehearsal builds the same requirements several times)."""
    environment: dict[str, str] = {}
    handler = ""
    task_root.mkdir(parents=True, exist_ok=True)
    staged: dict[str, Path] = {}
    for keyword, rest in stage_chain(stage, context / "Dockerfile"):
        rest = rest.replace(TASK_ROOT_VARIABLE, str(task_root))
        if keyword == "ENV":
            for assignment in shlex.split(rest):
                name, _, value = assignment.partition("=")
                environment[name] = value
        elif keyword == "COPY":
            *sources, destination = shlex.split(rest)
            for source in sources:
                origin = model_dir if source.rstrip("/") == "model" else context / source
                if not destination.startswith(str(task_root)):  # a scratch file for a later RUN
                    staged[destination] = origin
                elif origin.is_dir():
                    shutil.copytree(
                        origin, destination, dirs_exist_ok=True, ignore=shutil.ignore_patterns("__pycache__")
                    )
                elif destination.endswith("/"):
                    Path(destination).mkdir(parents=True, exist_ok=True)
                    shutil.copy2(origin, Path(destination) / origin.name)
                else:
                    shutil.copy2(origin, destination)
        elif keyword == "RUN":
            if installs is not None and _cached_install(shlex.split(rest), staged, task_root, installs):
                continue
            command = _stand_in_command(shlex.split(rest), staged)
            result = subprocess.run(command, capture_output=True, text=True, timeout=600, check=False)
            if result.returncode != 0:  # its output only then: pip's notes would drown the caller's
                raise RuntimeError(f"RUN {rest} failed ({result.returncode}):\n{result.stdout}{result.stderr}")
        elif keyword == "CMD":
            handler = json.loads(rest)[0]
        elif keyword != "ENTRYPOINT":
            raise ValueError(f"the stand-in does not know the Dockerfile instruction {keyword}")
    return TaskRoot(task_root, environment, handler)
