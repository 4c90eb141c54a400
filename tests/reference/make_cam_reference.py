#!/usr/bin/env python3
"""Computes reference CAM heatmaps with pytorch-grad-cam for the C++ parity tests.

    TEST_VENV/bin/python tests/reference/make_cam_reference.py --models DIR --out OUT

TEST_VENV is made by scripts/setup_test_venv.sh; DIR holds resnet18.pt and
resnet50.pt from scripts/export_models.py.

For every model, target layer, method and batch size (1 and 5) OUT receives
two float32 maps that the C++ engine must reproduce:
  *.input.f32    [B,224,224]  ReLU, min-max normalised per image at feature
                              resolution, then cv2.resize'd to the input size
  *.feature.f32  [B,h,w]      the same before resizing
All .f32 files are raw little-endian float32 in C order. OUT/manifest.yaml
lists the cases (files, shapes, requested and resolved target classes) and the
top-5 classes of each model's inputs; it is written last, so its presence
means the set is complete.

The maps come from pytorch-grad-cam's per-layer CAMs, not from the object's
final output: with one layer, aggregate_multi_layers only re-normalises after
resizing, which the engine does not do. EigenCAM uses pytorch-grad-cam's
sign-corrected projection (Seg-Eigen-CAM, Eq. 13) because the plain SVD
projection has an arbitrary sign that no other implementation could match.

Deterministic, and skipped when OUT/manifest.yaml is newer than this script
and the models.
"""

import argparse
import os
import sys
import time
from pathlib import Path
from typing import Dict, List, Sequence, Tuple

import cv2
import numpy as np
import torch
import torchvision
import yaml
from pytorch_grad_cam import (EigenCAM, GradCAM, GradCAMPlusPlus, HiResCAM, LayerCAM,
                              XGradCAM)
from pytorch_grad_cam.base_cam import BaseCAM
from pytorch_grad_cam.utils.image import scale_cam_image
from pytorch_grad_cam.utils.model_targets import ClassifierOutputTarget
from pytorch_grad_cam.utils.svd_on_activations import get_2d_projection_with_sign_correction

# Our method names (the RPC's) -> pytorch-grad-cam classes.
METHODS: Dict[str, type] = {
    "gradcam": GradCAM,
    "gradcam++": GradCAMPlusPlus,
    "xgradcam": XGradCAM,
    "hirescam": HiResCAM,
    "layercam": LayerCAM,
    "eigencam": EigenCAM,
}
# A stage output and a single conv inside it, at two resolutions (7x7, 14x14).
TARGET_LAYERS = {
    "resnet18": ["layer4", "layer4.1.conv2"],
    "resnet50": ["layer4", "layer3"],
}
# In the manifest -1 means "the top-1 class", as in the RPC.
TOP1 = -1
# Classes near both ends of the range, and top-1 twice, in one batch.
BATCH5_TARGETS = [7, TOP1, 512, TOP1, 999]
BATCH_SIZES = [1, 5]
INPUT_SEED = 1234
INPUT_SIZE = 224
TOPK = 5
MAX_EAGER_SCRIPTED_LOGIT_DIFF = 1e-4
# Logits closer than the difference we accept between implementations may rank
# either way in the C++ engine.
NEAR_TIE_LOGIT_GAP = MAX_EAGER_SCRIPTED_LOGIT_DIFF
# EigenCAM flips a projection when |min| > |max|; closer than this relative
# gap, SVD rounding in another implementation may flip it the other way.
NEAR_TIE_SIGN_RELATIVE_GAP = 1e-3

SCRIPT_PATH = Path(__file__).resolve()


def write_atomically(path: Path, data: bytes) -> None:
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        temporary.write_bytes(data)
        os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)


def write_float32(path: Path, array: np.ndarray) -> None:
    write_atomically(path, np.ascontiguousarray(array, dtype="<f4").tobytes())


def file_stem(*parts: str) -> str:
    """Joins name parts with '__', keeping only characters safe in file names."""
    return "__".join(p.replace("+", "p").replace(".", "_") for p in parts)


def is_up_to_date(manifest_path: Path, inputs: Sequence[Path]) -> bool:
    if not manifest_path.exists():
        return False
    manifest_mtime = manifest_path.stat().st_mtime
    return all(manifest_mtime > p.stat().st_mtime for p in inputs)


def load_eager_model(models_dir: Path, name: str) -> Tuple[torch.nn.Module, torch.jit.ScriptModule]:
    """Returns (torchvision model, TorchScript module) with the same weights.

    pytorch-grad-cam hooks nn.Modules, so it needs the eager model; the C++
    engine runs the TorchScript file.
    """
    scripted = torch.jit.load(str(models_dir / f"{name}.pt")).eval()
    eager = getattr(torchvision.models, name)(weights=None)
    eager.load_state_dict(scripted.state_dict())
    return eager.eval(), scripted


