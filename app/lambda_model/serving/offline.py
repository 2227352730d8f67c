"""Offline prediction from the command line, the seed's `python predict.py '<json>'`.

It lives with serving, not with the CLI, so the serving image can run it without any training code.
"""

from __future__ import annotations

import argparse
import sys

from lambda_model.registry.artifact import ArtifactError
from lambda_model.registry.store import StoreError, default_model_uri
from lambda_model.serving.request import RequestError, decode_body, parse_rows, read_records


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The arguments of `predict`, shared by `python -m lambda_model predict` and predict.py."""
    parser.add_argument(
        "json", help="one JSON record or an array of them; GET /health shows the model's features and an example"
    )
    parser.add_argument("--model", default=default_model_uri(), help="model URI (default: %(default)s)")


def print_predictions(json_text: str, model_uri: str) -> None:
    """Load the model, then print the data and one prediction per record, in the seed's words."""
    # onnxruntime is imported here, not with the module, so building the CLI's parser stays cheap.
    from lambda_model.serving.predictor import Predictor

    print("Loading model.")
    predictor = Predictor.from_uri(model_uri)
    payload = decode_body(json_text)
    records, is_batch = read_records(payload)
    rows = parse_rows(records, is_batch, predictor.signature.names)
    print(f"Data: {payload}")
    for prediction in predictor.predict(rows):
        print(f"Prediction: {(prediction.label, prediction.probability)}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="predict.py", description=print_predictions.__doc__)
    add_arguments(parser)
    args = parser.parse_args(argv)
    try:
        print_predictions(args.json, args.model)
    except (RequestError, StoreError, ArtifactError) as error:
        print(f"error: {getattr(error, 'message', error)}", file=sys.stderr)
        return 2
    return 0
