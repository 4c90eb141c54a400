# Shared by the benchmark scripts (sourced, not run): the benchmark JPEG,
# starting/stopping camserve on free loopback ports (gRPC: $ADDR, metrics:
# $METRICS_URL) and pytorch-grad-cam as the reference. Expects BUILD, OUT and
# MODEL to be set.
#
# SERVER_CPUS (optional, e.g. 1.8): start_server confines camserve to that
# many CPUs with a CPU cgroup quota, as a container's CPU limit would
# (`docker run --cpus`, Kubernetes `limits.cpu`); the load generator stays
# outside it. On a machine where the client shares the server's few cores,
# this keeps the client's CPU from being taken out of the server's: the
# server gets the same CPU time whatever the client does, as it would with
# the client on another machine. Needs a writable cgroup v1 `cpu` or cgroup
# v2 hierarchy (root); the script stops with a message otherwise. The servers
# one script keeps up at the same time share the one group and its quota.

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

# Makes a CPU cgroup limited to $SERVER_CPUS CPUs (100 ms periods) and prints
# the file a process writes its pid into to join it.
make_cpu_cgroup() {
  local quota_us
  quota_us=$(awk -v cpus="$SERVER_CPUS" 'BEGIN { if (cpus + 0 <= 0) exit 1; printf "%d", cpus * 100000 }') || {
    echo "SERVER_CPUS must be a number > 0; was '$SERVER_CPUS'" >&2
    return 1
  }
  local group
  if [ -w /sys/fs/cgroup/cpu ] && [ -f /sys/fs/cgroup/cpu/cpu.cfs_quota_us ]; then  # cgroup v1
    group=/sys/fs/cgroup/cpu/camserve-bench-$$
    mkdir -p "$group" && echo 100000 > "$group/cpu.cfs_period_us" && echo "$quota_us" > "$group/cpu.cfs_quota_us" &&
      echo "$group/cgroup.procs" && return 0
  elif [ -w /sys/fs/cgroup/cgroup.subtree_control ] && grep -qw cpu /sys/fs/cgroup/cgroup.controllers; then  # v2
    group=/sys/fs/cgroup/camserve-bench-$$
    echo +cpu > /sys/fs/cgroup/cgroup.subtree_control 2>/dev/null || true
    mkdir -p "$group" && echo "$quota_us 100000" > "$group/cpu.max" && echo "$group/cgroup.procs" && return 0
  fi
  echo "SERVER_CPUS=$SERVER_CPUS needs a writable CPU cgroup (cgroup v1 /sys/fs/cgroup/cpu or cgroup v2 with the" \
    "cpu controller), as root; none here" >&2
  return 1
}

remove_cpu_cgroup() {
  rmdir "/sys/fs/cgroup/cpu/camserve-bench-$$" "/sys/fs/cgroup/camserve-bench-$$" 2>/dev/null || true
}

BENCH_PIDS=()
start_server() {  # extra camserve flags
  local launch=()
  if [ -n "${SERVER_CPUS:-}" ]; then
    local procs_file
    procs_file=$(make_cpu_cgroup) || exit 1
    # The shell joins the group before it becomes camserve, so every thread
    # camserve starts is in it.
    # shellcheck disable=SC2016  # $$ and $@ are the inner shell's
    launch=(sh -c 'echo $$ > "$0" && exec "$@"' "$procs_file")
    echo "camserve confined to $SERVER_CPUS CPUs (cgroup $(dirname "$procs_file"))"
  fi
  "${launch[@]}" "$BUILD/server/camserve" --model "$BUILD/models/$MODEL.pt" --listen 127.0.0.1:0 \
    --metrics-listen 127.0.0.1:0 --cache-dir "$OUT/cache" "$@" \
    > "$OUT/server.log" 2>&1 &
  SERVER_PID=$!
  # Every server still up is stopped when the script exits, however it does.
  BENCH_PIDS+=("$SERVER_PID")
  # A cgroup can be removed once its processes have exited.
  trap 'kill -TERM "${BENCH_PIDS[@]}" 2>/dev/null || true; wait "${BENCH_PIDS[@]}" 2>/dev/null; remove_cpu_cgroup' EXIT
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
  remove_cpu_cgroup
}

# pytorch-grad-cam explaining the JPEG $1 end to end in Python (test venv);
# the last line printed is JSON with p50_ms.
pytorch_grad_cam() {  # image
  echo "== pytorch-grad-cam: $MODEL, the same JPEG end to end"
  "$BUILD/test-venv/bin/python" scripts/bench_pytorch_grad_cam.py --models "$BUILD/models" --model "$MODEL" \
    --image "$1" --iterations 20 --warmup 3
}
