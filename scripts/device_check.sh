#!/usr/bin/env bash
# GPU check, run on a lent CUDA machine that has PyTorch but no apt: builds
# camserve against PyTorch's own CUDA LibTorch, regenerates the models and the
# pytorch-grad-cam reference with that PyTorch, runs the test suite with the
# engine on CUDA, then the engine benchmark on CUDA.
#
# Needs, carried next to the tree (both git-ignored):
#   .devdeps/root  Debian packages unpacked with dpkg -x (yaml-cpp, spdlog, fmt,
#                  libturbojpeg, libpng, zlib, catch2, cli11 and their -dev packages)
#   .whl           wheels of grad-cam 1.5.7 and ttach 0.0.3
# Writes logs to $OUT (or /tmp/device_out).
# Status: written for the lent GPU machines, not yet run on one (no GPU was lent
# to the task that wrote it); expect to fix a first-run problem or two.
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-/tmp/device_out}
mkdir -p "$OUT"
DEPS=$PWD/.devdeps/root
ARCH_LIB=$DEPS/usr/lib/x86_64-linux-gnu
export LD_LIBRARY_PATH=$ARCH_LIB:${LD_LIBRARY_PATH:-}
python3 -m pip install -q --no-index --no-deps --no-compile --target /tmp/site .whl/*.whl
export PYTHONPATH=/tmp/site
TORCH_PREFIX=$(python3 -c 'import torch; print(torch.utils.cmake_prefix_path)')
{ nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv; python3 -c 'import torch; print("torch", torch.__version__)'; } | tee "$OUT/device.txt"

cmake -S . -B build-cuda -G Ninja -DCMAKE_BUILD_TYPE=Release \
  -DCMAKE_PREFIX_PATH="$TORCH_PREFIX;$DEPS/usr" \
  -DCAMSERVE_PYTHON="$(command -v python3)" -DCAMSERVE_TEST_PYTHON="$(command -v python3)" \
  > "$OUT/configure.log" 2>&1 || { tail -40 "$OUT/configure.log"; exit 1; }
cmake --build build-cuda --parallel "$(nproc)" > "$OUT/build.log" 2>&1 || { grep -E "error" "$OUT/build.log" | head -40; exit 1; }
echo "build ok"

if [[ "${SKIP_TESTS:-0}" != 1 ]]; then
  (cd build-cuda && CAMSERVE_TEST_DEVICE=cuda CAMSERVE_TEST_MAP_TOLERANCE=${MAP_TOLERANCE:-1e-4} \
     ctest --output-on-failure --timeout 900 > "$OUT/ctest.log" 2>&1) || true
  grep -E "tests passed|Passed|Failed|largest map difference|FAILED|with expansion" -A2 "$OUT/ctest.log" | head -60
  (cd build-cuda && CAMSERVE_MODEL_DIR=$PWD/models CAMSERVE_TEST_DATA_DIR=$PWD/test_data CAMSERVE_TEST_DEVICE=cuda \
     ./tests/engine_tests "every method matches*" -s 2>&1 | grep -B1 -A2 "largest map difference" | head -20) || true
fi

BENCH=build-cuda/core/tools/camserve-engine-bench
run_bench() {  # precision channels_last optimize batch_sizes methods
  echo "\$ $BENCH --model build-cuda/models/resnet50.pt --device cuda --precision $1 --channels-last $2 --optimize $3 --batch-sizes $4 --methods $5 --iterations 20 --warmup 5"
  "$BENCH" --model build-cuda/models/resnet50.pt --device cuda --precision "$1" --channels-last "$2" \
    --optimize "$3" --batch-sizes "$4" --methods "$5" --iterations 20 --warmup 5
}
{
  run_bench fp32 1 1 1,2,4,8,16,32 all
  run_bench fp16 1 1 1,8,32 gradcam,eigencam
  run_bench bf16 1 1 1,8,32 gradcam,eigencam
  run_bench fp32 0 1 1,8,32 gradcam
  run_bench fp32 1 0 1,8,32 gradcam
  run_bench fp16 1 0 1,8,32 gradcam
} 2>&1 | tee "$OUT/bench.txt"
