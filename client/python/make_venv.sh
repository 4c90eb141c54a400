#!/usr/bin/env bash
# Makes VENV a fresh Python venv with the camserve package (this folder)
# installed, offline: the venv sees Debian's site-packages, which hold the
# package's dependencies (python3-grpcio, python3-protobuf, python3-numpy,
# python3-pil) and the build's (python3-setuptools, python3-wheel), so pip
# builds without build isolation and without an index. The build generates
# the gRPC stubs with the system protoc (setup.py). Used by the tests
# (tests/client/python), scripts/soak.sh and scripts/bench_memory.sh.
#
#   client/python/make_venv.sh VENV        (from any directory)
#
# PYTHON: the interpreter the venv is made from; default /usr/bin/python3,
# Debian's (a pyenv python3 on PATH lacks the Debian packages).
set -euo pipefail

if [[ $# -ne 1 || "$1" == -* ]]; then
  echo "usage: $0 VENV" >&2
  exit 2
fi
venv=$1
package_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
python=${PYTHON:-/usr/bin/python3}

"$python" -m venv --clear --system-site-packages "$venv"
"$venv/bin/pip" install --quiet --disable-pip-version-check --no-build-isolation --no-index "$package_dir"
echo "make_venv: $venv has camserve $("$venv/bin/python" -c 'from importlib.metadata import version; print(version("camserve"))')"
