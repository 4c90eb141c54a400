"""camserve-explain: explains one image with a running camserve server.

Prints the explained class, the top-k classes, the quality scores (with
--evaluate) and the server's timings in camserve-client's layout, and writes
into --out
  STEM.npy          the float32 heatmap, shape (height, width)
  STEM.heatmap.png  the heatmap in a jet colormap
  STEM.overlay.png  the heatmap blended over the image, at the image's size
where STEM is the image's file name without its extension.

  camserve-explain --addr 127.0.0.1:50051 --image build/models/digits_sample.png --out /tmp

TLS and tokens work as in camserve-client: --tls-ca-file (PEM roots; TLS is
on with any --tls* flag, with the system's roots without --tls-ca-file),
--tls-cert-file/--tls-key-file (mutual TLS), --tls-server-name, and the bearer
token from the first token of --token-file, else from the environment
variable CAMSERVE_TOKEN.

Exit status: 0 on success, 1 when the call fails (the server's status code and
message are printed), 2 for a bad command line or an unreadable image, TLS or
token file.
"""
from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

import grpc
import numpy
from PIL import Image

from camserve.client import Client
from camserve.errors import CamserveError
from camserve.explanation import Explanation
from camserve.overlay import jet_colormap, overlay

PROGRAM = "camserve-explain"
RESOLUTIONS = ("original", "input", "feature")
TOKEN_ENVIRONMENT_VARIABLE = "CAMSERVE_TOKEN"


class UsageError(Exception):
    """A bad command line or an unreadable file: exit status 2."""


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog=PROGRAM, description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--addr", default="127.0.0.1:50051", help="server HOST:PORT (default %(default)s)")
    parser.add_argument("--image", required=True, help="JPEG or PNG image to explain")
    parser.add_argument("--model", default=None, help="model name (default: the server's default model)")
    parser.add_argument("--method", default=None, help="gradcam (default), gradcam++, xgradcam, hirescam, "
                        "layercam, eigencam, ablationcam, scorecam, reciprocam")
    parser.add_argument("--evaluate", action="store_true", help="also ask for the quality scores (docs/quality.md)")
    parser.add_argument("--layer", default=None, help="target layer path (default: the model's default layer)")
    parser.add_argument("--class", dest="target_class", type=int, default=None, metavar="N",
                        help="class to explain (default: the top-1 prediction)")
    parser.add_argument("--top-k", type=int, default=0, metavar="N",
                        help="top classes to return (default: the server's, 5)")
    parser.add_argument("--resolution", choices=RESOLUTIONS, default="original",
                        help="heatmap size (default %(default)s: the image's own size)")
    parser.add_argument("--deadline-ms", type=int, default=60000, metavar="MS",
                        help="RPC deadline (default %(default)s)")
    parser.add_argument("--out", default=".", help="folder for the .npy and .png files (default .)")
    parser.add_argument("--tls", action="store_true", help="connect with TLS (implied by any --tls-* flag)")
    parser.add_argument("--tls-ca-file", default="", metavar="PEM",
                        help="root certificates the server's certificate must chain to (default: the system's)")
    parser.add_argument("--tls-cert-file", default="", metavar="PEM",
                        help="client certificate for mutual TLS (with --tls-key-file)")
    parser.add_argument("--tls-key-file", default="", metavar="PEM", help="private key of --tls-cert-file")
    parser.add_argument("--tls-server-name", default="", metavar="NAME",
                        help="name the server's certificate must hold (default: --addr's host)")
    parser.add_argument("--token-file", default="", metavar="FILE",
                        help="file whose first token is sent as 'authorization: Bearer <token>' "
                        f"(default: the environment variable {TOKEN_ENVIRONMENT_VARIABLE})")
    args = parser.parse_args(argv)
    if bool(args.tls_cert_file) != bool(args.tls_key_file):
        parser.error("--tls-cert-file and --tls-key-file go together")
    if args.top_k < 0:
        parser.error(f"--top-k: must be >= 0; was {args.top_k}")
    if args.deadline_ms < 1:
        parser.error(f"--deadline-ms: must be >= 1; was {args.deadline_ms}")
    return args


def read_file(flag: str, path: str) -> bytes:
    try:
        with open(path, "rb") as file:
            return file.read()
    except OSError as error:
        raise UsageError(f"{flag}: cannot read {path}: {error.strerror}") from None


