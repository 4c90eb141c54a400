#!/usr/bin/env python3
"""Computes references for the perturbation CAMs and the explanation-quality metrics.

    TEST_VENV/bin/python tests/reference/make_perturbation_reference.py --models DIR --out OUT

TEST_VENV is made by scripts/setup_test_venv.sh; DIR holds resnet18.pt from
scripts/export_models.py. The C++ engine tests of core/engine/perturbation_cam.h
and core/engine/explanation_quality.h compare with what OUT receives.

Everything is computed on ResNet-18 (torchvision's architecture with the
TorchScript file's weights) for one batch of two random 160x160 inputs
(torch.manual_seed(2024); torch.randn(2, 3, 160, 160)) with targets
[7, top-1], written to resnet18_perturbation_inputs.f32.

Map cases (manifest key "cases", in make_cam_reference.py's format, so
cam_reference_check.h reads them unchanged): *.input.f32 [2,160,160] and
*.feature.f32 [2,h,w], normalised as make_cam_reference.py's (ReLU, per image
(x - min) / (1e-7 + max) at feature resolution, then cv2.resize bilinear):
  ablationcam  pytorch-grad-cam 1.5.7's AblationCAM with its defaults (every
               channel ablated, in chunks of 32), at layer4, layer3 and
               layer4.1.bn2.
  scorecam     pytorch-grad-cam's ScoreCAM at layer4.
  reciprocam   Recipro-CAM (Byun and Lee 2022) with the paper's one-hot
               spatial masks, as OpenVINO training extensions' ReciproCAM:
               for each position k = i * w + j of the layer's output F [C,h,w],
               F_k = F with every other position zeroed (all channels);
               S[i, j] = softmax(head(F_k))[target], head being the rest of
               the network (layer4: avgpool, flatten, fc; layer3: layer4
               first). S >= 0 gets the normalisation above. At layer4 and
               layer3. pytorch-grad-cam has no Recipro-CAM; this is it.
The library maps are the per-layer CAMs, as in make_cam_reference.py: the
object's output (checked to be these maps re-normalised after resizing) is
not what the engine returns.

pytorch-grad-cam's hooks keep a reference to the layer's output, and
torchvision's BasicBlock adds the residual into bn2's output in place (then an
in-place ReLU): as is, the hooked "layer4.1.bn2" activation would be the
block's output (>= 0), and an ablated bn2 output would get the residual and
the ReLU twice. So each library case runs on a copy of the model whose target
layer's output is copied before the rest of the network sees it (the logits
stay bit-identical): the maps describe the layer's own output, as the engine's
do. layer4.1.bn2's output has negative values, so the ablation takes
pytorch-grad-cam's very negative branch: with m the image's activation
minimum, the i-th (from 0) ablated channel of each chunk of 32 gets the float32
recurrence v_i = v_{i-1} - 1e7, v_{-1} = m (its ablation layer subtracts 1e7
from the minimum of the chunk's tensor, which holds the values already
written), i.e. m - (i + 1) * 1e7 up to float32 rounding.

Quality case (manifest key "quality"): Grad-CAM at layer4 (pytorch-grad-cam,
the logit of each resolved class); its input-size maps, written as "maps"
([2,160,160], the per-layer maps above, the engine's), are m below. With x the
normalised model input, t the resolved class and p(.) its softmax probability
(float32), per image:
  target_probability   p(x)
  masked_probability   p(x * m), m broadcast over the 3 channels
  confidence_change    pytorch-grad-cam's CamMultImageConfidenceChange with
                       ClassifierOutputSoftmaxTarget(t) (checked to be
                       masked_probability - target_probability within 1e-6)
  average_drop         relu(p(x) - p(x * m)) / (p(x) + 1e-7), and
  confidence_increase  p(x) < p(x * m): torch-cam's ClassificationMetric
                       formulas. torch-cam 0.3.2 (the last for torch 1.x) has
                       no torchcam.metrics (it came with 0.4), so they are
                       evaluated here; its GradCAM, from the logits and
                       bilinearly interpolated as ClassificationMetric does,
                       must give the same map within 1e-4 and the same
                       average drop within 1e-5. (ClassificationMetric with a
                       softmax logits_fn would take Grad-CAM of the
                       probability instead: another map.)
  deletion_curve, insertion_curve, deletion_auc, insertion_auc, steps
                       Petsiuk et al. 2018, as RISE's evaluation.py
                       (CausalMetric) computes them, with S = 16 steps of
                       ceil(H*W / S) pixels; steps = n = ceil(H*W / that).
                       Pixels in order np.flip(np.argsort(m.ravel(),
                       kind="stable")) (among equal values the higher flat
                       index first). Curve point i (0..n) has the first
                       i * ceil(H*W / S) pixels of that order replaced, in
                       all 3 channels; its score is p(.) of t (RISE's model
                       ends with a softmax). Deletion replaces them by 0;
                       insertion starts from blur(x) and replaces them by x's.
                       blur is RISE's gkern(11, 5): scipy's gaussian_filter
                       (sigma 5, mode "reflect", truncate 4) of an 11x11
                       centred delta, on the diagonal of a [3,3,11,11] float32
                       weight, conv2d with padding 5 (zeros). AUC = (sum -
                       first / 2 - last / 2) / n, RISE's auc.

All .f32 files are raw little-endian float32 in C order. OUT/manifest.yaml is
written last, so its presence means the set is complete. Deterministic, and
skipped when OUT/manifest.yaml is newer than this script,
make_cam_reference.py (whose helpers it uses) and the model.
"""

