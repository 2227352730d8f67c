"""The seed's `python predict.py '<json>'` entry point (in the serving image too)."""

import sys

from lambda_model.serving.offline import main

if __name__ == "__main__":
    sys.exit(main())
