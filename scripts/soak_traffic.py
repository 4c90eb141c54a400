#!/usr/bin/env python3
"""Mixed traffic against a running camserve for scripts/soak.sh.

Each of --clients threads loops over a weighted mix of calls until
--duration-s has passed:
  hit     Explain of one of a few fixed images (answered from the cache)
  miss    Explain of a fresh random image (computed, stored; the cache's
          LRU limit evicts old entries)
  stream  ExplainStream of 2-6 requests, every answer read
  bad     a malformed request (garbage image bytes, unknown model, unknown
          layer, unknown method): must be refused with its exact code
  cancel  an Explain whose deadline passes while it is queued or computed,
          or a stream the client cancels after its first answer
  info    GetModelInfo / GetCacheStats

Every outcome is counted by kind and gRPC code. An outcome that is not one
the kind allows (say, INTERNAL, or UNAVAILABLE because the server went away)
counts as unexpected; the script exits 1 when any was seen.

Needs the gRPC stubs of the camserve Python package (camserve.v1): run it
with the Python of a venv made by client/python/make_venv.sh VENV.
"""
import argparse
import collections
import io
import json
import random
import sys
import threading
import time

import grpc
import numpy as np
from PIL import Image

from camserve.v1 import explainer_pb2, explainer_pb2_grpc

OK = grpc.StatusCode.OK
# What each kind of call may legitimately end with. UNAVAILABLE and
# RESOURCE_EXHAUSTED are load shedding (queue or memory budget full), which a
# soak at full load meets now and then; DEADLINE_EXCEEDED is what a cancel
# expects.
ALLOWED = {
    "hit": {OK, grpc.StatusCode.UNAVAILABLE},
    "miss": {OK, grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.RESOURCE_EXHAUSTED},
    "stream": {OK, grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.RESOURCE_EXHAUSTED},
    "bad": {grpc.StatusCode.INVALID_ARGUMENT, grpc.StatusCode.NOT_FOUND},
    "cancel": {OK, grpc.StatusCode.DEADLINE_EXCEEDED, grpc.StatusCode.CANCELLED, grpc.StatusCode.UNAVAILABLE},
    "info": {OK},
}
WEIGHTS = {"hit": 30, "miss": 25, "stream": 10, "bad": 15, "cancel": 15, "info": 5}


def encode(array, fmt):
    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, format=fmt, quality=90)
    return buffer.getvalue()


def random_image(rng):
    side = int(rng.integers(48, 480))
    array = rng.integers(0, 256, (side, side + int(rng.integers(0, 64)), 3), dtype=np.uint8)
    return encode(array, "JPEG" if rng.random() < 0.7 else "PNG")


