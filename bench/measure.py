"""Start one benchmarked process the way Lambda starts a container, and time it from the outside."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

PROBE_SOURCE = (Path(__file__).parent / "probe.py").read_text()
# Passed through when set: on some machines OpenBLAS needs it to pick a kernel; it is part of
# the machine, not of either side, so both sides get the same value.
MACHINE_VARIABLES = ("OPENBLAS_CORETYPE",)


@dataclass(frozen=True)
class Variant:
    """One side of the comparison: where its packages are, what it imports, how it is configured."""

    name: str
    python_path: tuple[Path, ...]
    handler: str | None  # None: the floor, which only imports
    environment: dict[str, str] = field(default_factory=dict)
    preload: str = ""  # modules imported (and timed) before the handler, to split its start-up time


@dataclass(frozen=True)
class Run:
    seconds: float  # from spawning the process until its first line of output
    report: dict[str, Any]


class ProbeFailed(RuntimeError):
    pass


def child_environment(variant: Variant, scratch: Path) -> dict[str, str]:
    """Only the variant's folders on the path; a fresh /tmp and HOME, as a new container has."""
    machine = {name: os.environ[name] for name in MACHINE_VARIABLES if name in os.environ}
    return {
        "PATH": "/usr/bin:/bin",
        "PYTHONPATH": os.pathsep.join(str(path) for path in variant.python_path),
        "PYTHONDONTWRITEBYTECODE": "1",
        "HOME": str(scratch),
        "TMPDIR": str(scratch),
        **machine,
        **variant.environment,
    }


def probe_arguments(variant: Variant, mode: str, events_file: Path, warm_up: int) -> list[str]:
    if variant.handler is None:
        return ["floor"]
    if mode == "cold":
        return ["cold", variant.handler, str(events_file), variant.preload]
    return ["warm", variant.handler, str(events_file), str(warm_up)]


def spawn(variant: Variant, mode: str, events_file: Path, log_dir: Path, warm_up: int = 0) -> Run:
    """Run the probe in a fresh interpreter without site-packages (`python -S`), as Lambda would."""
    log_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="bench-") as scratch, (log_dir / f"{variant.name}.log").open("ab") as log:
        command = [sys.executable, "-S", "-c", PROBE_SOURCE, *probe_arguments(variant, mode, events_file, warm_up)]
        started = time.perf_counter()
        process = subprocess.Popen(
            command,
            env=child_environment(variant, Path(scratch)),
            cwd=scratch,
            stdout=subprocess.PIPE,
            stderr=log,  # our handler logs a line per request: a pipe nobody reads would fill up
        )
        assert process.stdout is not None
        first_line = process.stdout.readline()
        seconds = time.perf_counter() - started
        process.stdout.read()
        if process.wait(timeout=600) != 0 or not first_line:
            raise ProbeFailed(f"{variant.name} ({mode}) exited with {process.returncode}; see {log.name}")
    return Run(seconds, json.loads(first_line))