import argparse
import copy
import math
import sys
import time
from pathlib import Path
from typing import Callable, Dict, List, NoReturn, Sequence, Tuple

import numpy as np
import torch
import torch.nn.functional as F
import yaml
from pytorch_grad_cam import AblationCAM, ScoreCAM
from pytorch_grad_cam.metrics.cam_mult_image import CamMultImageConfidenceChange
from pytorch_grad_cam.utils.image import scale_cam_image
from pytorch_grad_cam.utils.model_targets import (ClassifierOutputSoftmaxTarget,
                                                  ClassifierOutputTarget)
from scipy.ndimage import gaussian_filter
from torchcam.methods import GradCAM as TorchCamGradCAM

sys.path.insert(0, str(Path(__file__).resolve().parent))
import make_cam_reference as common  # noqa: E402

MODEL = "resnet18"
INPUT_SEED = 2024
INPUT_SIZE = 160
TARGETS = [7, common.TOP1]
INPUTS_FILE = f"{MODEL}_perturbation_inputs.f32"
# (method, layer) of the map cases; every method but reciprocam is pytorch-grad-cam's.
MAP_CASES = [
    ("ablationcam", "layer4"),
    ("ablationcam", "layer3"),
    ("ablationcam", "layer4.1.bn2"),
    ("scorecam", "layer4"),
    ("reciprocam", "layer4"),
    ("reciprocam", "layer3"),
]
LIBRARY_METHODS: Dict[str, type] = {"ablationcam": AblationCAM, "scorecam": ScoreCAM}
# Recipro-CAM layers -> the ResNet stages between the layer and avgpool.
RECIPROCAM_HEAD_STAGES = {"layer4": [], "layer3": ["layer4"]}
QUALITY_METHOD = "gradcam"
QUALITY_LAYER = "layer4"
RISE_STEPS = 16
RISE_BLUR_SIZE = 11
RISE_BLUR_SIGMA = 5
# torch-cam's ClassificationMetric: drop / (p + eps).
AVERAGE_DROP_EPS = 1e-7
LIBRARY_OUTPUT_TOLERANCE = 1e-6
CONFIDENCE_CHANGE_TOLERANCE = 1e-6
TORCHCAM_MAP_TOLERANCE = 1e-4
TORCHCAM_DROP_TOLERANCE = 1e-5

SCRIPT_PATH = Path(__file__).resolve()