def first_token(text: str) -> str:
    """The first token of a token file: the first word of the first line that is neither blank nor a comment."""
    for line in text.splitlines():
        fields = line.split()
        if fields and not fields[0].startswith("#"):
            return fields[0]
    return ""


def bearer_token(token_file: str) -> str | None:
    if token_file:
        token = first_token(read_file("--token-file", token_file).decode("utf-8", "replace"))
        if not token:
            raise UsageError(f"--token-file: {token_file} holds no token")
        return token
    return os.environ.get(TOKEN_ENVIRONMENT_VARIABLE) or None


def connect(args: argparse.Namespace) -> Client:
    def optional_file(flag: str, path: str) -> bytes | None:
        return read_file(flag, path) if path else None

    return Client(args.addr, tls=args.tls, ca=optional_file("--tls-ca-file", args.tls_ca_file),
                  cert=optional_file("--tls-cert-file", args.tls_cert_file),
                  key=optional_file("--tls-key-file", args.tls_key_file), server_name=args.tls_server_name or None,
                  token=bearer_token(args.token_file), timeout=args.deadline_ms / 1e3)


def format_class(class_index: int, label: str, probability: float) -> str:
    return f'class {class_index} "{label}" p={probability:.4f}'


def format_report(image: str, explanation: Explanation) -> str:
    lines = [
        f"{image}: explained "
        + format_class(explanation.target_class, explanation.target_label, explanation.target_probability),
        f"  model {explanation.model} (version {explanation.model_version}), "
        f"cache_hit {str(explanation.cache_hit).lower()}, batch_size {explanation.batch_size}",
        f"  top-{len(explanation.top_k)}:",
    ]
    lines += [f"    {rank}. " + format_class(*score) for rank, score in enumerate(explanation.top_k, start=1)]
    q = explanation.quality
    if q is not None:
        lines.append(f"  quality: p {q.target_probability:.4f}, p(image x map) {q.masked_probability:.4f} "
                     f"(change {q.confidence_change:+.4f}, average drop {q.average_drop:.4f}, "
                     f"increase {'yes' if q.confidence_increase else 'no'}), deletion AUC {q.deletion_auc:.4f}, "
                     f"insertion AUC {q.insertion_auc:.4f} ({q.steps} steps)")
    t = explanation.timings
    stages = [("decode", t.decode_us), ("queue", t.queue_us), ("preprocess", t.preprocess_us),
              ("forward", t.forward_us), ("backward", t.backward_us), ("cam", t.cam_us), ("perturb", t.perturb_us),
              ("evaluate", t.evaluate_us), ("encode", t.encode_us), ("cache_get", t.cache_get_us),
              ("cache_put", t.cache_put_us), ("total", t.total_us)]
    lines.append("  server timings (ms): " + "  ".join(f"{name} {us / 1e3:.2f}" for name, us in stages))
    return "\n".join(lines)


def write_files(image_bytes: bytes, explanation: Explanation, out_stem: str) -> list[str]:
    """Writes OUT_STEM.npy, .heatmap.png and .overlay.png; returns their paths."""
    paths = [out_stem + ".npy", out_stem + ".heatmap.png", out_stem + ".overlay.png"]
    numpy.save(paths[0], explanation.heatmap)
    Image.fromarray(jet_colormap(explanation.heatmap), "RGB").save(paths[1])
    overlay(image_bytes, explanation.heatmap).save(paths[2])
    return paths


def run(args: argparse.Namespace) -> int:
    image_bytes = read_file("--image", args.image)
    with connect(args) as client:
        try:
            explanation = client.explain(image_bytes, model=args.model, method=args.method, layer=args.layer,
                                         target_class=args.target_class, top_k=args.top_k,
                                         resolution=args.resolution, evaluate=args.evaluate)
        except CamserveError as error:
            hint = f" (is a camserve server listening at {args.addr}? see --addr)" \
                if error.code == grpc.StatusCode.UNAVAILABLE else ""
            print(f"{PROGRAM}: {error}{hint}", file=sys.stderr)
            return 1
    print(format_report(args.image, explanation))
    os.makedirs(args.out, exist_ok=True)
    stem = os.path.join(args.out, os.path.splitext(os.path.basename(args.image))[0])
    written = write_files(image_bytes, explanation, stem)
    height, width = explanation.heatmap.shape
    print(f"  wrote {', '.join(written)} (heatmap {width}x{height})")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        return run(args)
    except UsageError as error:
        print(f"{PROGRAM}: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
