#!/usr/bin/env bash
# Regenerates every pinned requirements file from the *.in files beside it.
# dev.txt is the one lock: training and serving are resolved against it as constraints,
# so a package has the same version in the image, in training and in the tests.
# Resolved for Linux x86_64 and Python 3.11 (the oldest we run); the hashes cover every
# wheel of each pinned version, so the same files install on the image's Python 3.12.
set -euo pipefail
cd "$(dirname "$0")"
compile() { uv pip compile --quiet --python-version 3.11 --python-platform x86_64-manylinux_2_28 \
  --generate-hashes --no-header "$@"; }
compile dev.in -o dev.txt
compile -c dev.txt train.in -o ../app/requirements-train.txt
# onnxruntime declares protobuf, flatbuffers and packaging, but a session loading and running a model
# imports none of them (its converters and tools do): the image leaves them out. tests/integration/test_image.py
# runs the handler from the image's files alone, so a release of onnxruntime that needs them fails there.
compile -c dev.txt serving.in -o ../app/requirements.txt \
  --no-emit-package protobuf --no-emit-package flatbuffers --no-emit-package packaging
# The benchmark's stand-in for the SDK the Lambda base image ships (bench/runtime_sdk/requirements.in).
compile -c dev.txt ../bench/runtime_sdk/requirements.in -o ../bench/runtime_sdk/requirements.txt
compile checkov.in -o checkov.txt
compile workflow-lint.in -o workflow-lint.txt
