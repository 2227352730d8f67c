"""The seed's `python predict.py '<json>'` entry point."""

import sys

from lambda_model.cli import main

if __name__ == "__main__":
    sys.exit(main(["predict", *sys.argv[1:]]))
