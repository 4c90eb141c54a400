#!/usr/bin/env bash
# Per architecture of the parity suite (tests/reference/make_architecture_reference.py:
# torchvision models with seeded weights, 10 classes, input 128-224 px), the
# engine's forward and Grad-CAM explanation in ms per image at batch 1 and 8,
# in three configurations: fp32 with validated optimized copies (the
# default), fp32 on the plain module, and bf16 with channels_last (timed even
# where the default precision_tolerance would refuse it: the table says so).
# With each: the map difference from the plain fp32 module that the engine
# measured on its probe batch at load. Into build/bench/architectures/.
# Run it on an idle machine after scripts/test.sh (or the fixture test
# make_architecture_reference) has exported the models.
#
#   scripts/bench_architectures.sh            # ITERATIONS=5 WARMUP=2
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${CAMSERVE_BUILD_DIR:-build}
MODELS=${MODELS:-$BUILD/test_data/architecture_reference/models}
OUT=$BUILD/bench/architectures
ITERATIONS=${ITERATIONS:-5}
WARMUP=${WARMUP:-2}
rm -rf "$OUT"
mkdir -p "$OUT"
[[ -d "$MODELS" ]] || { echo "no models in $MODELS: run ctest -R make_architecture_reference first" >&2; exit 1; }

declare -A CONFIG_FLAGS=(
  [fp32]="--optimize true"
  [fp32_plain]="--optimize false"
  [bf16]="--precision bf16 --precision-tolerance 1"
)
for model in "$MODELS"/*.pt; do
  name=$(basename "$model" .pt)
  for config in fp32 fp32_plain bf16; do
    # shellcheck disable=SC2086
    "$BUILD/core/tools/camserve-engine-bench" --model "$model" --batch-sizes 1,8 --methods gradcam \
      --iterations "$ITERATIONS" --warmup "$WARMUP" ${CONFIG_FLAGS[$config]} > "$OUT/${name}_$config.txt" 2> "$OUT/${name}_$config.err"
  done
  echo "$name done"
done

/usr/bin/python3 - "$OUT" <<'PY'
import glob, os, re, sys
out = sys.argv[1]
def parse(path):
    rows, layer = {}, None
    for line in open(path):
        fields = line.split()
        if len(fields) >= 4 and fields[0].isdigit() and fields[1] == "gradcam":
            rows[int(fields[0])] = (float(fields[2]), float(fields[3]))
        if line.startswith("layer "):
            layer = line.strip()
    return rows, layer
def difference(layer):
    m = re.search(r"map_difference (\S+),", layer or "")
    return float(m.group(1)) if m else None
names = sorted({os.path.basename(p).rsplit("_", 1)[0].replace("_fp32", "") for p in glob.glob(os.path.join(out, "*_fp32.txt"))})
print("| architecture | fp32 optimized: fwd / explain b1 | b8 | runner, probe map diff | fp32 plain: fwd / explain b1 | b8 "
      "| bf16 + channels_last: fwd / explain b1 | b8 | bf16 probe top-1 map diff |")
print("|---|---|---|---|---|---|---|---|---|")
for name in names:
    opt, opt_layer = parse(os.path.join(out, f"{name}_fp32.txt"))
    plain, _ = parse(os.path.join(out, f"{name}_fp32_plain.txt"))
    bf16, bf16_layer = parse(os.path.join(out, f"{name}_bf16.txt"))
    cell = lambda rows, b: f"{rows[b][0]:.2f} / {rows[b][1]:.2f}" if b in rows else "-"
    runner = "copy" if "own copy" in (opt_layer or "") else "plain (copy refused)"
    d = difference(opt_layer)
    opt_note = f"{runner}, {d:.2g}" if d is not None and d >= 0 else runner
    bd = difference(bf16_layer)
    bf16_note = f"{bd:.2g}" + (" (refused by default)" if bd is not None and bd > 2e-2 else "")
    print(f"| {name} | {cell(opt, 1)} | {cell(opt, 8)} | {opt_note} | {cell(plain, 1)} | {cell(plain, 8)} | "
          f"{cell(bf16, 1)} | {cell(bf16, 8)} | {bf16_note} |")
PY
