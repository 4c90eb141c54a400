#!/usr/bin/env bash
# The test command: installs what is missing, builds, and runs every test:
# in the Release build, in an AddressSanitizer + UndefinedBehaviorSanitizer
# build and (the concurrency tests) in a ThreadSanitizer build.
#   scripts/test.sh            # from a clean clone; needs Debian apt and PyPI
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD_DIR=${CAMSERVE_BUILD_DIR:-build}
bash scripts/install_deps.sh
# Formatting and lock hygiene first: they fail in seconds.
bash scripts/check_source.sh
bash scripts/build.sh "$@"
# pytorch-grad-cam (the parity reference) lives in a venv over Debian's torch.
bash scripts/setup_test_venv.sh "$BUILD_DIR/test-venv"
# Every target again with clang, ASan and UBSan (scripts/build_clang_checks.sh:
# lock annotations are checked as errors), and every test in that build with
# the Release build's models.
bash scripts/test_sanitizers.sh asan
# The batcher, cache, coalescer and serving tests under ThreadSanitizer.
bash scripts/test_sanitizers.sh tsan
cd "$BUILD_DIR"
ctest --output-on-failure --timeout 1800
