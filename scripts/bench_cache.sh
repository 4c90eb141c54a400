#!/usr/bin/env bash
# Reproduces the cache benchmarks of docs/benchmarks.md ("Cache") on this
# machine, into build/bench/cache_*:
#   1. camserve on MODEL (default resnet50) with a fresh cache directory;
#   2. misses: unique 224x224 JPEGs at concurrency 1 (each computed, stored);
#   3. hits: one 224x224 JPEG repeated (FLOAT32 heatmap at input resolution),
#      concurrency 1 and 8;
#   4. the in-server split of a hit (camserve-cache-bench: key hashing,
#      RocksDB read, checksum + parse).
# The gRPC share of a hit is the client's latency minus the server's total_us.
# Run it on an idle machine after a build (scripts/build.sh).
#
#   scripts/bench_cache.sh
#   MODEL=resnet18 DURATION_S=5 scripts/bench_cache.sh
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${CAMSERVE_BUILD_DIR:-build}
OUT=$BUILD/bench
MODEL=${MODEL:-resnet50}
DURATION_S=${DURATION_S:-10}
mkdir -p "$OUT"
source scripts/bench_common.sh
IMAGE=$(make_bench_jpeg "$OUT")
rm -rf "$OUT/cache"

start_server "$@"
echo "== misses: $MODEL, unique JPEGs, concurrency 1 (computed and stored)"
"$BUILD/client/bench/camserve-bench" --addr "$ADDR" --image "$IMAGE" --model "$MODEL" --mode unique \
  --concurrency 1 --duration-s "$DURATION_S" --warmup-s 3 --json "$OUT/cache_miss.json" | sed -n '/^client side/,$p'
echo "== hits: $MODEL, one JPEG repeated, concurrency 1 and 8"
"$BUILD/client/bench/camserve-bench" --addr "$ADDR" --image "$IMAGE" --model "$MODEL" --mode repeated \
  --concurrency 1,8 --duration-s "$DURATION_S" --warmup-s 1 --json "$OUT/cache_hit.json" | sed -n '/^client side/,$p'
stop_server

echo "== hit split inside the server (camserve-cache-bench)"
rm -rf "$OUT/cache_split"
"$BUILD/core/tools/camserve-cache-bench" --image "$IMAGE" --dir "$OUT/cache_split" 2>/dev/null
/usr/bin/python3 - "$OUT/cache_miss.json" "$OUT/cache_hit.json" <<'PY'
import json, sys
miss = json.load(open(sys.argv[1]))[0]
hits = json.load(open(sys.argv[2]))
for h in hits:
    print(f"hit c={h['concurrency']}: p50 {h['p50_ms']:.3f} ms, p99 {h['p99_ms']:.3f} ms, "
          f"{h['throughput_rps']:.0f} req/s, server total {h['server_total_ms']:.3f} ms "
          f"(cache_get {h['server_cache_get_ms']:.3f} ms), hit fraction {h['cache_hit_fraction']:.3f}")
print(f"miss c=1: p50 {miss['p50_ms']:.1f} ms; miss p50 / hit p50 = {miss['p50_ms'] / hits[0]['p50_ms']:.0f}x")
PY
echo "results in $OUT/cache_*.json"