def check_eager_matches_scripted(name: str, eager: torch.nn.Module,
                                 scripted: torch.jit.ScriptModule, inputs: torch.Tensor) -> torch.Tensor:
    """Returns the eager logits; exits if the TorchScript module disagrees."""
    with torch.no_grad():
        eager_logits = eager(inputs)
        scripted_logits = scripted(inputs)
    max_diff = (eager_logits - scripted_logits).abs().max().item()
    if max_diff >= MAX_EAGER_SCRIPTED_LOGIT_DIFF:
        sys.exit(f"make_cam_reference: {name}: eager and TorchScript logits differ by "
                 f"{max_diff:.3g} (limit {MAX_EAGER_SCRIPTED_LOGIT_DIFF}); the reference "
                 f"would not describe the served model")
    print(f"{name}: eager and TorchScript logits agree (max abs diff {max_diff:.2g})")
    return eager_logits


def top_classes(name: str, logits: torch.Tensor) -> dict:
    warn_on_rank_near_ties(name, logits)
    probabilities = torch.softmax(logits.double(), dim=1)
    top = probabilities.topk(TOPK, dim=1)
    return {"classes": top.indices.tolist(), "probabilities": top.values.tolist()}


def warn_on_rank_near_ties(name: str, logits: torch.Tensor) -> None:
    """Warns where the top-k classes (or the k+1-th) are not clearly ordered."""
    top_logits = logits.topk(TOPK + 1, dim=1).values
    gaps = top_logits[:, :-1] - top_logits[:, 1:]
    for image, rank in (gaps < NEAR_TIE_LOGIT_GAP).nonzero().tolist():
        print(f"WARNING: {name} image {image}: logits of ranks {rank + 1} and {rank + 2} "
              f"differ by {gaps[image, rank].item():.3g}; their order is fragile")


def resolve_targets(targets: Sequence[int], logits: torch.Tensor) -> List[int]:
    top1 = logits.argmax(dim=1).tolist()
    return [top1[i] if t == TOP1 else t for i, t in enumerate(targets)]


def normalised_maps(raw_cams: np.ndarray, input_size: Tuple[int, int]) -> Tuple[np.ndarray, np.ndarray]:
    """[B,h,w] raw CAMs -> (input-size maps [B,H,W], feature maps [B,h,w]).

    Exactly pytorch-grad-cam's compute_cam_per_layer, with and without resizing;
    input_size is (H, W).
    """
    positive = np.maximum(raw_cams, 0)
    height, width = input_size
    return scale_cam_image(positive, (width, height)), scale_cam_image(positive)


def compute_expected_maps(model: torch.nn.Module, layer_name: str, method: str,
                          inputs: torch.Tensor, classes: Sequence[int],
                          reshape_transform=None) -> Tuple[np.ndarray, np.ndarray]:
    """Runs pytorch-grad-cam once; returns (input-size maps, feature maps).

    reshape_transform turns the layer's output (and its gradient) into
    [N, C, h, w], as pytorch-grad-cam's transformer examples do.
    """
    layer = model.get_submodule(layer_name)
    input_size = tuple(inputs.shape[-2:])
    targets = [ClassifierOutputTarget(c) for c in classes]
    cam: BaseCAM = METHODS[method](model=model, target_layers=[layer], reshape_transform=reshape_transform)
    try:
        cam(input_tensor=inputs, targets=targets)
        activations = cam.activations_and_grads.activations[0].numpy()
        if method == "eigencam":
            projection = get_2d_projection_with_sign_correction(activations)
            warn_on_sign_near_tie(method, projection)
            input_maps, feature_maps = normalised_maps(projection, input_size)
        else:
            input_maps = cam.compute_cam_per_layer(inputs, targets, False)[0][:, 0]
            gradients = cam.activations_and_grads.gradients[0].numpy()
            raw_cams = cam.get_cam_image(inputs, layer, targets, activations, gradients, False)
            feature_maps = normalised_maps(raw_cams, input_size)[1]
    finally:
        cam.activations_and_grads.release()
    check_maps_are_consistent(input_maps, feature_maps)
    return input_maps, feature_maps


def warn_on_sign_near_tie(method: str, projections: np.ndarray) -> None:
    for image, projection in enumerate(projections):
        low, high = abs(float(projection.min())), abs(float(projection.max()))
        if abs(low - high) < NEAR_TIE_SIGN_RELATIVE_GAP * max(low, high):
            print(f"WARNING: {method} image {image}: |min| {low:.6g} and |max| {high:.6g} "
                  f"are nearly equal; the sign correction is fragile")


