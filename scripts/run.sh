#!/usr/bin/env bash
# The run command: installs what is missing, builds, and starts the camserve
# gRPC server on the embedded default model (digits_cnn) with the default
# configuration, listening on 127.0.0.1:50051 (gRPC) and 127.0.0.1:8080
# (the HTTP/JSON API, docs/http.md). Ctrl-C (SIGINT) or SIGTERM
# drains and stops it. Extra arguments are camserve flags, e.g.
#   scripts/run.sh --listen 127.0.0.1:6000 --logging-format json
# Try it from another shell:
#   build/client/cli/camserve-client --image build/models/digits_sample.png
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD_DIR=${CAMSERVE_BUILD_DIR:-build}
bash scripts/build.sh
exec "$BUILD_DIR/server/camserve" --model "$BUILD_DIR/models/digits_cnn.pt" --cache-dir "$BUILD_DIR/cache" \
  --http-listen 127.0.0.1:8080 "$@"
