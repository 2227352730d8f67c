"""The two `pip install --target` folders the benchmark runs from, cached under bench/.work.

Each folder holds only one side's serving requirements, as a Lambda image would. A folder is keyed
by the sha256 of its requirements file, so a repeated `make bench` reuses it and a changed lock
gets a fresh install. Our side is assembled from app/Dockerfile by the same stand-in the image
test uses; on a cache hit only the code and the model are copied in again.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import sys
from pathlib import Path

from rehearsal import image
from tests.support.servers import REPO_ROOT

BENCH_DIR = REPO_ROOT / "bench"
WORK_DIR = BENCH_DIR / ".work"
BASELINE_DIR = BENCH_DIR / "baseline"
BASELINE_REQUIREMENTS = BASELINE_DIR / "requirements.txt"
RUNTIME_SDK_REQUIREMENTS = BENCH_DIR / "runtime_sdk" / "requirements.txt"
COMPLETE_MARKER = ".complete"
TASK_ROOT_RECORD = ".task-root.json"
CODE_FOLDER = "lambda_model"
# As app/Dockerfile installs: exactly the pinned, hashed files, nothing resolved on the fly.
PIP_INSTALL = (sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--require-hashes")


def requirements_key(*files: Path) -> str:
    digest = hashlib.sha256()
    for path in files:
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def _fresh(folder: Path) -> Path:
    shutil.rmtree(folder, ignore_errors=True)
    folder.parent.mkdir(parents=True, exist_ok=True)
    return folder


def install_requirements(name: str, requirements: Path) -> Path:
    """One pinned, hashed requirements file in a folder of its own, reused while the file is unchanged."""
    folder = WORK_DIR / f"{name}-{requirements_key(requirements)}"
    if not (folder / COMPLETE_MARKER).is_file():
        print(f"installing {requirements.relative_to(REPO_ROOT)} into {folder.relative_to(REPO_ROOT)} ...", flush=True)
        _fresh(folder)
        subprocess.run([*PIP_INSTALL, "--target", str(folder), "-r", str(requirements)], check=True, timeout=900)
        (folder / COMPLETE_MARKER).touch()
    return folder


def install_baseline() -> Path:
    """pandas, boto3 and scikit-learn: the seed-style baseline's serving requirements."""
    return install_requirements("baseline", BASELINE_REQUIREMENTS)


def install_runtime_sdk() -> Path:
    """boto3 as the Lambda Python base image ships it in /var/runtime: on the path after the task root, and not
    one of the image's serving dependencies (the base image carries it, as it carries the interpreter)."""
    return install_requirements("runtime-sdk", RUNTIME_SDK_REQUIREMENTS)


def install_ours(model_dir: Path) -> image.TaskRoot:
    """The image's serving stage as ${LAMBDA_TASK_ROOT}, with `model_dir` as the shipped model."""
    folder = WORK_DIR / f"ours-{requirements_key(*image.requirements_files('serving'))}"
    record = folder / TASK_ROOT_RECORD
    if (folder / COMPLETE_MARKER).is_file() and record.is_file():
        task_root = image.TaskRoot(**{**json.loads(record.read_text()), "path": folder})
        _copy_code_and_model(task_root, model_dir)
        return task_root
    print(f"assembling the serving stage into {folder.relative_to(REPO_ROOT)} ...", flush=True)
    task_root = image.assemble("serving", _fresh(folder), model_dir)
    record.write_text(json.dumps({"environment": task_root.environment, "handler": task_root.handler}))
    (folder / COMPLETE_MARKER).touch()
    return task_root


def _copy_code_and_model(task_root: image.TaskRoot, model_dir: Path) -> None:
    """Refresh what changes between runs; the installed dependencies stay."""
    for source, destination in (
        (image.APP_DIR / CODE_FOLDER, task_root.path / CODE_FOLDER),
        (model_dir, Path(task_root.environment["MODEL_URI"])),
    ):
        shutil.rmtree(destination, ignore_errors=True)
        shutil.copytree(source, destination, ignore=shutil.ignore_patterns("__pycache__"))


def folder_bytes(path: Path) -> int:
    if path.is_file():
        return path.stat().st_size
    return sum(entry.stat().st_size for entry in path.rglob("*") if entry.is_file() and not entry.is_symlink())


def dependency_sizes(folder: Path, own_files: set[str]) -> dict[str, int]:
    """Bytes on disk per top-level entry pip installed, leaving out our code, the model and bookkeeping."""
    return {
        entry.name: folder_bytes(entry)
        for entry in folder.iterdir()
        if entry.name not in own_files and not entry.name.startswith(".")
    }


def ours_own_files(task_root: image.TaskRoot) -> set[str]:
    """What app/Dockerfile copies in besides the installed requirements: code, entry points, model."""
    copied = {path.name for path in image.APP_DIR.iterdir()}
    return copied | {Path(task_root.environment["MODEL_URI"]).name}
