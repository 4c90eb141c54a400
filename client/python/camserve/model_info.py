"""ModelInfo: what the server says about a model it serves (GetModelInfo)."""
from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class PreparedLayer:
    """How a prepared target layer runs (docs/numerics.md)."""

    layer: str
    #: Runs on a copy of its own (optimized fp32, or frozen for bf16/fp16).
    optimized: bool
    precision: str
    #: The largest difference from the plain fp32 module measured at load, in
    #: normalised map units and in probability; None: not measured (the plain
    #: fp32 module itself).
    map_difference: float | None
    probability_difference: float | None
    #: Why a faster runner was refused or dropped; empty when none was.
    note: str


@dataclass(frozen=True)
class ModelInfo:
    """One served model: its input, classes, target layers and methods."""

    name: str
    #: Fingerprint of the model file and its preprocessing.
    version: str
    device: str
    input_height: int
    input_width: int
    num_classes: int
    #: Dotted module paths usable as explain(layer=...).
    target_layers: list[str]
    default_layer: str
    #: Usable as explain(method=...).
    methods: list[str]
    #: Explains requests that name no model.
    is_default: bool
    #: fp32, bf16 or fp16: the arithmetic the model runs in.
    precision: str
    prepared_layers: list[PreparedLayer] = field(default_factory=list)
