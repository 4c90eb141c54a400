#!/usr/bin/env bash
# Builds the libFuzzer targets of tests/fuzz/ with clang into build-fuzz/
# (ASan + UBSan + coverage, CAMSERVE_BUILD_FUZZERS=ON) and runs one of them.
# docs/fuzzing.md has the targets, the commands of the recorded runs and
# their results.
#   scripts/fuzz.sh build                 # build every target
#   scripts/fuzz.sh run TARGET [SECONDS]  # fuzz for SECONDS (default 600)
#   scripts/fuzz.sh merge TARGET          # minimize into tests/fuzz/corpus/TARGET
# TARGET is image_decoder, explain_request, cached_explanation or
# server_config. A run reads the checked-in corpus and writes what it finds to
# build-fuzz/corpus/TARGET/ (crashes, leaks and timeouts to
# build-fuzz/artifacts/TARGET/); merge keeps the inputs of both that add
# coverage. A run's log is build-fuzz/logs/TARGET.log. Extra libFuzzer flags:
# CAMSERVE_FUZZ_FLAGS.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD_DIR=${CAMSERVE_FUZZ_BUILD_DIR:-build-fuzz}
TARGETS=(image_decoder explain_request cached_explanation server_config)
export CCACHE_BASEDIR="${CCACHE_BASEDIR:-$PWD}"
export CCACHE_SLOPPINESS="${CCACHE_SLOPPINESS:-pch_defines,time_macros,include_file_mtime,include_file_ctime}"

usage() {
  sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//' >&2
  exit 2
}

build() {
  cmake -S . -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++ \
    -DCAMSERVE_BUILD_FUZZERS=ON -DCAMSERVE_BUILD_MODELS=OFF >/dev/null
  cmake --build "$BUILD_DIR" --parallel "${CAMSERVE_BUILD_JOBS:-$(nproc)}" --target "$@"
}

check_target() {
  local t
  for t in "${TARGETS[@]}"; do [[ "$1" == "$t" ]] && return 0; done
  echo "fuzz.sh: unknown target '$1'; one of: ${TARGETS[*]}" >&2
  exit 2
}

command=${1:-}
case "$command" in
  build)
    build "${TARGETS[@]/%/_fuzz}"
    ;;
  run)
    [[ $# -ge 2 ]] || usage
    target=$2
    seconds=${3:-600}
    check_target "$target"
    build "${target}_fuzz"
    mkdir -p "$BUILD_DIR/corpus/$target" "$BUILD_DIR/artifacts/$target" "$BUILD_DIR/logs"
    # Timeouts: 10 s per input; memory: 2 GiB, also the largest malloc.
    # shellcheck disable=SC2086
    set -x
    "$BUILD_DIR/tests/fuzz/${target}_fuzz" -max_total_time="$seconds" -rss_limit_mb=2048 -timeout=10 \
      -print_final_stats=1 -artifact_prefix="$BUILD_DIR/artifacts/$target/" ${CAMSERVE_FUZZ_FLAGS:-} \
      "$BUILD_DIR/corpus/$target" "tests/fuzz/corpus/$target" 2>&1 | tee "$BUILD_DIR/logs/$target.log"
    ;;
  merge)
    [[ $# -ge 2 ]] || usage
    target=$2
    check_target "$target"
    build "${target}_fuzz"
    merged="$BUILD_DIR/merged/$target"
    rm -rf "$merged"
    mkdir -p "$merged"
    # -use_counters=0: one input per coverage edge, not per hit-count bucket
    # of every edge (a few dozen files instead of hundreds, same edges).
    "$BUILD_DIR/tests/fuzz/${target}_fuzz" -merge=1 -use_counters=0 -rss_limit_mb=2048 -timeout=10 "$merged" \
      "tests/fuzz/corpus/$target" "$BUILD_DIR/corpus/$target"
    # Seeds and reproducers stay under their names; the rest is replaced by
    # the merged files (named by their SHA-1, as libFuzzer names them) that
    # are not a kept file's copy.
    kept="tests/fuzz/corpus/$target"
    find "$kept" -type f ! -name 'seed_*' ! -name 'crash_*' ! -name 'timeout_*' ! -name 'oom_*' -delete
    declare -A kept_sha1=()
    for f in "$kept"/*; do kept_sha1[$(sha1sum <"$f" | cut -c1-40)]=1; done
    for f in "$merged"/*; do
      [[ -n "${kept_sha1[$(basename "$f")]:-}" ]] || cp "$f" "$kept/"
    done
    echo "fuzz.sh: $kept: $(find "$kept" -type f | wc -l) files, $(du -sb "$kept" | cut -f1) bytes"
    ;;
  *) usage ;;
esac