def fail(message: str) -> NoReturn:
    sys.exit(f"make_perturbation_reference: {message}")


class CopyOfInput(torch.nn.Module):
    """Returns a copy, so in-place operations after it leave its input intact."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.clone()


def with_isolated_output(model: torch.nn.Module, layer_name: str) -> Tuple[torch.nn.Module, torch.nn.Module]:
    """Returns (a copy of model, its layer) where the layer's output is copied
    before the rest of the network sees it; pytorch-grad-cam's hooks then keep
    the layer's own output, not what later in-place operations make of it."""
    model = copy.deepcopy(model)
    parent_name, _, child_name = layer_name.rpartition(".")
    parent = model.get_submodule(parent_name)
    layer = getattr(parent, child_name)
    setattr(parent, child_name, torch.nn.Sequential(layer, CopyOfInput()))
    return model, layer


def library_maps(model: torch.nn.Module, layer_name: str, method: str, inputs: torch.Tensor,
                 classes: Sequence[int]) -> Tuple[np.ndarray, np.ndarray]:
    """Runs a pytorch-grad-cam perturbation method once; returns (input-size
    maps, feature maps) from the raw CAM it computed on the way."""
    model, layer = with_isolated_output(model, layer_name)
    cam = LIBRARY_METHODS[method](model=model, target_layers=[layer])
    raw_cams: List[np.ndarray] = []
    get_cam_image = cam.get_cam_image

    def recording_get_cam_image(*args, **kwargs) -> np.ndarray:
        raw_cams.append(get_cam_image(*args, **kwargs))
        return raw_cams[-1]

    # The weights cost a forward per channel: keep the raw CAM of the one run.
    cam.get_cam_image = recording_get_cam_image
    try:
        output = cam(input_tensor=inputs, targets=[ClassifierOutputTarget(c) for c in classes])
    finally:
        cam.activations_and_grads.release()
    input_maps, feature_maps = common.normalised_maps(raw_cams[0], tuple(inputs.shape[-2:]))
    difference = np.abs(scale_cam_image(input_maps) - output).max()
    if difference > LIBRARY_OUTPUT_TOLERANCE:
        fail(f"{method} {layer_name}: the object's output differs by {difference:.3g} from the per-layer "
             f"maps re-normalised; pytorch-grad-cam's internals differ from what this script expects")
    common.check_maps_are_consistent(input_maps, feature_maps)
    return input_maps, feature_maps


def layer_output(model: torch.nn.Module, layer_name: str, inputs: torch.Tensor) -> torch.Tensor:
    outputs: List[torch.Tensor] = []
    handle = model.get_submodule(layer_name).register_forward_hook(
        lambda module, args, output: outputs.append(output.clone()))
    try:
        with torch.no_grad():
            model(inputs)
    finally:
        handle.remove()
    return outputs[0]


def resnet_head(model: torch.nn.Module, layer_name: str) -> Callable[[torch.Tensor], torch.Tensor]:
    """The part of the ResNet after the layer: features -> logits."""
    stages = [model.get_submodule(s) for s in RECIPROCAM_HEAD_STAGES[layer_name]]

    def head(features: torch.Tensor) -> torch.Tensor:
        for stage in stages:
            features = stage(features)
        return model.fc(torch.flatten(model.avgpool(features), 1))

    return head


@torch.no_grad()
def reciprocam_scores(model: torch.nn.Module, layer_name: str, inputs: torch.Tensor,
                      logits: torch.Tensor, classes: Sequence[int]) -> np.ndarray:
    """[N,h,w] target probabilities of the one-hot spatially masked features."""
    features = layer_output(model, layer_name, inputs)
    head = resnet_head(model, layer_name)
    difference = (head(features) - logits).abs().max().item()
    if difference >= common.MAX_EAGER_SCRIPTED_LOGIT_DIFF:
        fail(f"reciprocam {layer_name}: the head of the unmasked features is {difference:.3g} "
             f"off the logits; it is not the rest of the network")
    height, width = features.shape[-2:]
    one_hot_masks = torch.eye(height * width).view(height * width, 1, height, width)
    scores = []
    for image_features, target in zip(features, classes):
        probabilities = torch.softmax(head(image_features.unsqueeze(0) * one_hot_masks), dim=1)
        scores.append(probabilities[:, target].view(height, width))
    return torch.stack(scores).numpy()


