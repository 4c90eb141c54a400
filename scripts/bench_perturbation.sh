#!/usr/bin/env bash
# The perturbation methods and the quality scores on ResNet-50 (224x224, the
# benchmark JPEG, this machine's threads), into build/bench/perturbation/;
# docs/benchmarks.md ("Perturbation methods and quality scores") has the
# results. Run it on an idle machine; it takes a few minutes, most of them in
# pytorch-grad-cam's AblationCAM and camserve's ScoreCAM.
#   1. camserve-engine-bench: gradcam, ablationcam and reciprocam at layer4
#      (batch 1 and 8) and layer3 (batch 1); scorecam at layer4 (batch 1,
#      its cap raised to layer4's 2048 channels); gradcam with the quality
#      scores (--evaluate, batch 1 and 8).
#   2. pytorch-grad-cam 1.5.7 on the same JPEG and weights: AblationCAM at
#      layer4 and layer3 (one run each: it re-runs the whole model per 32
#      channels) and GradCAM.
#
#   scripts/bench_perturbation.sh      # ITERATIONS=5
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${CAMSERVE_BUILD_DIR:-build}
OUT=$BUILD/bench/perturbation
MODEL=resnet50
ITERATIONS=${ITERATIONS:-5}
VENV=${VENV:-$BUILD/test-venv}
# shellcheck source=scripts/bench_common.sh
source scripts/bench_common.sh
rm -rf "$OUT"
mkdir -p "$OUT"
image=$(make_bench_jpeg "$OUT")

bench() {  # output name, then camserve-engine-bench flags
  local name=$1
  shift
  "$BUILD/core/tools/camserve-engine-bench" --model "$BUILD/models/$MODEL.pt" --image "$image" "$@" \
    > "$OUT/$name.txt" 2> "$OUT/$name.err"
  cat "$OUT/$name.txt"
}
bench layer4 --layer layer4 --methods gradcam,ablationcam,reciprocam --batch-sizes 1,8 \
  --iterations "$ITERATIONS" --warmup 2
bench layer3 --layer layer3 --methods gradcam,ablationcam,reciprocam --batch-sizes 1 --iterations 3 --warmup 1
bench scorecam --layer layer4 --methods scorecam --batch-sizes 1 --iterations 1 --warmup 0 \
  --max-scorecam-forwards 2048
bench evaluate --layer layer4 --methods gradcam --batch-sizes 1,8 --iterations "$ITERATIONS" --warmup 2 \
  --evaluate true

pytorch_grad_cam() {  # output name, then bench_pytorch_grad_cam.py flags
  local name=$1
  shift
  "$VENV/bin/python" scripts/bench_pytorch_grad_cam.py --models "$BUILD/models" --model "$MODEL" --image "$image" \
    "$@" > "$OUT/$name.json" 2> "$OUT/$name.err"
  cat "$OUT/$name.json"
}
pytorch_grad_cam pgc_gradcam --method gradcam --iterations "$ITERATIONS" --warmup 2
pytorch_grad_cam pgc_ablationcam_layer4 --method ablationcam --layer layer4 --iterations 1 --warmup 0
pytorch_grad_cam pgc_ablationcam_layer3 --method ablationcam --layer layer3 --iterations 1 --warmup 0
