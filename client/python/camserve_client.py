#!/usr/bin/python3
"""Explains one image with a running camserve server: the Python example.

Prints the explained class, the top-k classes and the server's timings in the
same layout as camserve-client, and writes into --out
  STEM.npy          the float32 heatmap, shape (height, width)   [numpy]
  STEM.heatmap.png  the heatmap in a jet colormap                [numpy, Pillow]
where STEM is the image's file name without its extension. Without numpy or
Pillow the files they need are skipped with a note.

Generate the stubs once with the system protoc, then run with Debian's python
(python3-grpcio, python3-protobuf; optional python3-numpy, python3-pil):

  client/python/generate_stubs.sh /tmp/camserve-stubs
  /usr/bin/python3 client/python/camserve_client.py --stubs /tmp/camserve-stubs \
      --addr 127.0.0.1:50051 --image build/models/digits_sample.png --out /tmp

TLS and tokens work as in camserve-client: --tls-ca-file (PEM roots; TLS is
on with any --tls* flag, with the system's roots without --tls-ca-file),
--tls-cert-file/--tls-key-file (mutual TLS), --tls-server-name, and the bearer
token from the first token of --token-file, else from the environment
variable CAMSERVE_TOKEN.

Exit status: 0 on success, 1 when the RPC fails (the server's status code and
message are printed), 2 for a bad command line, unreadable TLS or token files,
or missing stubs.
"""

import argparse
import os
import sys

PROGRAM = "camserve_client.py"
RESOLUTIONS = ("original", "input", "feature")
# The largest response accepted; a FLOAT32 heatmap of a 12-megapixel photo at
# ORIGINAL resolution is 48 MiB. The same limit as camserve-client.
MAX_RECEIVE_MESSAGE_BYTES = 256 << 20
TOKEN_ENVIRONMENT_VARIABLE = "CAMSERVE_TOKEN"


def parse_args(argv):
    parser = argparse.ArgumentParser(prog=PROGRAM, description=__doc__.split("\n\n")[0])
    parser.add_argument("--addr", default="127.0.0.1:50051", help="server HOST:PORT (default %(default)s)")
    parser.add_argument("--image", required=True, help="JPEG or PNG image to explain")
    parser.add_argument("--model", default="", help="model name (default: the server's default model)")
    parser.add_argument("--method", default="", help="gradcam (default), gradcam++, xgradcam, hirescam, "
                        "layercam, eigencam, ablationcam, scorecam, reciprocam")
    parser.add_argument("--evaluate", action="store_true",
                        help="also ask for the quality scores (docs/quality.md)")
    parser.add_argument("--layer", default="", help="target layer path (default: the model's default layer)")
    parser.add_argument("--class", dest="target_class", type=int, default=None, metavar="N",
                        help="class to explain (default: the top-1 prediction)")
    parser.add_argument("--top-k", type=int, default=0, metavar="N", help="top classes to return (default: the server's, 5)")
    parser.add_argument("--resolution", choices=RESOLUTIONS, default="original",
                        help="heatmap size (default %(default)s: the image's own size)")
    parser.add_argument("--deadline-ms", type=int, default=60000, metavar="MS", help="RPC deadline (default %(default)s)")
    parser.add_argument("--out", default=".", help="folder for STEM.npy and STEM.heatmap.png (default .)")
    parser.add_argument("--stubs", default=None,
                        help="folder generate_stubs.sh wrote (default: find them on PYTHONPATH)")
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
                        "(default: the environment variable %s)" % TOKEN_ENVIRONMENT_VARIABLE)
    args = parser.parse_args(argv)
    if bool(args.tls_cert_file) != bool(args.tls_key_file):
        parser.error("--tls-cert-file and --tls-key-file go together")
    if args.top_k < 0:
        parser.error("--top-k: must be >= 0; was %d" % args.top_k)
    if args.deadline_ms < 1:
        parser.error("--deadline-ms: must be >= 1; was %d" % args.deadline_ms)
    return args


def import_stubs(stubs_dir):
    """Returns the (explainer_pb2, explainer_pb2_grpc) modules, or exits 2."""
    if stubs_dir:
        sys.path.insert(0, stubs_dir)
    try:
        from camserve.v1 import explainer_pb2, explainer_pb2_grpc
    except ImportError as error:
        print("%s: cannot import the camserve stubs (%s); run client/python/generate_stubs.sh DIR and pass "
              "--stubs DIR or put DIR on PYTHONPATH" % (PROGRAM, error), file=sys.stderr)
        sys.exit(2)
    return explainer_pb2, explainer_pb2_grpc


def read_file(flag, path):
    """The bytes of the file a flag names, or exits 2."""
    try:
        with open(path, "rb") as f:
            return f.read()
    except OSError as error:
        print("%s: %s: cannot read %s: %s" % (PROGRAM, flag, path, error.strerror), file=sys.stderr)
        sys.exit(2)


def first_token(text):
    """The first token of a token file: the first word of the first line that is neither blank nor a comment."""
    for line in text.splitlines():
        fields = line.split()
        if fields and not fields[0].startswith("#"):
            return fields[0]
    return ""


def bearer_token(args):
    if args.token_file:
        token = first_token(read_file("--token-file", args.token_file).decode("utf-8", "replace"))
        if not token:
            print("%s: --token-file: %s holds no token" % (PROGRAM, args.token_file), file=sys.stderr)
            sys.exit(2)
        return token
    return os.environ.get(TOKEN_ENVIRONMENT_VARIABLE, "")


