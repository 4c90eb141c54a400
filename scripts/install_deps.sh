#!/usr/bin/env bash
# Installs every Debian package camserve needs to build, test and run.
# Idempotent: packages already present are skipped, so a second run costs
# only a dpkg query. Used by README.md, .ci/run and the Dockerfile alike.
#
#   scripts/install_deps.sh            build + test + model-export deps
#   scripts/install_deps.sh --runtime  only the shared libraries the server needs
set -euo pipefail

BUILD_PACKAGES=(
  build-essential cmake ninja-build pkg-config ccache git
  # scripts/check_source.sh (formatting), scripts/build_clang_checks.sh
  # (-Wthread-safety) and scripts/test_sanitizers.sh (clang's sanitizer
  # runtimes).
  clang clang-format libclang-rt-14-dev
  libtorch-dev
  libgrpc++-dev protobuf-compiler-grpc libprotobuf-dev protobuf-compiler libabsl-dev
  librocksdb-dev libspdlog-dev libfmt-dev nlohmann-json3-dev prometheus-cpp-dev catch2
  libyaml-cpp-dev libturbojpeg0-dev libpng-dev libssl-dev libxxhash-dev
  libcli11-dev
  # The HTTP/JSON API (server/http_gateway.h): cpp-httplib, built with OpenSSL.
  libcpp-httplib-dev
  # docs/http.md's curl examples are run by a test; the explorer page is
  # tested in headless Chromium driven by Selenium.
  curl chromium chromium-driver python3-selenium
  # Test models are exported, and the reference is computed, with Debian's torch.
  python3 python3-venv python3-pip python3-torch python3-torchvision
  python3-sklearn python3-opencv python3-numpy python3-yaml python3-pil
  python3-grpcio python3-protobuf
  # pytorch-grad-cam (test venv, installed --no-deps) imports these when loaded;
  # matplotlib also draws camserve-bench's chart (client/bench/plot_latency.py).
  python3-matplotlib python3-scipy python3-tqdm
  # promtool and a real Prometheus server for the metrics tests.
  prometheus
  # An optimised BLAS: LibTorch's matrix products outside oneDNN (the backward over
  # a classifier head, fully connected layers) go through libblas.so.3, which
  # is the slow reference BLAS unless this replaces it (docs/server.md, "BLAS").
  libopenblas0-serial
)
RUNTIME_PACKAGES=(
  libtorch1.13 libgrpc++1.51 librocksdb7.8 libspdlog1.10 libprometheus-cpp-pull1.0
  libyaml-cpp0.7 libturbojpeg0 libpng16-16 libssl3 libxxhash0 ca-certificates
  libopenblas0-serial libcpp-httplib0.11
)

packages=("${BUILD_PACKAGES[@]}")
[[ "${1:-}" == "--runtime" ]] && packages=("${RUNTIME_PACKAGES[@]}")

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]} == 0)); then
  echo "install_deps: all ${#packages[@]} packages present"
  exit 0
fi
echo "install_deps: installing ${#missing[@]} packages: ${missing[*]}"
SUDO=""
[[ $(id -u) -ne 0 ]] && SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
