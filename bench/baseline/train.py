"""Seed-style training for the baseline: fit on a pandas DataFrame, pickle, upload to S3.

Run inside the baseline's own install (the parent benchmark has no pandas). The recipe is the
service's own (mean imputation, gradient boosting, seed 42) so both sides answer alike.
"""

import os
import pickle

import boto3
from sklearn.datasets import load_iris
from sklearn.ensemble import GradientBoostingClassifier
from sklearn.impute import SimpleImputer
from sklearn.pipeline import Pipeline

# Not imported from app.py: importing it downloads the model this script is about to create.
FEATURES = ["sepal_length", "sepal_width", "petal_length", "petal_width"]
MODEL_KEY = "model.pkl"
RANDOM_SEED = 42


def main() -> None:
    print("Loading data.")
    iris = load_iris(as_frame=True)
    features = iris.data.set_axis(FEATURES, axis=1)
    labels = iris.target.map(dict(enumerate(iris.target_names)))
    print("Creating model.")
    model = Pipeline(
        [("impute", SimpleImputer(strategy="mean")), ("classify", GradientBoostingClassifier(random_state=RANDOM_SEED))]
    )
    print(f"Fitting model with {len(features)} datapoints.")
    model.fit(features, labels)
    print("Saving model.")
    boto3.client("s3").put_object(Bucket=os.environ["BUCKET_NAME"], Key=MODEL_KEY, Body=pickle.dumps(model))


if __name__ == "__main__":
    main()
