#!/usr/bin/env bash
# Load shedding under overload (docs/benchmarks.md, "Overload"): camserve with
# its default settings on MODEL; clients with DEADLINE_MS deadlines; unique
# JPEGs, so the cache never answers. This machine's speed drifts by 10-20%
# from minute to minute, so overload runs alternate with capacity runs and
# each overload is compared with the capacity measured right before and
# right after it:
#   capacity 0, then ROUNDS rounds of
#     overload r   open loop at FACTOR x capacity r-1 (Poisson arrivals):
#                  goodput = OK answers per second (an OK answer always came
#                  before its deadline);
#     lone r       concurrency 1 right after the overload (p50);
#     capacity r   closed loop at concurrency 8 (answers per second).
# The summary gives per round goodput / mean(capacity r-1, capacity r), the
# median over the rounds with a distribution-free interval (order
# statistics; the interval of ROUNDS=6 is the 2nd smallest to the 2nd
# largest, 78%), the errors by code, and the server-side latency of the
# refusals (UNAVAILABLE) from the JSON access log: p50, p99, max; and the
# lone request's p50 after each overload against the one before the first.
# Run it on an idle machine. Needs a build with build/models.
# SERVER_CPUS=N confines the server to N CPUs with a cgroup quota (a
# container's CPU limit) and leaves the load generator outside it; see
# scripts/bench_common.sh. Without it the client's CPU (3-4% of 2 cores at
# 300 req/s) comes out of the server's.
#   scripts/bench_overload.sh                   # resnet50, 2 s deadlines, 10x, 6 rounds
#   FACTOR=16 ROUNDS=3 scripts/bench_overload.sh
#   SERVER_CPUS=1.8 ROUNDS=10 scripts/bench_overload.sh
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${CAMSERVE_BUILD_DIR:-build}
OUT=$BUILD/bench/overload
MODEL=${MODEL:-resnet50}
DEADLINE_MS=${DEADLINE_MS:-2000}
FACTOR=${FACTOR:-10}
ROUNDS=${ROUNDS:-6}
OVERLOAD_S=${OVERLOAD_S:-20}
CAPACITY_S=${CAPACITY_S:-15}
SERVER_FLAGS=${SERVER_FLAGS:-}
rm -rf "$OUT"
mkdir -p "$OUT"
source scripts/bench_common.sh
IMAGE=$(make_bench_jpeg "$OUT")
BENCH=$BUILD/client/bench/camserve-bench

# shellcheck disable=SC2086
start_server --logging-format json $SERVER_FLAGS

run_bench() {  # name, bench flags...
  local name=$1
  shift
  "$BENCH" --addr "$ADDR" --image "$IMAGE" --mode unique --unique-images 16384 --deadline-ms "$DEADLINE_MS" \
    --json "$OUT/$name.json" "$@" > "$OUT/$name.out" 2> "$OUT/$name.err" || true
}
throughput() { /usr/bin/python3 -c "import json,sys; print(json.load(open(sys.argv[1]))[0]['throughput_rps'])" "$1"; }

run_bench capacity_0 --concurrency 8 --duration-s "$CAPACITY_S" --warmup-s 5
run_bench lone_0 --concurrency 1 --duration-s 10 --warmup-s 2
for round in $(seq 1 "$ROUNDS"); do
  capacity=$(throughput "$OUT/capacity_$((round - 1)).json")
  rate=$(/usr/bin/python3 -c "print(round($FACTOR * $capacity, 1))")
  echo "== round $round: overload at ${FACTOR} x $capacity = $rate req/s for ${OVERLOAD_S} s"
  lines_before=$(wc -l < "$OUT/server.log")
  run_bench "overload_$round" --rate "$rate" --duration-s "$OVERLOAD_S" --warmup-s 4
  tail -n +"$((lines_before + 1))" "$OUT/server.log" > "$OUT/overload_$round.server.log"
  run_bench "lone_$round" --concurrency 1 --duration-s 10 --warmup-s 0
  run_bench "capacity_$round" --concurrency 8 --duration-s "$CAPACITY_S" --warmup-s 3
done
stop_server

/usr/bin/python3 - "$OUT" "$ROUNDS" "$FACTOR" "${SERVER_CPUS:-}" <<'PY'
import json, os, sys
out, rounds, factor, server_cpus = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
level = lambda name: json.load(open(os.path.join(out, name + ".json")))[0]
ratios, refusal_ms, errors = [], [], {}
lone_before = level("lone_0")["p50_ms"]
print(f"server: {'confined to ' + server_cpus + ' CPUs (cgroup quota), the client outside' if server_cpus else 'unconfined, sharing every core with the client'}")
print(f"capacity 0: {level('capacity_0')['throughput_rps']:.2f} req/s; lone request before: p50 {lone_before:.1f} ms")
for r in range(1, rounds + 1):
    o = level(f"overload_{r}")
    capacity = (level(f"capacity_{r-1}")["throughput_rps"] + level(f"capacity_{r}")["throughput_rps"]) / 2
    ratios.append(o["throughput_rps"] / capacity)
    for code, count in o["errors_by_code"].items():
        errors[code] = errors.get(code, 0) + count
    for line in open(os.path.join(out, f"overload_{r}.server.log")):
        if '"logger":"access"' in line:
            record = json.loads(line)
            if record["status"] == "UNAVAILABLE":
                refusal_ms.append(record["latency_ms"])
    lone = level(f"lone_{r}")["p50_ms"]
    print(f"round {r}: offered {o['rate_rps']:.1f} req/s, goodput {o['throughput_rps']:.2f} req/s, capacity "
          f"{capacity:.2f} req/s, ratio {ratios[-1]:.3f}, errors {o['errors_by_code']}; lone request right after: "
          f"p50 {lone:.1f} ms ({lone / lone_before:.2f} x before)")
ratios_sorted = sorted(ratios)
k = 1 if rounds >= 6 else 0
print(f"goodput / capacity at {factor}x: median {sorted(ratios)[len(ratios) // 2] if rounds % 2 else (ratios_sorted[rounds // 2 - 1] + ratios_sorted[rounds // 2]) / 2:.3f}, "
      f"interval [{ratios_sorted[k]:.3f}, {ratios_sorted[-1 - k]:.3f}], {sum(x >= 0.9 for x in ratios)} of {rounds} rounds >= 0.9")
refusal_ms.sort()
pick = lambda q: refusal_ms[min(len(refusal_ms) - 1, int(q * len(refusal_ms)))]
if refusal_ms:
    print(f"refusals: {len(refusal_ms)}, server-side p50 {pick(0.5):.3f} ms, p99 {pick(0.99):.3f} ms, max {refusal_ms[-1]:.3f} ms")
print(f"errors over all overload windows: {errors}")
PY
