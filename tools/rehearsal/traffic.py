"""The model monitor stage's client traffic: records resampled from the served model's training data (and the
same records with one feature shifted), POSTed to /predict through a stage's API Gateway stand-in."""

from __future__ import annotations

import json
import urllib.error
import urllib.request

import numpy as np

from lambda_model.registry.artifact import baseline_of, signature_of
from lambda_model.registry.s3_store import S3Store
from lambda_model.training.data import load_dataset
from rehearsal import gateway
from rehearsal.machine import StageFailed

Records = list[dict[str, float]]

# Traffic per monitor run: above the monitor's 500-record minimum, in full batches (the API's limit is 100).
MONITOR_RECORDS, MONITOR_BATCH = 600, 100
# The shifted traffic moves the signature's first feature by this many training standard deviations: with the
# unshifted records still in the window, the measured PSI is ~0.7 for any iris feature (drift from 0.25).
MONITOR_SHIFT_STDS = 2.0


def send(api: tuple[gateway.Api, str], records: Records) -> None:
    """POST /predict through the stand-in (the API and the URL serving it), in full batches, as clients do;
    with the API's key when its routes require one."""
    served, url = api
    headers = {"Content-Type": "application/json"}
    if any(route.api_key_required for route in served.routes):
        headers["x-api-key"] = sorted(served.api_keys)[0]
    for start in range(0, len(records), MONITOR_BATCH):
        body = json.dumps(records[start : start + MONITOR_BATCH]).encode()
        # The stand-in's own http:// URL, never a caller's.
        request = urllib.request.Request(f"{url}/predict", data=body, headers=headers, method="POST")  # noqa: S310
        try:
            with urllib.request.urlopen(request, timeout=30):  # noqa: S310
                pass
        except urllib.error.HTTPError as error:
            raise StageFailed(f"POST /predict answered {error.code}: {error.read()[:300]!r}") from None


def monitor_records(store: S3Store) -> tuple[Records, Records, str]:
    """Records resampled from the promoted model's training data, the same records with the signature's first
    feature shifted by MONITOR_SHIFT_STDS of its training standard deviations (from the baseline), and that
    feature's name."""
    version = store.current_version()
    if version is None:
        raise StageFailed("no model is promoted: there is no served model to monitor")
    metadata = store.read_metadata(version)
    signature, baseline = signature_of(metadata), baseline_of(metadata)
    if baseline is None:
        raise StageFailed(f"model {version} has no baseline: the handler writes no bins to monitor")
    data = load_dataset(metadata["data"]["source"], metadata["data"]["label_column"])
    rows = data.features[np.random.default_rng(16).integers(0, len(data.features), MONITOR_RECORDS)]
    rows = rows[:, [data.feature_names.index(name) for name in signature.names]]
    shifted = rows.copy()
    shifted[:, 0] += MONITOR_SHIFT_STDS * baseline.features[0].std

    def as_records(matrix: np.ndarray) -> Records:
        return [dict(zip(signature.names, map(float, row), strict=True)) for row in matrix]

    return as_records(rows), as_records(shifted), signature.names[0]
