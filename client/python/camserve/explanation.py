"""Explanation: what the server answered for one image, as Python values.

The heatmap is a numpy float32 array of shape (height, width) with values in
[0, 1], its size set by the request's resolution: "input" (the model input's,
32x32 for the digits model), "feature" (the target layer's) or "original" (the
image's). The other fields mirror proto/camserve/v1/explainer.proto's
ExplainResponse.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import NamedTuple

import numpy
import numpy.typing


class ClassScore(NamedTuple):
    """One of the top classes: its index, label and softmax probability."""

    class_index: int
    label: str
    probability: float


@dataclass(frozen=True)
class StageTimings:
    """The server's time per stage of the request, in microseconds.

    All 0 when the server runs with profiling.enabled=false. A cache hit has
    only cache_get_us and total_us; a coalesced answer carries the stages of
    the computation it shared.
    """

    decode_us: int = 0
    queue_us: int = 0
    preprocess_us: int = 0
    forward_us: int = 0
    backward_us: int = 0
    cam_us: int = 0
    perturb_us: int = 0
    evaluate_us: int = 0
    encode_us: int = 0
    cache_get_us: int = 0
    cache_put_us: int = 0
    total_us: int = 0


@dataclass(frozen=True)
class Quality:
    """How faithful the heatmap is to the model (explain(evaluate=True); docs/quality.md).

    Probabilities are the explained class's softmax probability.
    """

    #: For the unperturbed input.
    target_probability: float
    #: For the input multiplied by the map.
    masked_probability: float
    #: masked_probability - target_probability; negative: the map left out evidence.
    confidence_change: float
    #: max(target - masked, 0) / (target + 1e-7); lower is better.
    average_drop: float
    #: masked_probability > target_probability.
    confidence_increase: bool
    #: RISE's area under the curve while the most salient pixels are deleted (lower is better).
    deletion_auc: float
    #: ... while they are inserted into a blurred copy (higher is better).
    insertion_auc: float
    #: The curves, steps + 1 points each.
    deletion_curve: list[float] = field(default_factory=list)
    insertion_curve: list[float] = field(default_factory=list)
    steps: int = 0


@dataclass(frozen=True, eq=False)
class Explanation:
    """The explanation of one image (compare heatmaps with numpy, not ==)."""

    #: float32, shape (height, width), values in [0, 1].
    heatmap: numpy.typing.NDArray[numpy.float32]
    #: The class the heatmap explains: the requested one, else the top-1 prediction.
    target_class: int
    target_label: str
    target_probability: float
    #: The top classes, most probable first.
    top_k: list[ClassScore]
    timings: StageTimings
    #: Answered from the server's heatmap cache.
    cache_hit: bool
    #: Shared the answer of an identical request computed at the same time.
    coalesced: bool
    #: How many requests shared this one's forward pass.
    batch_size: int
    model: str
    model_version: str
    #: The id the request carried: empty for explain(); for explain_many the
    #: image's position in the input, as a decimal string.
    request_id: str
    #: The quality scores; None unless the request asked for them (evaluate=True).
    quality: Quality | None = None
