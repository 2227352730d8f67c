"""The seed's `python train.py` entry point: train on the iris data and store the model."""

import sys

from lambda_model.cli import main

if __name__ == "__main__":
    sys.exit(main(["train", *sys.argv[1:]]))
