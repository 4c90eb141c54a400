#!/usr/bin/env bash
# Builds every target with clang into build-clang/ to check what only clang
# checks: lock annotations (-Wthread-safety, as errors). Models are not
# exported and no test runs here. Extra arguments go to cmake's configure
# step; scripts/test_sanitizers.sh asan (and so scripts/test.sh) builds this
# with AddressSanitizer and UBSan into build-asan/ and runs the tests there.
#   scripts/build_clang_checks.sh
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD_DIR=${CAMSERVE_CLANG_BUILD_DIR:-build-clang}
export CCACHE_BASEDIR="${CCACHE_BASEDIR:-$PWD}"
# clang writes a timestamp into precompiled headers unless told not to, and
# ccache then never reuses them.
export CCACHE_SLOPPINESS="${CCACHE_SLOPPINESS:-pch_defines,time_macros,include_file_mtime,include_file_ctime}"
cmake -S . -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=Release \
  -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++ \
  -DCMAKE_CXX_FLAGS="-Wthread-safety -Werror=thread-safety -Xclang -fno-pch-timestamp" \
  -DCAMSERVE_BUILD_MODELS=OFF "$@"
cmake --build "$BUILD_DIR" --parallel "${CAMSERVE_BUILD_JOBS:-$(nproc)}"
echo "build_clang_checks: every target builds with clang -Wthread-safety -Werror=thread-safety"