def compute_maps(model: torch.nn.Module, method: str, layer: str, inputs: torch.Tensor,
                 logits: torch.Tensor, classes: List[int]) -> Tuple[np.ndarray, np.ndarray]:
    """(input-size maps, feature maps) of one map case."""
    if method == "reciprocam":
        scores = reciprocam_scores(model, layer, inputs, logits, classes)
        return common.normalised_maps(scores, tuple(inputs.shape[-2:]))
    return library_maps(model, layer, method, inputs, classes)


def make_map_cases(model: torch.nn.Module, inputs: torch.Tensor, logits: torch.Tensor,
                   classes: List[int], out_dir: Path) -> List[dict]:
    cases = []
    for method, layer in MAP_CASES:
        started = time.monotonic()
        input_maps, feature_maps = compute_maps(model, method, layer, inputs, logits, classes)
        stem = common.file_stem(MODEL, layer, method, f"b{len(inputs)}")
        common.write_float32(out_dir / f"{stem}.input.f32", input_maps)
        common.write_float32(out_dir / f"{stem}.feature.f32", feature_maps)
        cases.append({
            "model": MODEL,
            "layer": layer,
            "method": method,
            "batch": len(inputs),
            "inputs": INPUTS_FILE,
            "input_shape": list(inputs.shape),
            "targets": list(TARGETS),
            "resolved_targets": list(classes),
            "expected_input": f"{stem}.input.f32",
            "expected_input_shape": list(input_maps.shape),
            "expected_feature": f"{stem}.feature.f32",
            "expected_feature_shape": list(feature_maps.shape),
        })
        height, width = feature_maps.shape[1:]
        print(f"{MODEL} {layer} {method} b{len(inputs)}: classes {classes}, feature {height}x{width}, "
              f"{time.monotonic() - started:.1f}s{common.describe_all_zero_maps(feature_maps)}")
    return cases


@torch.no_grad()
def target_probabilities(model: torch.nn.Module, batch: torch.Tensor, classes: Sequence[int]) -> torch.Tensor:
    """[K] float32 softmax probability of classes[k] for batch[k]."""
    probabilities = torch.softmax(model(batch), dim=1)
    return probabilities[torch.arange(len(batch)), torch.tensor(classes)]


def library_confidence_change(model: torch.nn.Module, inputs: torch.Tensor, maps: np.ndarray,
                              classes: Sequence[int], expected: torch.Tensor) -> np.ndarray:
    """pytorch-grad-cam's CamMultImageConfidenceChange; exits unless it is `expected`."""
    change = CamMultImageConfidenceChange()(
        inputs, maps, [ClassifierOutputSoftmaxTarget(c) for c in classes], model)
    difference = np.abs(change - expected.numpy()).max()
    print(f"  CamMultImageConfidenceChange vs masked - original probability: max abs diff {difference:.2g}")
    if difference > CONFIDENCE_CHANGE_TOLERANCE:
        fail(f"CamMultImageConfidenceChange differs by {difference:.3g} from masked - original probability")
    return change


def average_drop(probabilities: torch.Tensor, masked_probabilities: torch.Tensor) -> torch.Tensor:
    """torch-cam's ClassificationMetric, per image."""
    return torch.relu(probabilities - masked_probabilities).div(probabilities + AVERAGE_DROP_EPS)


