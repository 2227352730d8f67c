"""`make bench`'s cost line: Lambda's rounding, the CPU share of a memory size, and the stack's memory."""

from __future__ import annotations

import sys

import pytest

from tests.support.servers import REPO_ROOT

# bench/ is a folder of scripts, not a package: its modules import each other by name.
sys.path.insert(0, str(REPO_ROOT / "bench"))
import cost


def test_each_request_is_billed_in_whole_milliseconds_and_at_least_one():
    at_full_cpu = cost.cost_at(2048, [0.00006, 0.0012, 0.0031], log_bytes_per_request=0, cold_start_s=0.1)
    assert at_full_cpu.billed_ms == pytest.approx((1 + 2 + 4) / 3)
    assert at_full_cpu.lambda_duration == pytest.approx(7 / 3 / 1000 * 2 * cost.LAMBDA_PER_GB_SECOND * 1e6)


def test_less_memory_is_less_cpu_so_the_same_work_runs_longer():
    half_cpu = cost.FULL_VCPU_MB // 2
    assert cost.cpu_slowdown(half_cpu) == pytest.approx(2, rel=1e-3)
    assert cost.cpu_slowdown(4096) == 1  # one thread cannot use a second vCPU
    assert cost.cost_at(half_cpu, [0.0008], 0, 0.1).billed_ms == 2


def test_the_logs_line_is_the_measured_bytes_at_the_ingestion_price():
    line = cost.cost_at(1024, [0.0001], log_bytes_per_request=1199, cold_start_s=0.1)
    assert line.logs == pytest.approx(1199 * 1e6 / 1024**3 * 0.50)
    assert line.per_million == pytest.approx(line.lambda_requests + line.lambda_duration + line.api_gateway + line.logs)


def test_the_configured_memory_is_the_stack_s_default(tmp_path):
    assert cost.configured_memory_mb() == 1024
    variables = tmp_path / "variables.tf"
    variables.write_text('variable "memory_size" {\n  type = number\n  default = 512\n}\n')
    assert cost.configured_memory_mb(variables) == 512
    variables.write_text('variable "timeout" {\n  default = 10\n}\n')
    with pytest.raises(ValueError, match="no default for memory_size"):
        cost.configured_memory_mb(variables)
