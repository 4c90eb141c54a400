#!/usr/bin/env bash
# Builds camserve with clang's sanitizers and runs tests in that build
# (docs/sanitizers.md):
#   scripts/test_sanitizers.sh asan   # every target with AddressSanitizer +
#                                     # UndefinedBehaviorSanitizer into
#                                     # build-asan/, then the whole ctest suite
#   scripts/test_sanitizers.sh tsan   # the concurrency tests (batcher, cache
#                                     # and coalescer, serving over a fake
#                                     # engine) with ThreadSanitizer into
#                                     # build-tsan/, then those tests
# Extra arguments go to ctest, e.g. `-R cache_tests`.
# The ASan build is scripts/build_clang_checks.sh with the sanitizers on, so
# it checks the lock annotations too. It exports no models: its tests use the
# Release build's (CAMSERVE_BUILD_DIR, default build/; scripts/build.sh), its
# generated test data (the fixture tests skip what is up to date, so the
# pytorch-grad-cam reference is computed once) and its reference venv
# (scripts/setup_test_venv.sh, made here if missing).
# A sanitizer report anywhere, in a test or in a server it starts, fails the
# run: reports go to files under the build's sanitizer-reports/, which must
# hold none.
set -euo pipefail
cd "$(dirname "$0")/.."
kind=${1:-}
shift || true
case "$kind" in
  asan) build_dir=${CAMSERVE_ASAN_BUILD_DIR:-build-asan} ;;
  tsan) build_dir=${CAMSERVE_TSAN_BUILD_DIR:-build-tsan} ;;
  *)
    echo "usage: $0 asan|tsan [ctest arguments]" >&2
    exit 2
    ;;
esac
main_build_dir=$(realpath -m "${CAMSERVE_BUILD_DIR:-build}")
suppressions="$PWD/tests/sanitizers"
jobs=${CAMSERVE_BUILD_JOBS:-$(nproc)}
# The sanitizer builds carry line tables (-g1), and with debug information
# ccache keys on the build folder's absolute path unless told not to: every
# clone (CI's included) would compile them cold. Line tables name the sources
# relative to the build folder that first compiled them; reports still give
# file and line.
export CCACHE_NOHASHDIR="${CCACHE_NOHASHDIR:-true}"
# The tests the TSan build builds and runs: every one that runs our threads
# without LibTorch (whose OpenMP runtime TSan cannot see).
tsan_tests=(batching_tests cache_tests serving_tests)

if [[ "$kind" == asan ]]; then
  if [[ ! -f "$main_build_dir/models/digits_cnn.pt" ]]; then
    echo "test_sanitizers: no models in $main_build_dir/models; run scripts/build.sh first" >&2
    exit 1
  fi
  bash scripts/setup_test_venv.sh "$main_build_dir/test-venv"
  CAMSERVE_CLANG_BUILD_DIR="$build_dir" bash scripts/build_clang_checks.sh \
    -DCAMSERVE_SANITIZE=address,undefined \
    -DCAMSERVE_MODEL_DIR="$main_build_dir/models" \
    -DCAMSERVE_TEST_DATA_DIR="$main_build_dir/test_data" \
    -DCAMSERVE_TEST_PYTHON="$main_build_dir/test-venv/bin/python"
  # The docker label's test builds the Release image recipe again with gcc,
  # without sanitizers: nothing of this build runs in it.
  ctest_selection=(-LE docker)
else
  export CCACHE_BASEDIR="${CCACHE_BASEDIR:-$PWD}"
  export CCACHE_SLOPPINESS="${CCACHE_SLOPPINESS:-pch_defines,time_macros,include_file_mtime,include_file_ctime}"
  cmake -S . -B "$build_dir" -G Ninja -DCMAKE_BUILD_TYPE=Release \
    -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++ -DCMAKE_CXX_FLAGS= \
    -DCAMSERVE_BUILD_MODELS=OFF -DCAMSERVE_SANITIZE=thread
  cmake --build "$build_dir" --parallel "$jobs" --target "${tsan_tests[@]}"
  ctest_selection=(-R "^($(
    IFS='|'
    echo "${tsan_tests[*]}"
  ))\$")
fi

reports="$(realpath -m "$build_dir")/sanitizer-reports"
rm -rf "$reports"
mkdir -p "$reports"
# Exported, so that they reach every test and every process a test starts
# (the server, the clients). A report aborts the process that has it
# (halt_on_error; the build has -fno-sanitize-recover) and is written to
# $reports/KIND.EXECUTABLE.PID as well as failing that process.
common="halt_on_error=1:log_path=$reports/$kind:log_exe_name=1"
# allocator_may_return_null: an allocation too large to satisfy fails as it
# does without ASan (LibTorch then reports out of memory, which a test
# provokes with a 16 TiB tensor) instead of aborting the process.
export ASAN_OPTIONS="$common:detect_leaks=1:detect_stack_use_after_return=1:strict_init_order=1:allocator_may_return_null=1"
export LSAN_OPTIONS="suppressions=$suppressions/lsan.supp:print_suppressions=0"
export UBSAN_OPTIONS="$common:print_stacktrace=1"
export TSAN_OPTIONS="$common:second_deadlock_stack=1:suppressions=$suppressions/tsan.supp"

status=0
ctest --test-dir "$build_dir" --output-on-failure --timeout 1800 "${ctest_selection[@]}" "$@" || status=$?
# Every report ends with "SUMMARY: ...Sanitizer: ..."; a file without one
# holds only the runtime's warnings (e.g. that it could not start
# llvm-symbolizer in a process with LD_PRELOAD).
mapfile -t found < <(grep -l -E '^SUMMARY: [A-Za-z]+Sanitizer' "$reports"/* 2>/dev/null || true)
if ((${#found[@]} > 0)); then
  echo "test_sanitizers: $kind reported errors ($reports):" >&2
  for report in "${found[@]}"; do
    echo "=== $report" >&2
    cat "$report" >&2
  done
  status=1
fi
((status == 0)) && echo "test_sanitizers: $kind: tests pass with no sanitizer reports"
exit "$status"