def check_against_torchcam(model: torch.nn.Module, inputs: torch.Tensor, maps: np.ndarray,
                           classes: List[int], probabilities: torch.Tensor, drops: torch.Tensor) -> None:
    """torch-cam's GradCAM map, resized as its ClassificationMetric does, must
    be ours, and give our average drop."""
    extractor = TorchCamGradCAM(model, QUALITY_LAYER, input_shape=tuple(inputs.shape[1:]))
    try:
        torchcam_maps = extractor(classes, model(inputs))[0]
    finally:
        extractor.remove_hooks()
    torchcam_maps[torch.isnan(torchcam_maps)] = 0
    torchcam_maps = F.interpolate(torchcam_maps.unsqueeze(1), inputs.shape[-2:], mode="bilinear",
                                  align_corners=False)
    map_difference = np.abs(torchcam_maps[:, 0].numpy() - maps).max()
    masked = target_probabilities(model, inputs * torchcam_maps, classes)
    drop_difference = (average_drop(probabilities, masked) - drops).abs().max().item()
    print(f"  torch-cam GradCAM vs ours: map max abs diff {map_difference:.2g}, "
          f"average drop max abs diff {drop_difference:.2g}")
    if map_difference > TORCHCAM_MAP_TOLERANCE:
        fail(f"torch-cam's GradCAM map differs by {map_difference:.3g} from pytorch-grad-cam's")
    if drop_difference > TORCHCAM_DROP_TOLERANCE:
        fail(f"torch-cam's map gives an average drop {drop_difference:.3g} off ours")


