#!/usr/bin/env bash
# camserve in bf16 against the strongest peer, torch-cam (docs/benchmarks.md,
# "Precision and the peer"), into build/bench/precision/: ROUNDS rounds, each
#   1. torch-cam's GradCAM in-process on the eager model (same weights), ms
#      per image at batch 1 and 8 (scripts/bench_torchcam.py);
#   2. camserve --precision bf16 under closed-loop load (CONCURRENCY clients,
#      unique images so the cache never answers), requests per second;
#   3. the same camserve in fp32, for the speed-up bf16 brings;
#   4. a lone request (concurrency 1) to the bf16 server, p50.
# Both servers stay up (idle, they cost no CPU); rounds alternate so that the
# machine's drift hits every party alike. The summary gives per round bf16
# req/s over torch-cam's batch-8 images per second, its median and range.
# Run it on an idle machine, after scripts/build.sh and with the test venv
# (scripts/setup_test_venv.sh build/test-venv).
#
#   scripts/bench_precision.sh              # ROUNDS=4 CONCURRENCY=8 WINDOW_S=15 MODEL=resnet50
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${CAMSERVE_BUILD_DIR:-build}
BASE=$BUILD/bench/precision
MODEL=${MODEL:-resnet50}
ROUNDS=${ROUNDS:-4}
CONCURRENCY=${CONCURRENCY:-8}
WINDOW_S=${WINDOW_S:-15}
rm -rf "$BASE"
mkdir -p "$BASE"
OUT=$BASE
source scripts/bench_common.sh
IMAGE=$(make_bench_jpeg "$BASE")
BENCH=$BUILD/client/bench/camserve-bench

declare -A ADDRS
for precision in bf16 fp32; do
  OUT=$BASE/$precision
  mkdir -p "$OUT"
  start_server --precision "$precision"
  grep -E "precision|refused|validated" "$OUT/server.log" | head -5 || true
  ADDRS[$precision]=$ADDR
  SERVER_PIDS+=("$SERVER_PID")
done
trap 'kill -TERM "${SERVER_PIDS[@]}" 2>/dev/null || true' EXIT

run_bench() {  # name, address, bench flags...
  local name=$1 addr=$2
  shift 2
  "$BENCH" --addr "$addr" --image "$IMAGE" --mode unique --unique-images 100000 \
    --json "$BASE/$name.json" "$@" > "$BASE/$name.out" 2> "$BASE/$name.err"
}

for round in $(seq 1 "$ROUNDS"); do
  echo "== round $round"
  "$BUILD/test-venv/bin/python" scripts/bench_torchcam.py --models "$BUILD/models" --model "$MODEL" \
    --image "$IMAGE" --batch-sizes 1,8 > "$BASE/torchcam_$round.jsonl"
  cat "$BASE/torchcam_$round.jsonl"
  for precision in bf16 fp32; do
    run_bench "${precision}_$round" "${ADDRS[$precision]}" --concurrency "$CONCURRENCY" --duration-s "$WINDOW_S" \
      --warmup-s 3
  done
  run_bench "lone_$round" "${ADDRS[bf16]}" --concurrency 1 --duration-s 10 --warmup-s 2
done

/usr/bin/python3 - "$BASE" "$ROUNDS" <<'PY'
import json, os, statistics, sys
base, rounds = sys.argv[1], int(sys.argv[2])
level = lambda name: json.load(open(os.path.join(base, name + ".json")))[0]
rows, ratios = [], []
for r in range(1, rounds + 1):
    torchcam = {j["batch"]: j for j in map(json.loads, open(os.path.join(base, f"torchcam_{r}.jsonl")))}
    bf16, fp32, lone = level(f"bf16_{r}"), level(f"fp32_{r}"), level(f"lone_{r}")
    peer_rps = 1000.0 / torchcam[8]["mean_ms_per_image"]
    ratio = bf16["throughput_rps"] / peer_rps
    ratios.append(ratio)
    rows.append(f"| {r} | {torchcam[1]['p50_ms_per_image']:.1f} | {torchcam[8]['p50_ms_per_image']:.1f} | "
                f"{fp32['throughput_rps']:.2f} | {bf16['throughput_rps']:.2f} | {1000 / bf16['throughput_rps']:.1f} | "
                f"{lone['p50_ms']:.1f} | {ratio:.2f} |")
print("| round | torch-cam b1 ms/img | torch-cam b8 ms/img | camserve fp32 req/s | camserve bf16 req/s "
      "| bf16 ms/req | bf16 lone p50 ms | bf16 req/s over torch-cam b8 img/s |")
print("|---|---|---|---|---|---|---|---|")
print("\n".join(rows))
print(f"\nbf16 over torch-cam batch 8: median {statistics.median(ratios):.2f}, "
      f"range [{min(ratios):.2f}, {max(ratios):.2f}] over {rounds} rounds")
PY
