"""The hostile-input, contract, load and fault suite: shared settings, the served API and the tally.

The tally counts what was tried (cases generated, requests sent under load, faults injected) and the
errors seen; it is printed at the end of every run that includes these tests, so the figures in
docs/benchmark.md come from a real run.
"""

from __future__ import annotations

import os
import sys
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

from tests.support import servers

# By default the same examples on every run and every machine: a CI failure reproduces locally with the
# same case, and a green run means the same 2,400 cases held again, not that new ones were tried.
# HYPOTHESIS_EXPLORE=1 draws fresh examples each run; a failure then prints the seed that reproduces it.
# No deadline: this machine is shared and a slow example is not a wrong one.
EXPLORE = os.environ.get("HYPOTHESIS_EXPLORE") == "1"
GENERATED = settings(
    derandomize=not EXPLORE,
    deadline=None,
    database=None,
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,  # the spy is reset by the test itself for every example
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
        HealthCheck.large_base_example,
    ],
)

TALLY: Counter[str] = Counter()
FIGURES: dict[str, str] = {}


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if not TALLY and not FIGURES:
        return
    terminalreporter.section("robustness: what was tried and what held")
    for name, count in sorted(TALLY.items()):
        terminalreporter.write_line(f"{name}: {count}")
    for name, value in FIGURES.items():
        terminalreporter.write_line(f"{name}: {value}")


@pytest.fixture(scope="module")
def served_api(model_dir: Path) -> Iterator[str]:
    """`python -m lambda_model serve` on a free port, serving the session's model; yields its root URL."""
    port = servers.free_port()
    root = f"http://127.0.0.1:{port}"
    command = [sys.executable, "-m", "lambda_model", "serve", "--port", str(port), "--model", str(model_dir)]
    env = servers.cli_env()
    env.pop("MODEL_URI", None)
    with servers.running(command, f"{root}/health", env=env):
        yield root
