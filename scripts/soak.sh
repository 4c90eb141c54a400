#!/usr/bin/env bash
# Soak (docs/reliability.md, "Soak"): camserve with its default settings on
# MODEL, except a small cache (CACHE_BYTES) so that LRU eviction runs all the
# time, serves SOAK_S seconds of mixed traffic from scripts/soak_traffic.py
# (cache hits, misses, streams, malformed requests, deadlines that pass and
# streams the client cancels, info calls) from CLIENTS threads. Every SAMPLE_S
# seconds the server's resident memory, open file descriptors and threads are
# read from /proc into soak.csv. scripts/soak_report.py then gives the
# verdict: after WARMUP_S seconds, resident memory growth under 5% and no
# growth of the descriptor and thread floors (first third of the samples
# against the last), no unexpected outcome (every call ends with a code its
# kind allows), the server alive at the end and exiting 0 on SIGTERM.
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
# The traffic uses the Python package's gRPC stubs (camserve.v1), installed into a venv.
client/python/make_venv.sh "$OUT/venv" > /dev/null

start_server --cache-max-size-bytes "$CACHE_BYTES" "$@"
sample() {  # one CSV line: seconds since start, resident KiB, descriptors, threads
  local rss threads fds
  rss=$(awk '/VmRSS/ {print $2}' "/proc/$SERVER_PID/status")
  threads=$(awk '/Threads/ {print $2}' "/proc/$SERVER_PID/status")
  fds=$(find "/proc/$SERVER_PID/fd" -mindepth 1 -maxdepth 1 | wc -l)
  echo "$1,$rss,$fds,$threads"
}
echo "seconds,rss_kib,fds,threads" > "$OUT/soak.csv"
"$OUT/venv/bin/python" scripts/soak_traffic.py --addr "$ADDR" --duration-s "$SOAK_S" \
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

/usr/bin/python3 scripts/soak_report.py "$OUT" "$WARMUP_S" "$alive" "$exit_status" "$traffic_status"
