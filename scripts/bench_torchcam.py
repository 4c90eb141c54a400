#!/usr/bin/env python3
"""The strongest peer camserve is measured against: torch-cam's GradCAM
(hooks on the eager model; the gradient is taken by autograd from the scores
down to the layer), in-process, the way a Python service would embed it.

Per iteration, timed: the eager forward of a batch of the preprocessed
benchmark JPEG (the same image repeated; decoding is left out, so torch-cam
is not charged for it), then GradCAM for every image's top-1 class. The model
is the torchvision architecture with the weights of camserve's TorchScript
export, so both explain the same network. torch threads = cores unless
--threads says otherwise (the rule camserve follows).

torch-cam's backward computes every parameter's gradient that requires one.
By default (--freeze-before-layer) the parameters before layer4 are frozen,
so the backward stops at layer4's own weights: the peer's best setup (about
2.5x faster than torch-cam as documented, with every parameter trainable;
--no-freeze-before-layer measures that).

Run it in the test venv (torchcam 0.3.2 over Debian's torch; made by
scripts/setup_test_venv.sh):
  build/test-venv/bin/python scripts/bench_torchcam.py \\
      --models build/models --model resnet50 --image bench.jpg --batch-sizes 1,8
Prints one JSON object per batch size: median and mean ms per image.
"""
import argparse
import json
import os
import statistics
import time

import torch
from torchcam.methods import GradCAM

from bench_pytorch_grad_cam import load_model, preprocess


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", required=True)
    parser.add_argument("--model", default="resnet50")
    parser.add_argument("--image", required=True)
    parser.add_argument("--batch-sizes", default="1,8")
    parser.add_argument("--iterations", type=int, default=10)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--threads", type=int, default=os.cpu_count())
    parser.add_argument("--freeze-before-layer", action=argparse.BooleanOptionalAction, default=True)
    args = parser.parse_args()

    torch.set_num_threads(args.threads)
    model = load_model(args.models, args.model)
    if args.freeze_before_layer:
        for name, parameter in model.named_parameters():
            parameter.requires_grad_(name.startswith(("layer4.", "fc.")))
    image = preprocess(open(args.image, "rb").read())
    extractor = GradCAM(model, target_layer="layer4")
    for batch_size in [int(b) for b in args.batch_sizes.split(",")]:
        batch = image.repeat(batch_size, 1, 1, 1)
        per_image_ms = []
        for i in range(args.warmup + args.iterations):
            start = time.perf_counter()
            scores = model(batch)
            maps = extractor(scores.argmax(1).tolist(), scores)
            elapsed_ms = (time.perf_counter() - start) * 1e3
            assert maps[0].shape[0] == batch_size
            if i >= args.warmup:
                per_image_ms.append(elapsed_ms / batch_size)
        print(json.dumps({
            "tool": "torchcam", "model": args.model, "batch": batch_size, "threads": torch.get_num_threads(),
            "frozen_before_layer": args.freeze_before_layer,
            "torch": torch.__version__, "iterations": args.iterations,
            "p50_ms_per_image": round(statistics.median(per_image_ms), 2),
            "mean_ms_per_image": round(statistics.mean(per_image_ms), 2),
        }), flush=True)
    extractor.remove_hooks()


if __name__ == "__main__":
    main()
