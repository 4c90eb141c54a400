#!/usr/bin/env python3
"""Exports ten torchvision architectures and their pytorch-grad-cam reference maps.

    TEST_VENV/bin/python tests/reference/make_architecture_reference.py --out OUT

TEST_VENV is made by scripts/setup_test_venv.sh. For the C++ parity test over
architecture families (tests/core/engine/architecture_parity_test.cc), OUT
receives:
  models/NAME.pt, .yaml  each architecture with 10 classes and seeded weights,
                         scripted as scripts/export_models.py does, with a
                         sidecar whose default_layer is the layer under test
                         (and, for Swin, layer_layouts: {LAYER: nhwc})
  NAME_inputs.f32        4 seeded inputs [4,3,H,W]
  *.input.f32, *.feature.f32
                         the maps of every method, as make_cam_reference.py
                         computes them, for targets [3, top-1, 9, top-1]
  manifest.yaml          the models (file, sidecar, input size, layer, class
                         count, feature size) and the cases; written last, so
                         its presence means the set is complete

The weights make every part of a model matter: affine norm parameters are
random, BatchNorm running statistics are measured on random inputs and then
perturbed (folding a batch norm into its convolution is then not an identity),
and ConvNeXt's layer scale is about 0.5 instead of its 1e-6, which makes its
blocks vanish; ViT's head, initialised to zero, gets random weights. VGG's
4096-wide classifier is narrowed to 512 so the model file stays small; the
features under test are torchvision's.

The two transformers (vit_b_16, swin_t) are explained at layers whose output
is not [N, C, H, W]; the reference is pytorch-grad-cam with the
reshape_transform of its examples (drop the class token and fold the patch
tokens into a square grid; channels-last to channels-first).

Deterministic, and skipped when OUT/manifest.yaml is newer than this script and
the scripts it imports.
"""

import argparse
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import List, Optional

import torch
import torchvision
import yaml
from torch import nn
from torchvision.models.convnext import CNBlock

import make_cam_reference as cam_reference

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "scripts"))
import export_models  # noqa: E402  (scripts/ is not a package)


@dataclass(frozen=True)
class Architecture:
    name: str
    # Where pytorch-grad-cam's README suggests: the last stage or feature block.
    layer: str
    # Square input side; the layer's map is at least 4x4.
    input_size: int
    seed: int
    # The layer's output layout when it is not [N, C, H, W]: "class_token"
    # ([N, 1 + h*w, C], which camserve recognises by itself) or "nhwc"
    # (declared in the sidecar's layer_layouts).
    layout: Optional[str] = None


ARCHITECTURES = [
    Architecture("resnet18", "layer4", 192, 1),  # residual; 6x6
    Architecture("mobilenet_v3_small", "features.12", 160, 2),  # depthwise, SE, hardswish; 5x5
    Architecture("densenet121", "features.denseblock4", 128, 13),  # dense concatenation; 4x4
    # 7x7, as VGG's classifier expects: its adaptive pooling is the identity.
    Architecture("vgg11_bn", "features.28", 224, 14),  # plain convs with batch norm; 7x7
    Architecture("resnext50_32x4d", "layer4", 128, 5),  # grouped convolutions; 4x4
    Architecture("convnext_tiny", "features.7", 128, 6),  # LayerNorm, layer scale; 4x4
    Architecture("regnet_y_400mf", "trunk_output", 160, 7),  # RegNet with SE; 5x5
    Architecture("efficientnet_b0", "features.8", 128, 8),  # SiLU, SE; 4x4
    # Transformers, at the layers of pytorch-grad-cam's examples: the last
    # block's first LayerNorm (ViT: class token + 14x14 patches) and the last
    # block's second LayerNorm (Swin: a channels-last 7x7 grid).
    Architecture("vit_b_16", "encoder.layers.encoder_layer_11.ln_1", 224, 9, "class_token"),
    Architecture("swin_t", "features.7.1.norm2", 224, 10, "nhwc"),
]
NUM_CLASSES = 10
BATCH_SIZE = 4
# Explicit classes and the top-1 prediction mixed in one batch.
TARGETS = [3, cam_reference.TOP1, 9, cam_reference.TOP1]
INPUT_SEED = 1234
# BatchNorm statistics are measured on this many random inputs.
CALIBRATION_BATCH_SIZE = 8
VGG_CLASSIFIER_WIDTH = 512
LAYER_SCALE_RANGE = (0.4, 0.6)
NORM_WEIGHT_RANGE = (0.5, 1.5)
NORM_BIAS_RANGE = (-0.25, 0.25)
# Running mean moves by up to this many standard deviations, running variance
# is scaled within VARIANCE_SCALE_RANGE.
MEAN_SHIFT_STDS = 0.2
VARIANCE_SCALE_RANGE = (0.7, 1.4)
# The standard deviation given to linear layers initialised to zero.
ZERO_LINEAR_STD = 0.02

