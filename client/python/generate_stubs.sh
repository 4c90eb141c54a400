#!/usr/bin/env bash
# Generates the Python gRPC stubs of camserve's API into OUT_DIR:
#   OUT_DIR/camserve/v1/explainer_pb2.py       (messages)
#   OUT_DIR/camserve/v1/explainer_pb2_grpc.py  (ExplainerStub)
# Import them with OUT_DIR on sys.path (camserve_client.py --stubs OUT_DIR, or
# PYTHONPATH=OUT_DIR).
#
# Uses the system protoc and grpc_python_plugin (Debian: protobuf-compiler,
# protobuf-compiler-grpc), which match Debian's python3-protobuf and
# python3-grpcio. Not grpc_tools: Debian's python3-grpc-tools bundles protoc
# 3.5, which rejects the API's proto3 `optional` fields.
#
# usage: client/python/generate_stubs.sh OUT_DIR   (from any directory)
set -euo pipefail

if [[ $# -ne 1 || "$1" == -* ]]; then
  echo "usage: $0 OUT_DIR" >&2
  exit 2
fi
out_dir=$1
proto_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")/../../proto" && pwd)"
plugin=$(command -v grpc_python_plugin) || {
  echo "$0: grpc_python_plugin not found; install protobuf-compiler-grpc" >&2
  exit 1
}
command -v protoc >/dev/null || {
  echo "$0: protoc not found; install protobuf-compiler" >&2
  exit 1
}

mkdir -p "$out_dir"
protoc -I "$proto_dir" --python_out "$out_dir" --grpc_out "$out_dir" \
  --plugin=protoc-gen-grpc="$plugin" "$proto_dir/camserve/v1/explainer.proto"
