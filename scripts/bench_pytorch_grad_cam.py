#!/usr/bin/env python3
"""The baseline camserve is measured against: pytorch-grad-cam explaining one
JPEG in Python, the way people do it today.

Per iteration, timed end to end: decode the JPEG with Pillow, preprocess
(resize, normalise), GradCAM on the eager torchvision model (forward, full
backward, CAM, resize to the input). The model is the torchvision
architecture with the weights of camserve's TorchScript export, so both
explain the same network. torch threads = cores unless --threads says
otherwise (the same rule camserve follows).

--method ablationcam or scorecam times pytorch-grad-cam's gradient-free
methods instead (at --layer, default layer4), which run the whole model once
per channel of the layer (32 channels per forward for AblationCAM, 16 for
ScoreCAM): a minute or more per image on a CPU, so use few iterations.

Run it in the test venv (pytorch-grad-cam 1.5.7 over Debian's torch):
  build/test-venv/bin/python scripts/bench_pytorch_grad_cam.py \
      --models build/models --model resnet50 --image bench.jpg
Prints one JSON object: mean/p50/min latency in ms.
"""
import argparse
import io
import json
import os
import statistics
import time

import numpy as np
import torch
import torchvision
from PIL import Image
from pytorch_grad_cam import AblationCAM, GradCAM, ScoreCAM

METHODS = {"gradcam": GradCAM, "ablationcam": AblationCAM, "scorecam": ScoreCAM}


def load_model(models_dir, name):
    scripted = torch.jit.load(os.path.join(models_dir, f"{name}.pt")).eval()
    eager = getattr(torchvision.models, name)(weights=None)
    eager.load_state_dict(scripted.state_dict())
    return eager.eval()


def preprocess(jpeg_bytes):
    image = Image.open(io.BytesIO(jpeg_bytes)).convert("RGB").resize((224, 224), Image.BILINEAR)
    pixels = np.asarray(image, dtype=np.float32) / 255.0
    pixels = (pixels - np.array([0.485, 0.456, 0.406], np.float32)) / np.array([0.229, 0.224, 0.225], np.float32)
    return torch.from_numpy(pixels.transpose(2, 0, 1).copy()).unsqueeze(0)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", required=True)
    parser.add_argument("--model", default="resnet50")
    parser.add_argument("--image", required=True)
    parser.add_argument("--iterations", type=int, default=20)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--threads", type=int, default=os.cpu_count())
    parser.add_argument("--method", choices=sorted(METHODS), default="gradcam")
    parser.add_argument("--layer", default="layer4", help="target layer (dotted module path)")
    args = parser.parse_args()

    torch.set_num_threads(args.threads)
    model = load_model(args.models, args.model)
    jpeg = open(args.image, "rb").read()
    cam = METHODS[args.method](model=model, target_layers=[model.get_submodule(args.layer)])
    latencies_ms = []
    for i in range(args.warmup + args.iterations):
        start = time.perf_counter()
        heatmap = cam(input_tensor=preprocess(jpeg), targets=None)
        elapsed_ms = (time.perf_counter() - start) * 1e3
        assert heatmap.shape == (1, 224, 224)
        if i >= args.warmup:
            latencies_ms.append(elapsed_ms)
    print(json.dumps({
        "tool": "pytorch-grad-cam", "method": args.method, "layer": args.layer, "model": args.model, "threads": torch.get_num_threads(),
        "torch": torch.__version__, "iterations": args.iterations,
        "mean_ms": round(statistics.mean(latencies_ms), 2), "p50_ms": round(statistics.median(latencies_ms), 2),
        "min_ms": round(min(latencies_ms), 2),
    }))


if __name__ == "__main__":
    main()
