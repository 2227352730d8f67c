"""The seed-style handler the benchmark compares against (never shipped).

It does what the original service did: pandas, boto3 and scikit-learn imported at module load,
the pickled pipeline downloaded from S3 while the module is imported, and `predict` plus
`predict_proba` on a one-row pandas DataFrame per request.
"""

import json
import os
import pickle

import boto3
import pandas as pd
import sklearn  # noqa: F401  (the seed imported it at load; unpickling needs it anyway)

FEATURES = ["sepal_length", "sepal_width", "petal_length", "petal_width"]
MODEL_KEY = "model.pkl"

s3 = boto3.client("s3")
model = pickle.loads(s3.get_object(Bucket=os.environ["BUCKET_NAME"], Key=MODEL_KEY)["Body"].read())  # noqa: S301


def predict(data: dict) -> tuple[str, float]:
    frame = pd.DataFrame([data], columns=FEATURES)
    label = model.predict(frame)[0]
    probability = model.predict_proba(frame).max()
    return str(label), float(probability)


def handler(event: dict, context: object = None) -> dict:
    body = event["body"]
    data = json.loads(body) if isinstance(body, str) else body
    label, probability = predict(data)
    return {
        "statusCode": 200,
        "body": json.dumps({"prediction": {"label": label, "probability": round(probability, 4)}}),
        "isBase64Encoded": False,
    }
