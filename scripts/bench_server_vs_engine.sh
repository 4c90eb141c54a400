#!/usr/bin/env bash
# Measures the server targets of docs/benchmarks.md ("Server", "Paired
# rounds") in paired rounds, into build/bench/ratio/: camserve's throughput
# under closed-loop load against the best no-grad forward throughput the
# engine reaches at any batch size, and at concurrency 1 a lone request's
# latency against the engine's batch-1 forward.
#
# This machine's speed drifts by 10-20% from one minute to the next (shared
# host), more than the margin being measured, so one server run against one
# engine run decides nothing. Instead, one camserve per configuration stays up
# (idle, it costs no CPU) and ROUNDS rounds alternate with the engine, each
# engine run covering every batch size:
#   engine 1, camserve (each configuration) 1, engine 2, ..., engine R+1.
# The summary takes
#   - the engine's throughput per batch size as the median over its R+1 runs,
#     from the mean forward time (a server's throughput is a mean too), and
#     the best batch size by that median;
#   - per configuration and round, camserve's requests per second over the
#     mean of the engine runs right before and right after it at that batch
#     size;
#   - per configuration, the median of those paired ratios with a
#     distribution-free 95% confidence interval (order statistics of the
#     binomial) and how many rounds are at or above the target.
# The target holds when the interval's lower end is at or above it. At
# CONCURRENCY=1 the summary also compares each round's p50 latency with the
# engine's batch-1 forward (median, runs before and after): the
# single-request target, which holds when the interval's upper end is at or
# below LATENCY_TARGET; and, with pytorch-grad-cam run after each round,
# how many times faster camserve answers (SPEEDUP_TARGET, lower end).
# Run it on an idle machine. Needs a build (scripts/build.sh or
# scripts/test.sh) with build/models.
#
#   scripts/bench_server_vs_engine.sh        # 12 rounds, resnet50, concurrency 8, the two configurations below
#   CONCURRENCY=1 ENGINE_BATCH_SIZES=1 CONFIGS="--batcher-max-batch-size 4" scripts/bench_server_vs_engine.sh   # single request
#   ROUNDS=6 WINDOW_S=10 CONFIGS="--batcher-max-batch-size 8 --batcher-max-queue-delay-us 20000" scripts/bench_server_vs_engine.sh
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${CAMSERVE_BUILD_DIR:-build}
OUT=$BUILD/bench/ratio
MODEL=${MODEL:-resnet50}
ROUNDS=${ROUNDS:-12}
CONCURRENCY=${CONCURRENCY:-8}
WINDOW_S=${WINDOW_S:-15}
WARMUP_S=${WARMUP_S:-2}
TARGET=${TARGET:-0.9}
# At CONCURRENCY=1 (with batch 1 among ENGINE_BATCH_SIZES) the summary also
# gives p50 latency over the engine's batch-1 forward, against this bound.
LATENCY_TARGET=${LATENCY_TARGET:-1.25}
# ... and, where the test venv exists (scripts/test.sh), pytorch-grad-cam's
# p50 on the same JPEG (run right after each round) over camserve's.
SPEEDUP_TARGET=${SPEEDUP_TARGET:-4}
# camserve flags per configuration, separated by ';'. Default: the latency
# configuration (one worker with every core) and the throughput one (one
# worker per core), both with batches of 4 (docs/operations.md, "Batcher").
CONFIGS=${CONFIGS:---batcher-max-batch-size 4;--batcher-max-batch-size 4 --batcher-workers 2 --threads-intra-op 1}
ENGINE_BATCH_SIZES=${ENGINE_BATCH_SIZES:-1,2,4,8,16}
# Images per batch size per engine run, so that every batch size runs about
# equally long: iterations = ENGINE_IMAGES / batch size (at least 3).
ENGINE_IMAGES=${ENGINE_IMAGES:-48}
rm -rf "$OUT"
mkdir -p "$OUT"

source scripts/bench_common.sh
IMAGE=$(make_bench_jpeg "$OUT")