class Soak:
    def __init__(self, args):
        self.args = args
        self.channel = grpc.insecure_channel(args.addr, options=[("grpc.max_receive_message_length", 1 << 28)])
        self.stub = explainer_pb2_grpc.ExplainerStub(self.channel)
        rng = np.random.default_rng(0)
        self.fixed_images = [random_image(rng) for _ in range(6)]
        self.lock = threading.Lock()
        self.counts = collections.Counter()
        self.unexpected = []
        self.stop_at = time.monotonic() + args.duration_s

    def record(self, kind, code, detail=""):
        with self.lock:
            self.counts[f"{kind} {code.name}"] += 1
            if code not in ALLOWED[kind]:
                self.unexpected.append(f"{kind}: {code.name} {detail}"[:300])

    def call(self, kind, function):
        try:
            function()
            self.record(kind, OK)
        except grpc.RpcError as error:
            self.record(kind, error.code(), error.details() or "")

    def request(self, rng, image, **fields):
        method = ["gradcam", "gradcam++", "layercam", "hirescam", "xgradcam", "eigencam"][int(rng.integers(0, 6))]
        encoding = int(rng.integers(0, 4))
        return explainer_pb2.ExplainRequest(request_id=f"soak{rng.integers(1 << 30)}", image=image, method=method,
                                            encoding=encoding, top_k=3, **fields)

    def one(self, rng):
        kind = rng.choice(list(WEIGHTS), p=np.array(list(WEIGHTS.values())) / sum(WEIGHTS.values()))
        timeout = self.args.deadline_s
        if kind == "hit":
            image = self.fixed_images[int(rng.integers(0, len(self.fixed_images)))]
            request = explainer_pb2.ExplainRequest(request_id="soak-hit", image=image)
            self.call(kind, lambda: self.stub.Explain(request, timeout=timeout))
        elif kind == "miss":
            request = self.request(rng, random_image(rng))
            self.call(kind, lambda: self.stub.Explain(request, timeout=timeout))
        elif kind == "stream":
            requests = [self.request(rng, random_image(rng)) for _ in range(int(rng.integers(2, 7)))]

            def read_all():
                answers = list(self.stub.ExplainStream(iter(requests), timeout=timeout))
                errors = [a.error for a in answers if a.error.code != 0]
                if len(answers) != len(requests):
                    raise RuntimeError(f"stream answered {len(answers)} of {len(requests)}")
                for error in errors:  # per-request refusals are shedding, not failures
                    if error.code not in (grpc.StatusCode.UNAVAILABLE.value[0],
                                          grpc.StatusCode.RESOURCE_EXHAUSTED.value[0]):
                        raise RuntimeError(f"stream answer error {error.code}: {error.message}")

            try:
                self.call(kind, read_all)
            except RuntimeError as error:
                self.record(kind, grpc.StatusCode.UNKNOWN, str(error))
        elif kind == "bad":
            variant = int(rng.integers(0, 4))
            image = self.fixed_images[0]
            if variant == 0:
                request = explainer_pb2.ExplainRequest(image=bytes(rng.integers(0, 256, 300, dtype=np.uint8)))
            elif variant == 1:
                request = explainer_pb2.ExplainRequest(image=image, model="no-such-model")
            elif variant == 2:
                request = explainer_pb2.ExplainRequest(image=image, target_layer="no.such.layer")
            else:
                request = explainer_pb2.ExplainRequest(image=image, method="no-such-method")
            self.call(kind, lambda: self.stub.Explain(request, timeout=timeout))
        elif kind == "cancel":
            if rng.random() < 0.5:
                request = self.request(rng, random_image(rng), bypass_cache=True)
                short = float(rng.uniform(0.001, 0.05))
                self.call(kind, lambda: self.stub.Explain(request, timeout=short))
            else:
                requests = [self.request(rng, random_image(rng), bypass_cache=True) for _ in range(6)]
                call = self.stub.ExplainStream(iter(requests), timeout=timeout)

                def first_then_cancel():
                    next(call)
                    call.cancel()

                self.call(kind, first_then_cancel)
        else:
            if rng.random() < 0.5:
                self.call(kind, lambda: self.stub.GetModelInfo(explainer_pb2.GetModelInfoRequest(), timeout=timeout))
            else:
                self.call(kind, lambda: self.stub.GetCacheStats(explainer_pb2.GetCacheStatsRequest(), timeout=timeout))

    def client(self, index):
        rng = np.random.default_rng(1000 + index)
        while time.monotonic() < self.stop_at:
            self.one(rng)

    def run(self):
        threads = [threading.Thread(target=self.client, args=(i, )) for i in range(self.args.clients)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        self.channel.close()


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--addr", required=True)
    parser.add_argument("--duration-s", type=float, required=True)
    parser.add_argument("--clients", type=int, default=6)
    parser.add_argument("--deadline-s", type=float, default=30.0)
    parser.add_argument("--json", required=True, help="where to write the outcome counts")
    args = parser.parse_args()
    soak = Soak(args)
    soak.run()
    report = {"counts": dict(sorted(soak.counts.items())), "unexpected": soak.unexpected[:50],
              "unexpected_total": len(soak.unexpected)}
    with open(args.json, "w") as out:
        json.dump(report, out, indent=1)
    print(json.dumps(report, indent=1))
    return 1 if soak.unexpected else 0


if __name__ == "__main__":
    sys.exit(main())
