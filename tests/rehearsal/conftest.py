"""The rehearsal's own moto server (with the corrections of rehearsal/moto_launch.py), for this folder."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from rehearsal.servers import MOTO_OVER_HTTPS, moto_server
from tests.support.servers import log_path


@pytest.fixture(scope="session")
def rehearsal_moto() -> Iterator[str]:
    with moto_server(log_path("rehearsal-moto"), MOTO_OVER_HTTPS) as endpoint:
        yield endpoint
