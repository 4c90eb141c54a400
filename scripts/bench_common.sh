# Shared by the benchmark scripts (sourced, not run): the benchmark JPEG,
# starting/stopping camserve on free loopback ports (gRPC: $ADDR, metrics:
# $METRICS_URL) and pytorch-grad-cam as the reference. Expects BUILD, OUT and
# MODEL to be set.

# Writes a deterministic 224x224 JPEG into directory $1 and prints its path.
make_bench_jpeg() {
  /usr/bin/python3 - "$1/bench224.jpg" <<'PY'
import sys
import numpy as np
from PIL import Image
rng = np.random.default_rng(0)
y, x = np.mgrid[0:224, 0:224]
img = np.stack([128 + 100 * np.sin(x / 17.0 + c) * np.cos(y / 23.0 - c) for c in range(3)], -1)
img += rng.normal(0, 20, (224, 224, 3))
Image.fromarray(np.clip(img, 0, 255).astype(np.uint8)).save(sys.argv[1], quality=90)
PY
  echo "$1/bench224.jpg"
}

BENCH_PIDS=()
start_server() {  # extra camserve flags
  "$BUILD/server/camserve" --model "$BUILD/models/$MODEL.pt" --listen 127.0.0.1:0 --metrics-listen 127.0.0.1:0 \
    --cache-dir "$OUT/cache" "$@" \
    > "$OUT/server.log" 2>&1 &
  SERVER_PID=$!
  # Every server still up is stopped when the script exits, however it does.
  BENCH_PIDS+=("$SERVER_PID")
  trap 'kill -TERM "${BENCH_PIDS[@]}" 2>/dev/null || true' EXIT
  for _ in $(seq 1 300); do
    grep -q "listening on" "$OUT/server.log" && break
    kill -0 $SERVER_PID 2>/dev/null || { cat "$OUT/server.log"; exit 1; }
    sleep 0.2
  done
  ADDR=$(grep -o "listening on [0-9.]*:[0-9]*" "$OUT/server.log" | head -1 | cut -d' ' -f3)
  METRICS_URL=$(grep -o "http://[0-9.]*:[0-9]*/metrics" "$OUT/server.log" | head -1)
  grep "listening on" "$OUT/server.log"
}

stop_server() {  # the one server started last
  kill -TERM $SERVER_PID
  wait $SERVER_PID
  BENCH_PIDS=()
  trap - EXIT
}

# pytorch-grad-cam explaining the JPEG $1 end to end in Python (test venv);
# the last line printed is JSON with p50_ms.
pytorch_grad_cam() {  # image
  echo "== pytorch-grad-cam: $MODEL, the same JPEG end to end"
  "$BUILD/test-venv/bin/python" scripts/bench_pytorch_grad_cam.py --models "$BUILD/models" --model "$MODEL" \
    --image "$1" --iterations 20 --warmup 3
}
