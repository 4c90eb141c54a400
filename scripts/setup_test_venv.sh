#!/usr/bin/env bash
# Makes DIR a Python venv with pytorch-grad-cam, used to compute the reference
# heatmaps the C++ CAM parity tests compare against, and torchcam (torch-cam),
# the peer scripts/bench_precision.sh measures camserve against.
#
#   scripts/setup_test_venv.sh DIR
#
# The venv sees Debian's site-packages, so torch, torchvision and every library
# grad-cam imports come from Debian (scripts/install_deps.sh); only grad-cam and
# ttach come from PyPI, with --no-deps so that pip never pulls a second torch.
# Idempotent: a venv that already has the pinned grad-cam is left alone.
set -euo pipefail

GRAD_CAM_VERSION="1.5.7"
TTACH_VERSION="0.0.3"
# The last torch-cam release for torch 1.x (Debian's python3-torch is 1.13).
TORCHCAM_VERSION="0.3.2"

if (($# != 1)); then
  echo "usage: $0 DIR" >&2
  exit 2
fi
venv="$1"

has_pinned_grad_cam() {
  [[ -x "$venv/bin/python" ]] && "$venv/bin/python" - "$GRAD_CAM_VERSION" "$TORCHCAM_VERSION" 2>/dev/null <<'EOF'
import sys
from importlib.metadata import version
import pytorch_grad_cam
import torchcam
sys.exit(version("grad-cam") != sys.argv[1] or version("torchcam") != sys.argv[2])
EOF
}

if has_pinned_grad_cam; then
  echo "setup_test_venv: $venv already has grad-cam $GRAD_CAM_VERSION and torchcam $TORCHCAM_VERSION"
  exit 0
fi

echo "setup_test_venv: creating $venv with grad-cam $GRAD_CAM_VERSION and torchcam $TORCHCAM_VERSION"
# Debian's python owns python3-torch; the python3 on PATH may be another one.
/usr/bin/python3 -m venv --system-site-packages "$venv"
"$venv/bin/pip" install --quiet --disable-pip-version-check --no-deps \
  "grad-cam==$GRAD_CAM_VERSION" "ttach==$TTACH_VERSION" "torchcam==$TORCHCAM_VERSION"

if ! has_pinned_grad_cam; then
  echo "setup_test_venv: pytorch_grad_cam does not import in $venv:" >&2
  "$venv/bin/python" -c 'import pytorch_grad_cam' >&2 || true
  echo "setup_test_venv: its imports (matplotlib, scipy, sklearn, cv2, tqdm) come" \
       "from Debian packages; run scripts/install_deps.sh" >&2
  exit 1
fi
echo "setup_test_venv: $venv ready"