engine_run() {  # run number
  for BATCH in ${ENGINE_BATCH_SIZES//,/ }; do
    "$BUILD/core/tools/camserve-engine-bench" --model "$BUILD/models/$MODEL.pt" --batch-sizes "$BATCH" \
      --methods gradcam --iterations $(( ENGINE_IMAGES / BATCH > 3 ? ENGINE_IMAGES / BATCH : 3 )) --warmup 2 \
      | grep -E "^[0-9]+ " >> "$OUT/engine_$1.txt"
  done
  awk -v r="$1" '{printf "engine run %d: batch %d forward %.1f ms/img (mean)\n", r, $1, $9}' "$OUT/engine_$1.txt"
}

IFS=';' read -r -a CONFIG_FLAGS <<< "$CONFIGS"
ADDRS=()
for I in "${!CONFIG_FLAGS[@]}"; do
  mkdir -p "$OUT/config$((I + 1))"
  # shellcheck disable=SC2086  # the flags are words
  OUT=$OUT/config$((I + 1)) start_server ${CONFIG_FLAGS[$I]}
  ADDRS+=("$ADDR")
  echo "$((I + 1)) ${CONFIG_FLAGS[$I]}" >> "$OUT/configs.txt"
  echo "== configuration $((I + 1)): ${CONFIG_FLAGS[$I]}"
done
echo "== concurrency $CONCURRENCY, ${WINDOW_S} s windows, $ROUNDS rounds"
for ROUND in $(seq 1 "$ROUNDS"); do
  engine_run "$ROUND"
  for I in "${!CONFIG_FLAGS[@]}"; do
    RESULT=$OUT/server_$((I + 1))_$ROUND.json
    "$BUILD/client/bench/camserve-bench" --addr "${ADDRS[$I]}" --image "$IMAGE" --model "$MODEL" \
      --concurrency "$CONCURRENCY" --duration-s "$WINDOW_S" --warmup-s "$WARMUP_S" --mode unique \
      --bypass-cache true --json "$RESULT" > /dev/null 2> "$OUT/bench.err" || { cat "$OUT/bench.err"; exit 1; }
    /usr/bin/python3 -c "import json,sys; r=json.load(open(sys.argv[1]))[0]; print('camserve configuration %s run %s: %.2f req/s, mean batch %.2f, forward %.1f ms/img, %d errors' % (sys.argv[2], sys.argv[3], r['throughput_rps'], r['mean_batch_size'], r['server_forward_ms'] / max(r['mean_batch_size'], 1), r['errors']))" \
      "$RESULT" $((I + 1)) "$ROUND"
  done
  # At concurrency 1, pytorch-grad-cam right after, on the same JPEG.
  if [[ "$CONCURRENCY" == 1 && -x "$BUILD/test-venv/bin/python" ]]; then
    pytorch_grad_cam "$IMAGE" > "$OUT/pytorch_grad_cam_$ROUND.txt"
    tail -n 1 "$OUT/pytorch_grad_cam_$ROUND.txt" | /usr/bin/python3 -c "import json,sys; print('pytorch-grad-cam run %s: p50 %.1f ms' % (sys.argv[1], json.load(sys.stdin)['p50_ms']))" "$ROUND"
  fi
done
engine_run $((ROUNDS + 1))
kill -TERM "${BENCH_PIDS[@]}"
wait "${BENCH_PIDS[@]}" || true
trap - EXIT

echo "== summary"
/usr/bin/python3 - "$OUT" "$ROUNDS" "$TARGET" "$CONCURRENCY" "$LATENCY_TARGET" "$SPEEDUP_TARGET" <<'PY'
import json, math, os, statistics, sys
sys.path.insert(0, "scripts")
from engine_bench_rows import read_engine_rows
out, rounds, target = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
concurrency, latency_target, speedup_target = int(sys.argv[4]), float(sys.argv[5]), float(sys.argv[6])

def median_interval(values):
    """Distribution-free ~95% confidence interval of the median: the k-th
    smallest and k-th largest value, k the largest with
    P(Binomial(n, 1/2) < k) <= 2.5%; None for fewer than 6 values."""
    n, k, tail = len(values), 0, 0.0
    while k < n and tail + math.comb(n, k) / 2 ** n <= 0.025:
        tail += math.comb(n, k) / 2 ** n
        k += 1
    if k == 0:
        return None
    ordered = sorted(values)
    return ordered[k - 1], ordered[n - k], 1 - 2 * tail

def report(name, values, bound, higher_is_better):
    """The median of per-round values, its interval, and whether the bound holds."""
    side = "at or above" if higher_is_better else "at or below"
    inside = sum(v >= bound if higher_is_better else v <= bound for v in values)
    print(f"{name}: median {statistics.median(values):.3f} over {len(values)} rounds; "
          f"{inside} of {len(values)} rounds {side} {bound}")
    interval = median_interval(values)
    if interval is None:
        print(f"too few rounds for a 95% interval of the median (need at least 6): {bound} not decided")
        return
    low, high, coverage = interval
    holds = low >= bound if higher_is_better else high <= bound
    print(f"{coverage:.1%} confidence interval of the median: [{low:.3f}, {high:.3f}]; target {bound} "
          f"{'holds' if holds else 'is not shown'}")

runs = [read_engine_rows(f"{out}/engine_{run}.txt") for run in range(1, rounds + 2)]
# Forward images per second from the mean forward time, per batch size.
engines = [{b: 1000.0 / mean_ms for b, (_, mean_ms) in rows.items()} for rows in runs]
# The batch-1 forward median (ms) of every engine run, where measured.
b1_medians = [rows[1][0] for rows in runs if 1 in rows]
medians = {b: statistics.median(e[b] for e in engines) for b in engines[0]}
best = max(medians, key=medians.get)
print("engine forward img/s, median of %d runs: %s; best batch %d" %
      (len(engines), ", ".join(f"b{b} {r:.2f}" for b, r in sorted(medians.items())), best))
configs = [line.rstrip("\n").split(" ", 1) for line in open(f"{out}/configs.txt")]
for number, flags in configs:
    servers = [json.load(open(f"{out}/server_{number}_{run}.json"))[0] for run in range(1, rounds + 1)]
    ratios = []
    print(f"\nconfiguration {number}: {flags}")
    print(f"| round | camserve req/s | mean batch | errors | engine b{best} img/s before / after | ratio |")
    print("|---|---|---|---|---|---|")
    for i, s in enumerate(servers):
        before, after = engines[i][best], engines[i + 1][best]
        ratios.append(s["throughput_rps"] / ((before + after) / 2))
        print(f"| {i + 1} | {s['throughput_rps']:.2f} | {s['mean_batch_size']:.2f} | {s['errors']} | "
              f"{before:.2f} / {after:.2f} | {ratios[-1]:.3f} |")
    if concurrency > 1:
        server_median = statistics.median(s["throughput_rps"] for s in servers)
        print(f"ratio of medians {server_median / medians[best]:.3f}")
        report("req/s over the engine's best forward img/s", ratios, target, higher_is_better=True)
    elif len(b1_medians) == len(engines):
        # A lone request's latency against the engine's batch-1 forward
        # (medians): the single-request target; lower is better.
        latency = [s["p50_ms"] / ((b1_medians[i] + b1_medians[i + 1]) / 2) for i, s in enumerate(servers)]
        print("p50 / engine b1 forward median, per round: " + " ".join(f"{r:.3f}" for r in latency))
        report("p50 over the engine's batch-1 forward", latency, latency_target, higher_is_better=False)
    if concurrency == 1 and os.path.exists(f"{out}/pytorch_grad_cam_1.txt"):
        grad_cam = [json.loads(open(f"{out}/pytorch_grad_cam_{run}.txt").read().strip().splitlines()[-1])["p50_ms"]
                    for run in range(1, rounds + 1)]
        speedup = [g / s["p50_ms"] for g, s in zip(grad_cam, servers)]
        print("pytorch-grad-cam p50 / camserve p50, per round: " +
              " ".join(f"{g:.0f}/{s['p50_ms']:.0f}={r:.2f}" for g, s, r in zip(grad_cam, servers, speedup)))
        report("speed-up over pytorch-grad-cam", speedup, speedup_target, higher_is_better=True)
PY
echo "results in $OUT/"
