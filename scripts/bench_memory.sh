#!/usr/bin/env bash
# Memory under hostile load (docs/benchmarks.md, "Memory"): camserve with its
# default settings on MODEL (limits.max_inflight_bytes 512 MiB), its resident
# memory sampled every 100 ms from /proc.
#   1. flood: CLIENTS closed-loop clients send the same large PNG
#      (WIDTHxHEIGHT, photo-like, decoded 3 bytes per pixel) with
#      bypass_cache, for FLOOD_S seconds, asking for INPUT-resolution FLOAT32
#      heatmaps, then for ORIGINAL-resolution PNG overlays; each also with the
#      budget raised to 64 GiB (no budget in effect), for comparison;
#   2. unread stream: one client writes STREAM_REQUESTS requests on an
#      ExplainStream asking for ORIGINAL-resolution FLOAT32 heatmaps of a
#      1000x1000 image (4 MB answers) and never reads; the server's memory is
#      sampled for STREAM_S seconds, then the client goes away.
# Reports the resident memory after warm-up (baseline), its peak, and the
# growth. Run it on an idle machine. Needs a build with build/models.
#   scripts/bench_memory.sh
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${CAMSERVE_BUILD_DIR:-build}
OUT=$BUILD/bench/memory
MODEL=${MODEL:-resnet50}
CLIENTS=${CLIENTS:-32}
WIDTH=${WIDTH:-4000}
HEIGHT=${HEIGHT:-3000}
FLOOD_S=${FLOOD_S:-30}
STREAM_REQUESTS=${STREAM_REQUESTS:-200}
STREAM_S=${STREAM_S:-20}
rm -rf "$OUT"
mkdir -p "$OUT"
source scripts/bench_common.sh
BENCH=$BUILD/client/bench/camserve-bench

/usr/bin/python3 - "$OUT" "$WIDTH" "$HEIGHT" <<'PY'
import sys
import numpy as np
from PIL import Image
out, w, h = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
rng = np.random.default_rng(0)
y, x = np.mgrid[0:h, 0:w]
img = np.stack([128 + 100 * np.sin(x / 97.0 + c) * np.cos(y / 131.0 - c) for c in range(3)], -1)
img += rng.normal(0, 1, (h, w, 3))
Image.fromarray(np.clip(img, 0, 255).astype(np.uint8)).save(f"{out}/large.png", compress_level=6)
img = img[:1000, :1000]
Image.fromarray(np.clip(img, 0, 255).astype(np.uint8)).save(f"{out}/1000.png")
PY
ls -l "$OUT/large.png" "$OUT/1000.png"

# Samples VmRSS of $1 every 100 ms into $2 until the file $3 exists.
sample_rss() {
  while [[ ! -e "$3" ]]; do
    awk '/VmRSS/ {print $2}' "/proc/$1/status" >> "$2" 2>/dev/null || true
    sleep 0.1
  done
}
rss_kib() { awk '/VmRSS/ {print $2}' "/proc/$1/status"; }

flood() {  # name, "bench request flags", extra server flags
  local name=$1 request_flags=$2
  shift 2
  start_server "$@" > /dev/null
  "$BENCH" --addr "$ADDR" --image "$OUT/large.png" --mode repeated --bypass-cache true --concurrency 1 \
    --duration-s 3 --warmup-s 2 --deadline-ms 120000 > /dev/null 2>&1 || true
  local baseline
  baseline=$(rss_kib "$SERVER_PID")
  rm -f "$OUT/$name.stop"
  sample_rss "$SERVER_PID" "$OUT/$name.rss" "$OUT/$name.stop" &
  local sampler=$!
  # shellcheck disable=SC2086
  "$BENCH" --addr "$ADDR" --image "$OUT/large.png" --mode repeated --bypass-cache true --concurrency "$CLIENTS" \
    --duration-s "$FLOOD_S" --warmup-s 0 --deadline-ms 120000 --json "$OUT/$name.json" $request_flags \
    > "$OUT/$name.out" 2>&1 || true
  touch "$OUT/$name.stop"
  wait "$sampler"
  echo "$name baseline_kib=$baseline peak_kib=$(sort -n "$OUT/$name.rss" | tail -1)" >> "$OUT/summary.txt"
  stop_server
}

