"""What a million predictions cost at list price, from the benchmark's own measurements.

Per request: Lambda's request charge, its duration (each request's measured handler time, scaled to the
CPU share Lambda gives that memory size and rounded up to the next millisecond, as Lambda bills), the
API Gateway REST API request and the CloudWatch Logs ingestion of the request's log line (its EMF
metrics included). A cold start adds its INIT phase, billed like duration since August 2025.
"""

from __future__ import annotations

import math
import re
import statistics
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[1]
GIB = 1024**3

PRICE_SOURCE = (
    "AWS list prices, us-east-1, x86, on-demand: aws.amazon.com/lambda/pricing, aws.amazon.com/api-gateway/pricing "
    "(REST API, first 333 million requests a month), aws.amazon.com/cloudwatch/pricing (Standard log ingestion), "
    "as last read in August 2025; this machine cannot re-read them (no internet)"
)
LAMBDA_PER_REQUEST = 0.20 / 1e6
LAMBDA_PER_GB_SECOND = 0.0000166667
API_GATEWAY_REST_PER_REQUEST = 3.50 / 1e6
LOG_INGESTION_PER_GB = 0.50
# Lambda allocates CPU in proportion to memory: one full vCPU at 1,769 MB. The handler is single-threaded,
# so more memory than that does not make it faster.
FULL_VCPU_MB = 1769
COMPARED_MEMORY_MB = (512, 2048)


@dataclass(frozen=True)
class Cost:
    memory_mb: int
    billed_ms: float  # mean billed duration per request
    lambda_requests: float  # dollars per million requests, each part
    lambda_duration: float
    api_gateway: float
    logs: float
    init_per_thousand_cold_starts: float

    @property
    def per_million(self) -> float:
        return self.lambda_requests + self.lambda_duration + self.api_gateway + self.logs


def configured_memory_mb(variables: Path = REPO_ROOT / "terraform" / "variables.tf") -> int:
    """The stack's `memory_size` default: the memory the function is deployed with unless a stage sets it."""
    block = re.search(r'variable "memory_size" \{(.*?)\n\}', variables.read_text(), re.DOTALL)
    default = re.search(r"^\s*default\s*=\s*(\d+)", block.group(1), re.MULTILINE) if block else None
    if default is None:
        raise ValueError(f"{variables}: no default for memory_size")
    return int(default.group(1))


def cpu_slowdown(memory_mb: int) -> float:
    return 1 / min(memory_mb / FULL_VCPU_MB, 1.0)


def cost_at(memory_mb: int, latencies_s: list[float], log_bytes_per_request: float, cold_start_s: float) -> Cost:
    """Measured on this machine's full core: each latency is stretched by the CPU share `memory_mb` gets."""
    slowdown = cpu_slowdown(memory_mb)
    billed_ms = statistics.fmean(math.ceil(latency * 1000 * slowdown) or 1 for latency in latencies_s)
    gigabytes = memory_mb / 1024
    million = 1e6
    return Cost(
        memory_mb=memory_mb,
        billed_ms=billed_ms,
        lambda_requests=LAMBDA_PER_REQUEST * million,
        lambda_duration=billed_ms / 1000 * gigabytes * LAMBDA_PER_GB_SECOND * million,
        api_gateway=API_GATEWAY_REST_PER_REQUEST * million,
        logs=log_bytes_per_request * million / GIB * LOG_INGESTION_PER_GB,
        init_per_thousand_cold_starts=math.ceil(cold_start_s * 1000 * slowdown)
        / 1000
        * gigabytes
        * LAMBDA_PER_GB_SECOND
        * 1000,
    )


def costs(raw: dict[str, Any], name: str) -> list[Cost]:
    """The configured memory first, then the compared sizes, for the variant `name` (ours)."""
    rounds = raw["warm_rounds"][name]
    latencies = [latency for round_ in rounds for latency in round_["latencies_s"]]
    log_bytes = statistics.fmean(round_["log_bytes"] / len(round_["latencies_s"]) for round_ in rounds)
    cold_start = statistics.median(raw["cold_seconds"][name])
    configured = configured_memory_mb()
    sizes = [configured, *(size for size in COMPARED_MEMORY_MB if size != configured)]
    return [cost_at(size, latencies, log_bytes, cold_start) for size in sizes]


def cost_table(raw: dict[str, Any], name: str) -> str:
    rows = costs(raw, name)
    log_bytes = statistics.fmean(r["log_bytes"] / len(r["latencies_s"]) for r in raw["warm_rounds"][name])
    lines = [
        "| memory | billed per request | Lambda requests | Lambda duration | API Gateway (REST) "
        f"| logs ({log_bytes:,.0f} B a request, EMF included) | per million predictions | INIT per 1,000 cold starts |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for index, cost in enumerate(rows):
        label = f"{cost.memory_mb} MB{' (configured)' if index == 0 else ''}"
        lines.append(
            f"| {label} | {cost.billed_ms:.2f} ms | ${cost.lambda_requests:.2f} | ${cost.lambda_duration:.2f} "
            f"| ${cost.api_gateway:.2f} | ${cost.logs:.2f} | **${cost.per_million:.2f}** "
            f"| ${cost.init_per_thousand_cold_starts:.4f} |"
        )
    lines += ["", f"Prices: {PRICE_SOURCE}."]
    return "\n".join(lines)
