#!/usr/bin/env bash
# The run command: installs what is missing, builds, and explains a held-out
# digit with the embedded default model (digits_cnn), writing heatmap.png and
# overlay.png into build/. (Until the gRPC server lands, this is the demo.)
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD_DIR=${CAMSERVE_BUILD_DIR:-build}
bash scripts/build.sh
"$BUILD_DIR/core/tools/camserve-explain" \
  --model "$BUILD_DIR/models/digits_cnn.pt" \
  --image "$BUILD_DIR/models/digits_sample.png" \
  --out "$BUILD_DIR/heatmap.png" --overlay "$BUILD_DIR/overlay.png" "$@"