def rise_blur_kernel() -> torch.Tensor:
    """RISE's gkern(11, 5): [3,3,11,11], a Gaussian on the diagonal."""
    delta = np.zeros((RISE_BLUR_SIZE, RISE_BLUR_SIZE))
    delta[RISE_BLUR_SIZE // 2, RISE_BLUR_SIZE // 2] = 1
    gaussian = gaussian_filter(delta, RISE_BLUR_SIGMA)
    kernel = np.zeros((3, 3, RISE_BLUR_SIZE, RISE_BLUR_SIZE))
    for channel in range(3):
        kernel[channel, channel] = gaussian
    return torch.from_numpy(kernel.astype("float32"))


def rise_auc(curve: np.ndarray) -> float:
    return float((curve.sum() - curve[0] / 2 - curve[-1] / 2) / (curve.shape[0] - 1))


def causal_curves(model: torch.nn.Module, image: torch.Tensor, saliency: np.ndarray,
                  target: int) -> Tuple[np.ndarray, np.ndarray]:
    """RISE's deletion and insertion curves ([n + 1] each) of one image [3,H,W]."""
    height, width = saliency.shape
    pixels = height * width
    pixels_per_step = math.ceil(pixels / RISE_STEPS)
    steps = math.ceil(pixels / pixels_per_step)
    order = np.flip(np.argsort(saliency.reshape(-1), kind="stable"))
    rank = np.empty(pixels, dtype=np.int64)
    rank[order] = np.arange(pixels)
    # replaced[i] is true at the first i * pixels_per_step pixels of the order.
    thresholds = torch.arange(steps + 1) * pixels_per_step
    replaced = torch.from_numpy(rank).view(1, 1, height, width) < thresholds.view(-1, 1, 1, 1)
    with torch.no_grad():
        blurred = F.conv2d(image.unsqueeze(0), rise_blur_kernel(), padding=RISE_BLUR_SIZE // 2)
    deletion = torch.where(replaced, torch.zeros_like(image), image)
    insertion = torch.where(replaced, image, blurred)
    scores = target_probabilities(model, torch.cat([deletion, insertion]), [target] * (2 * steps + 2))
    return scores[:steps + 1].numpy(), scores[steps + 1:].numpy()


def make_quality_case(model: torch.nn.Module, inputs: torch.Tensor, logits: torch.Tensor,
                      classes: List[int], out_dir: Path) -> dict:
    started = time.monotonic()
    maps = common.compute_expected_maps(model, QUALITY_LAYER, QUALITY_METHOD, inputs, classes)[0]
    maps_file = f"{common.file_stem(MODEL, QUALITY_LAYER, QUALITY_METHOD, f'b{len(inputs)}')}.input.f32"
    common.write_float32(out_dir / maps_file, maps)
    probabilities = torch.softmax(logits, dim=1)[torch.arange(len(inputs)), torch.tensor(classes)]
    masked = target_probabilities(model, inputs * torch.from_numpy(maps).unsqueeze(1), classes)
    change = library_confidence_change(model, inputs, maps, classes, masked - probabilities)
    drops = average_drop(probabilities, masked)
    check_against_torchcam(model, inputs, maps, classes, probabilities, drops)
    images = []
    for i, target in enumerate(classes):
        deletion, insertion = causal_curves(model, inputs[i], maps[i], target)
        images.append({
            "target_probability": probabilities[i].item(),
            "masked_probability": masked[i].item(),
            "confidence_change": float(change[i]),
            "average_drop": drops[i].item(),
            "confidence_increase": bool(probabilities[i] < masked[i]),
            "deletion_auc": rise_auc(deletion),
            "insertion_auc": rise_auc(insertion),
            "deletion_curve": deletion.tolist(),
            "insertion_curve": insertion.tolist(),
            "steps": len(deletion) - 1,
        })
        print(f"  image {i} class {target}: p {images[-1]['target_probability']:.6g}, "
              f"masked {images[-1]['masked_probability']:.6g}, drop {images[-1]['average_drop']:.6g}, "
              f"increase {images[-1]['confidence_increase']}, deletion AUC {images[-1]['deletion_auc']:.6g}, "
              f"insertion AUC {images[-1]['insertion_auc']:.6g}")
    print(f"{MODEL} {QUALITY_LAYER} {QUALITY_METHOD} quality b{len(inputs)}: classes {classes}, "
          f"{time.monotonic() - started:.1f}s")
    return {
        "model": MODEL,
        "layer": QUALITY_LAYER,
        "method": QUALITY_METHOD,
        "inputs": INPUTS_FILE,
        "input_shape": list(inputs.shape),
        "targets": list(TARGETS),
        "resolved_targets": list(classes),
        "maps": maps_file,
        "maps_shape": list(maps.shape),
        "images": images,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--models", required=True, type=Path,
                        help=f"folder with {MODEL}.pt (scripts/export_models.py)")
    parser.add_argument("--out", required=True, type=Path, help="folder to write the reference into")
    args = parser.parse_args()

    model_path = args.models / f"{MODEL}.pt"
    if not model_path.exists():
        fail(f"missing model {model_path}; run scripts/export_models.py")
    manifest_path = args.out / "manifest.yaml"
    if common.is_up_to_date(manifest_path, [SCRIPT_PATH, common.SCRIPT_PATH, model_path]):
        print(f"make_perturbation_reference: {manifest_path} is newer than the scripts and the model, skipped")
        return

    started = time.monotonic()
    common.make_deterministic()
    args.out.mkdir(parents=True, exist_ok=True)
    # A stale manifest must not vouch for a half-rewritten set of files.
    manifest_path.unlink(missing_ok=True)
    eager, scripted = common.load_eager_model(args.models, MODEL)
    torch.manual_seed(INPUT_SEED)
    inputs = torch.randn(len(TARGETS), 3, INPUT_SIZE, INPUT_SIZE, dtype=torch.float32)
    logits = common.check_eager_matches_scripted(MODEL, eager, scripted, inputs)
    common.write_float32(args.out / INPUTS_FILE, inputs.numpy())
    classes = common.resolve_targets(TARGETS, logits)
    manifest = {
        "cases": make_map_cases(eager, inputs, logits, classes, args.out),
        "quality": [make_quality_case(eager, inputs, logits, classes, args.out)],
    }

    text = yaml.safe_dump(manifest, sort_keys=False, default_flow_style=None, width=120)
    common.write_atomically(manifest_path, text.encode())
    print(f"make_perturbation_reference: {len(manifest['cases'])} map cases and "
          f"{len(manifest['quality'])} quality case in {args.out} ({time.monotonic() - started:.0f}s)")


if __name__ == "__main__":
    main()