# INPUT-resolution FLOAT32 answers: a queued request holds only the model
# input; then ORIGINAL-resolution PNG_OVERLAY answers, which keep the whole
# photo and a 12-megapixel heatmap per request.
flood flood_input ""
flood flood_input_no_budget "" --limits-max-inflight-bytes 68719476736
flood flood_overlay "--resolution original --encoding png_overlay"
flood flood_overlay_no_budget "--resolution original --encoding png_overlay" --limits-max-inflight-bytes 68719476736

# The unread stream: a Python client on the raw gRPC stubs of the Python
# package (camserve.v1), installed into a venv.
client/python/make_venv.sh "$OUT/venv" > /dev/null
start_server > /dev/null
"$BENCH" --addr "$ADDR" --image "$OUT/1000.png" --mode repeated --bypass-cache true --concurrency 1 \
  --duration-s 3 --warmup-s 1 --deadline-ms 60000 > /dev/null 2>&1 || true
baseline=$(rss_kib "$SERVER_PID")
rm -f "$OUT/stream.stop"
sample_rss "$SERVER_PID" "$OUT/stream.rss" "$OUT/stream.stop" &
sampler=$!
"$OUT/venv/bin/python" - "$ADDR" "$OUT/1000.png" "$STREAM_REQUESTS" "$STREAM_S" <<'PY'
import sys, time, threading
import grpc
from camserve.v1 import explainer_pb2, explainer_pb2_grpc
addr, image_path, count, seconds = sys.argv[1], sys.argv[2], int(sys.argv[3]), float(sys.argv[4])
image = open(image_path, "rb").read()
sent = [0]
def requests():
    for i in range(count):
        sent[0] = i + 1
        yield explainer_pb2.ExplainRequest(request_id=f"unread{i}", image=image, bypass_cache=True,
                                           resolution=explainer_pb2.HEATMAP_RESOLUTION_ORIGINAL)
channel = grpc.insecure_channel(addr, options=[("grpc.max_receive_message_length", 1 << 30)])
stub = explainer_pb2_grpc.ExplainerStub(channel)
call = stub.ExplainStream(requests())  # never iterated: no response is read
time.sleep(seconds)
print(f"unread stream: the client handed {sent[0]} of {count} requests to gRPC in {seconds} s", flush=True)
call.cancel()
channel.close()
PY
sleep 2
touch "$OUT/stream.stop"
wait "$sampler"
answered=$(grep -c 'request_id="unread' "$OUT/server.log" || true)
echo "stream baseline_kib=$baseline peak_kib=$(sort -n "$OUT/stream.rss" | tail -1) answered=$answered" >> "$OUT/summary.txt"
stop_server

/usr/bin/python3 - "$OUT/summary.txt" "$OUT" <<'PY'
import json, sys
for line in open(sys.argv[1]):
    name, *fields = line.split()
    values = dict(f.split("=") for f in fields)
    base, peak = int(values["baseline_kib"]) / 1024, int(values["peak_kib"]) / 1024
    extra = ""
    if name.startswith("flood"):
        level = json.load(open(f"{sys.argv[2]}/{name}.json"))[0]
        extra = f", {level['ok']} answered, {level['throughput_rps']:.2f} req/s, errors {level['errors_by_code']}"
    else:
        extra = f", {values['answered']} requests answered (the rest never read from the stream)"
    print(f"{name}: resident {base:.0f} MiB after warm-up, peak {peak:.0f} MiB, growth {peak - base:.0f} MiB{extra}")
PY