def open_channel(grpc, args):
    """A plaintext or TLS channel to --addr that sends the bearer token, if any, with every call."""
    options = [("grpc.max_receive_message_length", MAX_RECEIVE_MESSAGE_BYTES)]
    tls = args.tls or args.tls_ca_file or args.tls_cert_file or args.tls_server_name
    if args.tls_server_name:
        options.append(("grpc.ssl_target_name_override", args.tls_server_name))
    if tls:
        credentials = grpc.ssl_channel_credentials(
            root_certificates=read_file("--tls-ca-file", args.tls_ca_file) if args.tls_ca_file else None,
            private_key=read_file("--tls-key-file", args.tls_key_file) if args.tls_key_file else None,
            certificate_chain=read_file("--tls-cert-file", args.tls_cert_file) if args.tls_cert_file else None)
        return grpc.secure_channel(args.addr, credentials, options=options)
    return grpc.insecure_channel(args.addr, options=options)


def build_request(pb2, args, image_bytes):
    request = pb2.ExplainRequest(
        request_id=args.image, image=image_bytes, model=args.model, method=args.method,
        target_layer=args.layer, top_k=args.top_k,
        resolution=pb2.HeatmapResolution.Value("HEATMAP_RESOLUTION_" + args.resolution.upper()),
        encoding=pb2.HEATMAP_ENCODING_FLOAT32, evaluate=args.evaluate)
    if args.target_class is not None:
        request.target_class = args.target_class
    return request


def format_class(class_index, label, probability):
    return 'class %d "%s" p=%.4f' % (class_index, label, probability)


def format_report(image, response):
    t = response.timings
    lines = [
        "%s: explained %s" % (image, format_class(response.target_class, response.target_label,
                                                   response.target_probability)),
        "  model %s (version %s), cache_hit %s, batch_size %d" % (
            response.model, response.model_version, str(response.cache_hit).lower(), response.batch_size),
        "  top-%d:" % len(response.top_k),
    ]
    lines += ["    %d. %s" % (rank, format_class(score.class_index, score.label, score.probability))
              for rank, score in enumerate(response.top_k, start=1)]
    if response.HasField("quality"):
        q = response.quality
        lines.append("  quality: p %.4f, p(image x map) %.4f (change %+.4f, average drop %.4f, increase %s), "
                     "deletion AUC %.4f, insertion AUC %.4f (%d steps)" % (
                         q.target_probability, q.masked_probability, q.confidence_change, q.average_drop,
                         "yes" if q.confidence_increase else "no", q.deletion_auc, q.insertion_auc, q.steps))
    lines.append("  server timings (ms): decode %.2f  queue %.2f  preprocess %.2f  forward %.2f  backward %.2f  "
                 "cam %.2f  perturb %.2f  evaluate %.2f  encode %.2f  cache_get %.2f  cache_put %.2f  total %.2f" % tuple(
                     us / 1e3 for us in (t.decode_us, t.queue_us, t.preprocess_us, t.forward_us, t.backward_us,
                                         t.cam_us, t.perturb_us, t.evaluate_us, t.encode_us, t.cache_get_us,
                                         t.cache_put_us, t.total_us)))
    return "\n".join(lines)


def jet_rgb(numpy, heatmap):
    """The classic piecewise-linear jet colormap (close to OpenCV's table)."""
    v = numpy.clip(numpy.nan_to_num(heatmap), 0.0, 1.0)[..., None]
    rgb = numpy.clip(1.5 - numpy.abs(4.0 * v - numpy.array([3.0, 2.0, 1.0])), 0.0, 1.0)
    return numpy.rint(255.0 * rgb).astype(numpy.uint8)


def save_heatmap(heatmap_message, out_stem):
    """Writes OUT_STEM.npy and OUT_STEM.heatmap.png as far as numpy and Pillow allow."""
    try:
        import numpy
    except ImportError:
        print("  numpy is not installed: no .npy or .png written")
        return
    heatmap = numpy.frombuffer(heatmap_message.data, dtype="<f4").reshape(
        heatmap_message.height, heatmap_message.width)
    numpy.save(out_stem + ".npy", heatmap)
    written = [out_stem + ".npy"]
    try:
        from PIL import Image
        Image.fromarray(jet_rgb(numpy, heatmap), "RGB").save(out_stem + ".heatmap.png")
        written.append(out_stem + ".heatmap.png")
    except ImportError:
        print("  Pillow is not installed: no .png written")
    print("  wrote %s (heatmap %dx%d)" % (", ".join(written), heatmap_message.width, heatmap_message.height))


def main(argv):
    args = parse_args(argv)
    pb2, pb2_grpc = import_stubs(args.stubs)
    import grpc

    try:
        with open(args.image, "rb") as f:
            image_bytes = f.read()
    except OSError as error:
        print("%s: cannot read %s: %s" % (PROGRAM, args.image, error.strerror), file=sys.stderr)
        return 2
    token = bearer_token(args)
    metadata = [("authorization", "Bearer " + token)] if token else None
    with open_channel(grpc, args) as channel:
        stub = pb2_grpc.ExplainerStub(channel)
        try:
            response = stub.Explain(build_request(pb2, args, image_bytes), timeout=args.deadline_ms / 1e3,
                                    metadata=metadata)
        except grpc.RpcError as error:
            hint = " (is a camserve server listening at %s? see --addr)" % args.addr \
                if error.code() == grpc.StatusCode.UNAVAILABLE else ""
            print("%s: %s: %s%s" % (PROGRAM, error.code().name, error.details(), hint), file=sys.stderr)
            return 1
    print(format_report(args.image, response))
    os.makedirs(args.out, exist_ok=True)
    save_heatmap(response.heatmap, os.path.join(args.out, os.path.splitext(os.path.basename(args.image))[0]))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
