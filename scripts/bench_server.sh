#!/usr/bin/env bash
# Reproduces the server benchmarks of docs/benchmarks.md ("Server") on this
# machine, in one run, into build/bench/:
#   1. a 224x224 JPEG (generated, deterministic);
#   2. per batcher delay (DELAYS_US) and concurrency level (CONCURRENCY):
#      the engine alone (camserve-engine-bench: no-grad forward and GradCAM
#      at batch 1, 2, 4 and 8), then camserve end to end on a free loopback
#      port (camserve-bench, unique images, cache bypassed), and after each
#      concurrency-1 level pytorch-grad-cam explaining the same JPEG in
#      Python (test venv); one more engine run after the last level;
#   3. a summary table: each level's throughput and p50 against the engine
#      runs right before and after it.
# Run it on an idle machine: two OpenMP threads collapse when anything else
# wants a core. Needs a build with the test venv (scripts/test.sh).
#
#   scripts/bench_server.sh                      # resnet50, concurrency 1 and 8, delays 2 and 20 ms
#   MODEL=resnet18 CONCURRENCY=1,4,8 DELAYS_US=5000 DURATION_S=10 scripts/bench_server.sh
#   DELAYS_US=2000 CONCURRENCY=1,8,8,8 scripts/bench_server.sh --batcher-max-batch-size 4   # extra camserve flags
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

# This machine's speed drifts by 10-20% over minutes (shared host), so every
# server level is bracketed by engine runs, one right before it and one
# right after (the next level's "before"), each about as long as the
# server's window: sustained load runs a few percent slower than short
# bursts. The engine runs at ENGINE_BATCH_SIZES (default 1,2,4,8) and the
# summary compares each level with the best of them, averaged over the runs
# before and after.
ENGINE_BATCH_SIZES=${ENGINE_BATCH_SIZES:-1,2,4,8}
ENGINE_RUN=0
engine_bench() {
  ENGINE_RUN=$((ENGINE_RUN + 1))
  echo "== engine run $ENGINE_RUN: $MODEL, no-grad forward vs GradCAM, batch $ENGINE_BATCH_SIZES ($1)"
  "$BUILD/core/tools/camserve-engine-bench" --model "$BUILD/models/$MODEL.pt" --batch-sizes "$ENGINE_BATCH_SIZES" \
    --methods gradcam --iterations "${ENGINE_ITERATIONS:-20}" --warmup 2 | tee "$OUT/engine_$ENGINE_RUN.txt" \
    | grep -E "^(batch|[0-9]+ )"
}

LEVELS_FILE=$OUT/levels.txt
: > "$LEVELS_FILE"
for DELAY_US in ${DELAYS_US:-2000 20000}; do
  start_server --batcher-max-queue-delay-us "$DELAY_US" "$@"
  for LEVEL in ${CONCURRENCY//,/ }; do
    engine_bench "before concurrency $LEVEL, delay $DELAY_US us"
    RESULT="$OUT/server_d${DELAY_US}_c${LEVEL}_$ENGINE_RUN.json"
    echo "== camserve: $MODEL, concurrency $LEVEL, max_queue_delay_us $DELAY_US (unique images, cache bypassed)"
    "$BUILD/client/bench/camserve-bench" --addr "$ADDR" --image "$IMAGE" --model "$MODEL" \
      --concurrency "$LEVEL" --duration-s "$DURATION_S" --warmup-s "$WARMUP_S" --mode unique \
      --bypass-cache true --json "$RESULT" | sed -n '/^client side/,$p'
    echo "$DELAY_US $LEVEL $ENGINE_RUN $RESULT" >> "$LEVELS_FILE"
    # Right after every concurrency-1 level, so that both see the same machine.
    [[ "$LEVEL" == 1 ]] && pytorch_grad_cam "$IMAGE" | tee "${RESULT%.json}_pytorch_grad_cam.json"
  done
  stop_server
done
engine_bench "after the last level"

echo "== summary: each level against the engine runs right before and after it"
/usr/bin/python3 - "$OUT" "$LEVELS_FILE" <<'PY'
import json, sys
sys.path.insert(0, "scripts")
from engine_bench_rows import read_engine_rows
out, levels_file = sys.argv[1], sys.argv[2]

def engine(run):
    """{batch: (forward median ms/img, forward mean ms/img)} of one engine run."""
    return read_engine_rows(f"{out}/engine_{run}.txt")

def best(rows, column):
    batch = min(rows, key=lambda b: rows[b][column])
    return batch, 1000.0 / rows[batch][column]

print("| delay us | concurrency | mean batch | camserve req/s | p50 ms | engine b1 forward ms (before/after) | "
      "best engine img/s by median (before/after: batch) | by mean | ratio to median | to mean | "
      "p50 / b1 forward | pytorch-grad-cam p50 ms (right after) / camserve p50 |")
print("|---|---|---|---|---|---|---|---|---|---|---|---|")
for line in open(levels_file):
    delay, level, run, path = line.split()
    run = int(run)
    r = json.load(open(path))[0]
    before, after = engine(run), engine(run + 1)
    by_median = [best(before, 0), best(after, 0)]
    by_mean = [best(before, 1), best(after, 1)]
    median_rate = sum(x[1] for x in by_median) / 2
    mean_rate = sum(x[1] for x in by_mean) / 2
    b1 = [e[1][0] for e in (before, after) if 1 in e]
    b1_text = " / ".join(f"{x:.1f}" for x in b1) if b1 else "-"
    p50_ratio = f"{r['p50_ms'] / (sum(b1) / len(b1)):.2f}" if b1 and level == "1" else "-"
    grad_cam = "-"
    if level == "1":
        p = json.loads(open(path[:-len(".json")] + "_pytorch_grad_cam.json").read().strip().splitlines()[-1])
        grad_cam = f"{p['p50_ms']:.1f} / {r['p50_ms']:.1f} = {p['p50_ms'] / r['p50_ms']:.2f}x"
    print(f"| {delay} | {level} | {r['mean_batch_size']:.2f} | {r['throughput_rps']:.2f} | {r['p50_ms']:.1f} | "
          f"{b1_text} | {by_median[0][1]:.2f} (b{by_median[0][0]}) / {by_median[1][1]:.2f} (b{by_median[1][0]}) | "
          f"{mean_rate:.2f} | {r['throughput_rps'] / median_rate:.2f} | {r['throughput_rps'] / mean_rate:.2f} | "
          f"{p50_ratio} | {grad_cam} |")
PY
echo "results in $OUT/"
