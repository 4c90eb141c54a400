#!/usr/bin/env bash
# Reproduces the server benchmarks of docs/benchmarks.md ("Server") on this
# machine, in one run, into build/bench/:
#   1. a 224x224 JPEG (generated, deterministic);
#   2. pytorch-grad-cam explaining the same JPEG in Python (test venv);
#   3. per batcher delay (DELAYS_US) and concurrency level (CONCURRENCY):
#      the engine alone (camserve-engine-bench: no-grad forward and GradCAM
#      at batch 1 and 8), then camserve end to end on a free loopback port
#      (camserve-bench, unique images, cache bypassed).
# Run it on an idle machine: two OpenMP threads collapse when anything else
# wants a core. Needs a build with the test venv (scripts/test.sh).
#
#   scripts/bench_server.sh                      # resnet50, concurrency 1 and 8, delays 2 and 20 ms
#   MODEL=resnet18 CONCURRENCY=1,4,8 DELAYS_US=5000 DURATION_S=10 scripts/bench_server.sh
#   scripts/bench_server.sh --batcher-max-queue-delay-us 5000   # extra camserve flags
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${CAMSERVE_BUILD_DIR:-build}
OUT=$BUILD/bench
MODEL=${MODEL:-resnet50}
CONCURRENCY=${CONCURRENCY:-1,8}
DURATION_S=${DURATION_S:-20}
WARMUP_S=${WARMUP_S:-3}
mkdir -p "$OUT"

source scripts/bench_common.sh
IMAGE=$(make_bench_jpeg "$OUT")

echo "== pytorch-grad-cam: $MODEL, one JPEG end to end"
"$BUILD/test-venv/bin/python" scripts/bench_pytorch_grad_cam.py --models "$BUILD/models" --model "$MODEL" \
  --image "$IMAGE" --iterations 20 --warmup 3 | tee "$OUT/pytorch_grad_cam.json"

# This machine's speed drifts by 20% over minutes (shared host), so every
# server level is bracketed by engine runs taken right before it, about as
# long as the server's window (20 batches of 8 take ~20 s): sustained load
# runs a few percent slower than short bursts.
engine_bench() {
  echo "== engine: $MODEL, no-grad forward vs GradCAM, batch 1 and 8 ($1)"
  "$BUILD/core/tools/camserve-engine-bench" --model "$BUILD/models/$MODEL.pt" --batch-sizes 1,8 \
    --methods gradcam --iterations "${ENGINE_ITERATIONS:-20}" --warmup 2 | tee -a "$OUT/engine.txt" | tail -2
}

: > "$OUT/engine.txt"
for DELAY_US in ${DELAYS_US:-2000 20000}; do
  start_server --batcher-max-queue-delay-us "$DELAY_US" "$@"
  for LEVEL in ${CONCURRENCY//,/ }; do
    engine_bench "before concurrency $LEVEL, delay $DELAY_US us"
    echo "== camserve: $MODEL, concurrency $LEVEL, max_queue_delay_us $DELAY_US (unique images, cache bypassed)"
    "$BUILD/client/bench/camserve-bench" --addr "$ADDR" --image "$IMAGE" --model "$MODEL" \
      --concurrency "$LEVEL" --duration-s "$DURATION_S" --warmup-s "$WARMUP_S" --mode unique \
      --bypass-cache true --json "$OUT/server_d${DELAY_US}_c${LEVEL}.json" | sed -n '/^client side/,$p'
  done
  stop_server
done
echo "results in $OUT/"
