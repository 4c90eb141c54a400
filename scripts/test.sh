#!/usr/bin/env bash
# The test command: installs what is missing, builds, and runs every test.
#   scripts/test.sh            # from a clean clone; needs Debian apt and PyPI
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD_DIR=${CAMSERVE_BUILD_DIR:-build}
bash scripts/install_deps.sh
# Formatting and lock hygiene first: they fail in seconds.
bash scripts/check_source.sh
bash scripts/build.sh "$@"
# Every target again with clang: lock annotations are checked as errors.
bash scripts/build_clang_checks.sh
# pytorch-grad-cam (the parity reference) lives in a venv over Debian's torch.
bash scripts/setup_test_venv.sh "$BUILD_DIR/test-venv"
cd "$BUILD_DIR"
ctest --output-on-failure --timeout 1800
