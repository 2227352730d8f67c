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
compile -c dev.txt serving.in -o ../app/requirements.txt
compile checkov.in -o checkov.txt
compile workflow-lint.in -o workflow-lint.txt