def check_maps_are_consistent(input_maps: np.ndarray, feature_maps: np.ndarray) -> None:
    """The two files must describe the same maps: input = resize(feature)."""
    height, width = input_maps.shape[1:]
    resized = np.float32([cv2.resize(m, (width, height)) for m in feature_maps])
    if not np.allclose(resized, input_maps, atol=1e-6):
        sys.exit("make_cam_reference: input-size maps are not the resized feature maps; "
                 "pytorch-grad-cam's internals differ from what this script expects")


def describe_all_zero_maps(feature_maps: np.ndarray) -> str:
    """Names images whose CAM had no positive value, so the map is all zeros."""
    zero = [i for i, m in enumerate(feature_maps) if not m.any()]
    return f", all-zero maps for images {zero}" if zero else ""


def make_cases(name: str, model: torch.nn.Module, inputs: torch.Tensor,
               logits: torch.Tensor, inputs_file: str, out_dir: Path) -> List[dict]:
    cases = []
    for layer in TARGET_LAYERS[name]:
        for method in METHODS:
            for batch in BATCH_SIZES:
                started = time.monotonic()
                targets = [TOP1] if batch == 1 else BATCH5_TARGETS
                classes = resolve_targets(targets, logits[:batch])
                input_maps, feature_maps = compute_expected_maps(
                    model, layer, method, inputs[:batch], classes)
                stem = file_stem(name, layer, method, f"b{batch}")
                write_float32(out_dir / f"{stem}.input.f32", input_maps)
                write_float32(out_dir / f"{stem}.feature.f32", feature_maps)
                cases.append({
                    "model": name,
                    "layer": layer,
                    "method": method,
                    "batch": batch,
                    "inputs": inputs_file,
                    "input_shape": [batch, 3, INPUT_SIZE, INPUT_SIZE],
                    "targets": list(targets),
                    "resolved_targets": classes,
                    "expected_input": f"{stem}.input.f32",
                    "expected_input_shape": list(input_maps.shape),
                    "expected_feature": f"{stem}.feature.f32",
                    "expected_feature_shape": list(feature_maps.shape),
                })
                height, width = feature_maps.shape[1:]
                print(f"{name} {layer} {method} b{batch}: classes {classes}, "
                      f"feature {height}x{width}, {time.monotonic() - started:.1f}s"
                      f"{describe_all_zero_maps(feature_maps)}")
    return cases


def make_deterministic() -> None:
    torch.manual_seed(0)
    np.random.seed(0)
    torch.use_deterministic_algorithms(True)
    torch.set_num_threads(os.cpu_count() or 1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--models", required=True, type=Path,
                        help="folder with resnet18.pt and resnet50.pt (scripts/export_models.py)")
    parser.add_argument("--out", required=True, type=Path, help="folder to write the reference into")
    args = parser.parse_args()

    model_paths = [args.models / f"{name}.pt" for name in TARGET_LAYERS]
    missing = [str(p) for p in model_paths if not p.exists()]
    if missing:
        sys.exit(f"make_cam_reference: missing models {missing}; run scripts/export_models.py")
    manifest_path = args.out / "manifest.yaml"
    if is_up_to_date(manifest_path, [SCRIPT_PATH, *model_paths]):
        print(f"make_cam_reference: {manifest_path} is newer than the script and models, skipped")
        return

    started = time.monotonic()
    make_deterministic()
    args.out.mkdir(parents=True, exist_ok=True)
    # A stale manifest must not vouch for a half-rewritten set of maps.
    manifest_path.unlink(missing_ok=True)
    manifest = {"cases": [], "topk": {}}
    for name in TARGET_LAYERS:
        eager, scripted = load_eager_model(args.models, name)
        torch.manual_seed(INPUT_SEED)
        inputs = torch.randn(max(BATCH_SIZES), 3, INPUT_SIZE, INPUT_SIZE, dtype=torch.float32)
        logits = check_eager_matches_scripted(name, eager, scripted, inputs)
        inputs_file = f"{name}_inputs.f32"
        write_float32(args.out / inputs_file, inputs.numpy())
        manifest["topk"][name] = top_classes(name, logits)
        manifest["cases"] += make_cases(name, eager, inputs, logits, inputs_file, args.out)

    text = yaml.safe_dump(manifest, sort_keys=False, default_flow_style=None, width=120)
    write_atomically(manifest_path, text.encode())
    print(f"make_cam_reference: {len(manifest['cases'])} cases in {args.out} "
          f"({time.monotonic() - started:.0f}s)")


if __name__ == "__main__":
    main()
