"""A cancel that lands while an AWS call is in flight is still a cancel: botocore wraps what its HTTP
client raised, and the release must report "cancelled" (exit 5), not an AWS failure (exit 3)."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError, EndpointConnectionError, HTTPClientError

from lambda_release.rollout import Cancelled, cancellation_inside


def test_a_signal_inside_an_aws_call_is_found_behind_the_wrapper():
    signal = Cancelled("SIGTERM")
    assert cancellation_inside(HTTPClientError(error=signal)) is signal


def test_an_error_raised_while_a_signal_unwinds_keeps_it_as_context():
    signal = Cancelled("SIGINT")

    def call_interrupted_mid_request() -> None:
        try:
            raise signal
        except Cancelled:
            raise EndpointConnectionError(endpoint_url="http://127.0.0.1:1") from None

    with pytest.raises(EndpointConnectionError) as caught:
        call_interrupted_mid_request()
    assert cancellation_inside(caught.value) is signal


def test_other_aws_errors_are_not_cancels():
    assert cancellation_inside(ClientError({"Error": {"Code": "Throttling"}}, "UpdateAlias")) is None
    assert cancellation_inside(HTTPClientError(error=ConnectionResetError())) is None
