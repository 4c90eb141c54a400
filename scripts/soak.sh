#!/usr/bin/env bash
# Soak (docs/reliability.md, "Soak"): camserve with its default settings on
# MODEL, except a small cache (CACHE_BYTES) so that LRU eviction runs all the
# time, serves SOAK_S seconds of mixed traffic from scripts/soak_traffic.py
# (cache hits, misses, streams, malformed requests, deadlines that pass and
# streams the client cancels, info calls) from CLIENTS threads. Every SAMPLE_S
# seconds the server's resident memory, open file descriptors and threads are
# read from /proc into soak.csv. After WARMUP_S seconds the run must show:
#   resident memory growth under 5%, and no file descriptor or thread
#     growth: the largest value in the last third of the samples after
#     warm-up against the largest in the first third (a leak raises the
#     former; RocksDB's open files and gRPC's threads go up and down by a few),
#   no unexpected outcome (every call ends with a code its kind allows),
#   the server alive at the end and exiting 0 on SIGTERM.
# Exits 1 otherwise. Needs a build with build/models.
#   scripts/soak.sh                    # 30 minutes
#   SOAK_S=120 WARMUP_S=30 scripts/soak.sh
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${CAMSERVE_BUILD_DIR:-build}
OUT=$BUILD/bench/soak
MODEL=${MODEL:-resnet18}
CLIENTS=${CLIENTS:-6}
SOAK_S=${SOAK_S:-1800}
WARMUP_S=${WARMUP_S:-300}
SAMPLE_S=${SAMPLE_S:-10}
CACHE_BYTES=${CACHE_BYTES:-67108864}
rm -rf "$OUT"
mkdir -p "$OUT"
source scripts/bench_common.sh
client/python/generate_stubs.sh "$OUT/stubs" > /dev/null

start_server --cache-max-size-bytes "$CACHE_BYTES" "$@"
sample() {  # one CSV line: seconds since start, resident KiB, descriptors, threads
  local rss threads fds
  rss=$(awk '/VmRSS/ {print $2}' "/proc/$SERVER_PID/status")
  threads=$(awk '/Threads/ {print $2}' "/proc/$SERVER_PID/status")
  fds=$(find "/proc/$SERVER_PID/fd" -mindepth 1 -maxdepth 1 | wc -l)
  echo "$1,$rss,$fds,$threads"
}
echo "seconds,rss_kib,fds,threads" > "$OUT/soak.csv"
PYTHONPATH="$OUT/stubs" /usr/bin/python3 scripts/soak_traffic.py --addr "$ADDR" --duration-s "$SOAK_S" \
  --clients "$CLIENTS" --json "$OUT/outcomes.json" > "$OUT/traffic.out" 2>&1 &
TRAFFIC_PID=$!
start=$SECONDS
alive=1
while kill -0 "$TRAFFIC_PID" 2>/dev/null; do
  if ! kill -0 "$SERVER_PID" 2>/dev/null; then
    alive=0
    break
  fi
  sample $((SECONDS - start)) >> "$OUT/soak.csv"
  sleep "$SAMPLE_S"
done
traffic_status=0
wait "$TRAFFIC_PID" || traffic_status=$?
[[ $alive == 1 ]] && kill -0 "$SERVER_PID" 2>/dev/null && sample $((SECONDS - start)) >> "$OUT/soak.csv"
exit_status=0
if kill -0 "$SERVER_PID" 2>/dev/null; then
  kill -TERM "$SERVER_PID"
  wait "$SERVER_PID" || exit_status=$?
else
  alive=0
fi
BENCH_PIDS=()
trap - EXIT

/usr/bin/python3 - "$OUT" "$WARMUP_S" "$alive" "$exit_status" "$traffic_status" <<'PY'
import csv, json, sys
out, warmup, alive, exit_status, traffic_status = sys.argv[1], float(sys.argv[2]), *map(int, sys.argv[3:])
rows = [{k: float(v) for k, v in r.items()} for r in csv.DictReader(open(f"{out}/soak.csv"))]
after = [r for r in rows if r["seconds"] >= warmup]
outcomes = json.load(open(f"{out}/outcomes.json"))
calls = sum(outcomes["counts"].values())
print(f"samples: {len(rows)} over {rows[-1]['seconds']:.0f} s; {calls} calls:")
for key, count in outcomes["counts"].items():
    print(f"  {key}: {count}")
failures = []
if len(after) < 3:
    failures.append("fewer than 3 samples after warm-up")
else:
    # The first and the last third of the samples after warm-up. A leak makes
    # the last third's largest value exceed the first third's; RocksDB's file
    # count and gRPC's thread pool move up and down by a few without leaking.
    third = len(after) // 3
    early, late = after[:third], after[-third:]
    for name, unit, scale, limit in (("rss_kib", "MiB", 1024, 0.05), ("fds", "", 1, 0), ("threads", "", 1, 0)):
        early_max = max(r[name] for r in early)
        late_max = max(r[name] for r in late)
        growth = late_max / early_max - 1
        print(f"{name}: {rows[0][name] / scale:.0f}{unit} at start; after warm-up ({after[0]['seconds']:.0f} s) "
              f"largest in the first third {early_max / scale:.0f}{unit}, in the last third "
              f"{late_max / scale:.0f}{unit} ({100 * growth:+.2f}%); last sample {after[-1][name] / scale:.0f}{unit}")
        if growth > limit:
            failures.append(f"{name} grew {100 * growth:.2f}% after warm-up (limit {100 * limit:.0f}%)")
if not alive:
    failures.append("the server died during the soak")
if exit_status != 0:
    failures.append(f"the server exited {exit_status} on SIGTERM")
if outcomes["unexpected_total"]:
    failures.append(f"{outcomes['unexpected_total']} unexpected outcomes, e.g. {outcomes['unexpected'][:3]}")
print("soak: " + ("PASS" if not failures else "FAIL: " + "; ".join(failures)))
sys.exit(1 if failures else 0)
PY
