"""16 concurrent clients against the local API: zero errors, zero wrong answers, bounded in count and time.

Every answer is compared with the same rows run offline through `Predictor` on the same model, so a
mix-up between concurrent requests (a batch answered in the wrong order, one client's rows in another
client's answer) shows as a wrong answer, not just an error.

Latency is reported, not asserted: on a shared machine a wall-clock bound is noise. The behaviour a
latency bound used to guard, Nagle's algorithm off on accepted connections, is checked directly in
tests/unit/test_local_api.py.
"""

from __future__ import annotations

import json
import random
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import requests

from lambda_model.serving.predictor import Predictor
from lambda_model.serving.routes import MODEL_VERSION_HEADER
from lambda_model.training.data import IRIS_FEATURES as FEATURES
from tests.robustness.conftest import FIGURES, TALLY

CLIENTS = 16
REQUESTS_PER_CLIENT = 150
TIME_CAP_SECONDS = 90.0  # the whole load must finish well inside this; a client stops sending after it
REQUEST_TIMEOUT_SECONDS = 10.0


@dataclass
class ClientReport:
    latencies: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    wrong: list[str] = field(default_factory=list)


def random_payload(generator: random.Random) -> Any:
    """A single record or a batch of up to 5, with one value in ten null."""

    def record() -> dict[str, float | None]:
        return {name: None if generator.random() < 0.1 else round(generator.uniform(0, 8), 2) for name in FEATURES}

    return record() if generator.random() < 0.7 else [record() for _ in range(generator.randint(1, 5))]


def offline_answer(predictor: Predictor, payload: Any) -> dict[str, Any]:
    records = payload if isinstance(payload, list) else [payload]
    predictions = [p.as_dict() for p in predictor.predict([tuple(r[n] for n in FEATURES) for r in records])]
    return {"predictions": predictions} if isinstance(payload, list) else {"prediction": predictions[0]}


def run_client(url: str, plan: list[tuple[str, dict]], version: str, start: threading.Barrier, deadline: float):
    report = ClientReport()
    with requests.Session() as session:
        start.wait()
        for body, expected in plan:
            if time.monotonic() > deadline:
                report.errors.append("time cap reached before every request was sent")
                break
            started = time.perf_counter()
            try:
                response = session.post(url, data=body, timeout=REQUEST_TIMEOUT_SECONDS)
            except requests.RequestException as error:
                report.errors.append(repr(error))
                continue
            report.latencies.append(time.perf_counter() - started)
            if response.status_code != 200:
                report.errors.append(f"{response.status_code}: {response.text[:200]}")
            elif response.json() != expected or response.headers.get(MODEL_VERSION_HEADER) != version:
                report.wrong.append(f"sent {body}, expected {expected}, got {response.text}")
    return report


def test_sixteen_clients_get_only_correct_answers(served_api, model_dir):
    predictor = Predictor(model_dir)
    generator = random.Random(16)  # noqa: S311  (reproducible load, not secrets)
    plans = []
    for _ in range(CLIENTS):
        payloads = [random_payload(generator) for _ in range(REQUESTS_PER_CLIENT)]
        plans.append([(json.dumps(payload), offline_answer(predictor, payload)) for payload in payloads])
    start = threading.Barrier(CLIENTS)
    began = time.perf_counter()
    deadline = time.monotonic() + TIME_CAP_SECONDS
    with ThreadPoolExecutor(CLIENTS) as pool:
        futures = [
            pool.submit(run_client, f"{served_api}/predict", plan, predictor.version, start, deadline) for plan in plans
        ]
        reports = [future.result() for future in futures]
    elapsed = time.perf_counter() - began

    latencies = sorted(latency for report in reports for latency in report.latencies)
    errors = [error for report in reports for error in report.errors]
    wrong = [answer for report in reports for answer in report.wrong]
    summary = (
        f"{CLIENTS} clients x {REQUESTS_PER_CLIENT} requests = {len(latencies)} answered in {elapsed:.1f} s: "
        f"{len(latencies) / elapsed:.0f} requests/s, p50 {latencies[len(latencies) // 2] * 1e3:.1f} ms, "
        f"p99 {latencies[int(len(latencies) * 0.99) - 1] * 1e3:.1f} ms, {len(errors)} errors, {len(wrong)} wrong"
    )
    print(summary)
    FIGURES["load test"] = summary
    TALLY["requests sent under load"] += len(latencies)
    TALLY["errors or wrong answers under load"] += len(errors) + len(wrong)
    assert errors == []
    assert wrong == []
    assert len(latencies) == CLIENTS * REQUESTS_PER_CLIENT
