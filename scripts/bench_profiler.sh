#!/usr/bin/env bash
# Reproduces the profiler benchmark of docs/benchmarks.md ("Profiler") on
# this machine, into build/bench/profiler_*:
#   1. camserve-profiler-bench: the in-process cost of one request's stage
#      timers and metrics, profiling on vs off, 1 and 2 recording threads;
#   2. end to end, camserve on MODEL (default resnet50) with profiling on and
#      off, alternating ROUNDS times (default 3): cache hits of one 224x224
#      JPEG at concurrency 1 (the cheapest request, where the profiler's share
#      is largest) and computed requests (bypass_cache) at concurrency 1.
# Run it on an idle machine after a build (scripts/build.sh).
#
#   scripts/bench_profiler.sh
#   ROUNDS=5 DURATION_S=5 scripts/bench_profiler.sh
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${CAMSERVE_BUILD_DIR:-build}
OUT=$BUILD/bench
MODEL=${MODEL:-resnet50}
DURATION_S=${DURATION_S:-10}
ROUNDS=${ROUNDS:-3}
mkdir -p "$OUT"
source scripts/bench_common.sh
IMAGE=$(make_bench_jpeg "$OUT")

echo "== in-process cost (camserve-profiler-bench)"
"$BUILD/core/tools/camserve-profiler-bench" --threads 1
"$BUILD/core/tools/camserve-profiler-bench" --threads 2 --iterations 100000

for round in $(seq 1 "$ROUNDS"); do
  for profiling in true false; do
    rm -rf "$OUT/cache"
    start_server --profiling-enabled "$profiling" > /dev/null
    for kind in hit computed; do
      mode=repeated; extra=()
      [[ $kind == computed ]] && { mode=unique; extra=(--bypass-cache true); }
      "$BUILD/client/bench/camserve-bench" --addr "$ADDR" --image "$IMAGE" --model "$MODEL" --mode "$mode" \
        "${extra[@]}" --concurrency 1 --duration-s "$DURATION_S" --warmup-s 2 \
        --json "$OUT/profiler_${kind}_${profiling}_${round}.json" > /dev/null
    done
    stop_server
  done
done

/usr/bin/python3 - "$OUT" "$ROUNDS" <<'PY'
import json, statistics, sys
out, rounds = sys.argv[1], int(sys.argv[2])
for kind in ("hit", "computed"):
    for profiling in ("true", "false"):
        runs = [json.load(open(f"{out}/profiler_{kind}_{profiling}_{r}.json"))[0] for r in range(1, rounds + 1)]
        p50 = [r["p50_ms"] for r in runs]
        rps = [r["throughput_rps"] for r in runs]
        print(f"{kind:8s} profiling={profiling:5s}: p50 {', '.join(f'{v:.3f}' for v in p50)} ms "
              f"(median {statistics.median(p50):.3f}); {statistics.median(rps):.1f} req/s")
PY
echo "results in $OUT/profiler_*.json"