SCRIPT_PATH = Path(__file__).resolve()


def build_model(arch: Architecture) -> nn.Module:
    torch.manual_seed(arch.seed)
    model = getattr(torchvision.models, arch.name)(weights=None, num_classes=NUM_CLASSES)
    if arch.name.startswith("vgg"):
        narrow_vgg_classifier(model)
    randomise_near_identity_parameters(model)
    randomise_zero_linears(model)
    calibrate_batch_norms(model, arch.input_size)
    perturb_batch_norm_statistics(model)
    return model.eval()


def narrow_vgg_classifier(model: nn.Module) -> None:
    """Keeps VGG's classifier layout (three linears, ReLUs, dropouts), 512 wide."""
    classifier = model.classifier
    classifier[0] = nn.Linear(classifier[0].in_features, VGG_CLASSIFIER_WIDTH)
    classifier[3] = nn.Linear(VGG_CLASSIFIER_WIDTH, VGG_CLASSIFIER_WIDTH)
    classifier[6] = nn.Linear(VGG_CLASSIFIER_WIDTH, NUM_CLASSES)


@torch.no_grad()
def randomise_near_identity_parameters(model: nn.Module) -> None:
    """Norm affine parameters and ConvNeXt's layer scale, which start as (near) identities."""
    for module in model.modules():
        if isinstance(module, (nn.modules.batchnorm._BatchNorm, nn.LayerNorm)):
            module.weight.uniform_(*NORM_WEIGHT_RANGE)
            module.bias.uniform_(*NORM_BIAS_RANGE)
        if isinstance(module, CNBlock):
            module.layer_scale.uniform_(*LAYER_SCALE_RANGE)


@torch.no_grad()
def randomise_zero_linears(model: nn.Module) -> None:
    """Linear layers that start at zero (ViT's head) would give zero gradients."""
    for module in model.modules():
        if isinstance(module, nn.Linear) and not module.weight.any():
            module.weight.normal_(0, ZERO_LINEAR_STD)


def reshape_transform(arch: Architecture):
    """pytorch-grad-cam's reshape_transform for the layer's layout, or None."""
    if arch.layout == "class_token":
        def class_token(tensor: torch.Tensor) -> torch.Tensor:
            side = int(round((tensor.size(1) - 1) ** 0.5))
            grid = tensor[:, 1:, :].reshape(tensor.size(0), side, side, tensor.size(2))
            return grid.transpose(2, 3).transpose(1, 2)
        return class_token
    if arch.layout == "nhwc":
        return lambda tensor: tensor.permute(0, 3, 1, 2)
    return None


def batch_norms(model: nn.Module) -> List[nn.modules.batchnorm._BatchNorm]:
    return [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]


@torch.no_grad()
def calibrate_batch_norms(model: nn.Module, input_size: int) -> None:
    """Sets running statistics to those of random inputs, so activations keep their scale.

    Only the batch norms run in training mode; dropout and stochastic depth
    stay off.
    """
    norms = batch_norms(model)
    if not norms:
        return
    model.eval()
    momenta = [norm.momentum for norm in norms]
    for norm in norms:
        norm.reset_running_stats()
        norm.momentum = None  # a cumulative average: one batch sets the statistics
        norm.train()
    model(torch.randn(CALIBRATION_BATCH_SIZE, 3, input_size, input_size))
    for norm, momentum in zip(norms, momenta):
        norm.momentum = momentum
        norm.eval()


@torch.no_grad()
def perturb_batch_norm_statistics(model: nn.Module) -> None:
    for norm in batch_norms(model):
        std = norm.running_var.sqrt()
        norm.running_mean += MEAN_SHIFT_STDS * std * (2 * torch.rand_like(std) - 1)
        norm.running_var *= torch.empty_like(std).uniform_(*VARIANCE_SCALE_RANGE)


def export(arch: Architecture, model: nn.Module, models_dir: Path) -> torch.jit.ScriptModule:
    """Writes NAME.pt and NAME.yaml; returns the module loaded back from the file."""
    model_path = models_dir / f"{arch.name}.pt"
    export_models.save_torchscript(model_path, model)
    export_models.write_sidecar(models_dir / f"{arch.name}.yaml", arch.name, arch.input_size,
                                export_models.IMAGENET_MEAN, export_models.IMAGENET_STD,
                                [f"class_{i}" for i in range(NUM_CLASSES)], arch.layer)
    if arch.layout == "nhwc":
        # Declared; camserve recognises class_token layouts by itself.
        sidecar_path = models_dir / f"{arch.name}.yaml"
        sidecar = yaml.safe_load(sidecar_path.read_text())
        sidecar["layer_layouts"] = {arch.layer: arch.layout}
        export_models.write_text(sidecar_path,
                                 yaml.safe_dump(sidecar, sort_keys=False, default_flow_style=None, width=120))
    return torch.jit.load(str(model_path)).eval()


def make_cases(arch: Architecture, model: nn.Module, inputs: torch.Tensor, logits: torch.Tensor,
               inputs_file: str, out_dir: Path) -> List[dict]:
    cases = []
    classes = cam_reference.resolve_targets(TARGETS, logits)
    for method in cam_reference.METHODS:
        input_maps, feature_maps = cam_reference.compute_expected_maps(
            model, arch.layer, method, inputs, classes, reshape_transform(arch))
        stem = cam_reference.file_stem(arch.name, arch.layer, method, f"b{BATCH_SIZE}")
        cam_reference.write_float32(out_dir / f"{stem}.input.f32", input_maps)
        cam_reference.write_float32(out_dir / f"{stem}.feature.f32", feature_maps)
        cases.append({
            "model": arch.name,
            "layer": arch.layer,
            "method": method,
            "batch": BATCH_SIZE,
            "inputs": inputs_file,
            "input_shape": list(inputs.shape),
            "targets": list(TARGETS),
            "resolved_targets": classes,
            "expected_input": f"{stem}.input.f32",
            "expected_input_shape": list(input_maps.shape),
            "expected_feature": f"{stem}.feature.f32",
            "expected_feature_shape": list(feature_maps.shape),
        })
        print(f"{arch.name} {method}: classes {classes}"
              f"{cam_reference.describe_all_zero_maps(feature_maps)}")
    return cases


def make_architecture(arch: Architecture, out_dir: Path, manifest: dict) -> None:
    started = time.monotonic()
    model = build_model(arch)
    scripted = export(arch, model, out_dir / "models")
    torch.manual_seed(INPUT_SEED)
    inputs = torch.randn(BATCH_SIZE, 3, arch.input_size, arch.input_size)
    logits = cam_reference.check_eager_matches_scripted(arch.name, model, scripted, inputs)
    cam_reference.warn_on_rank_near_ties(arch.name, logits)
    inputs_file = f"{arch.name}_inputs.f32"
    cam_reference.write_float32(out_dir / inputs_file, inputs.numpy())
    cases = make_cases(arch, model, inputs, logits, inputs_file, out_dir)
    feature_size = cases[0]["expected_feature_shape"][1:]
    manifest["models"][arch.name] = {
        "path": f"models/{arch.name}.pt",
        "sidecar": f"models/{arch.name}.yaml",
        "input_size": [arch.input_size, arch.input_size],
        "layer": arch.layer,
        "classes": NUM_CLASSES,
        "feature_size": feature_size,
    }
    manifest["cases"] += cases
    print(f"{arch.name}: {arch.layer}, input {arch.input_size}x{arch.input_size}, "
          f"feature {feature_size[0]}x{feature_size[1]}, {time.monotonic() - started:.1f}s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", required=True, type=Path, help="folder to write models and maps into")
    args = parser.parse_args()

    manifest_path = args.out / "manifest.yaml"
    if cam_reference.is_up_to_date(manifest_path,
                                   [SCRIPT_PATH, cam_reference.SCRIPT_PATH, export_models.SCRIPT_PATH]):
        print(f"make_architecture_reference: {manifest_path} is newer than the scripts, skipped")
        return

    started = time.monotonic()
    cam_reference.make_deterministic()
    (args.out / "models").mkdir(parents=True, exist_ok=True)
    # A stale manifest must not vouch for a half-rewritten set of maps.
    manifest_path.unlink(missing_ok=True)
    manifest = {"models": {}, "cases": []}
    for arch in ARCHITECTURES:
        make_architecture(arch, args.out, manifest)

    text = yaml.safe_dump(manifest, sort_keys=False, default_flow_style=None, width=120)
    cam_reference.write_atomically(manifest_path, text.encode())
    print(f"make_architecture_reference: {len(manifest['models'])} models, {len(manifest['cases'])} "
          f"cases in {args.out} ({time.monotonic() - started:.0f}s)")


if __name__ == "__main__":
    main()
