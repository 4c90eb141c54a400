"""The one place where the package's Python values meet camserve.v1's messages.

ExplainOptions checks the options of an explanation once (a bad value raises
ValueError before anything is sent); explain_request makes the request
message, always asking for a FLOAT32 heatmap; the *_from_response functions
turn answers into the dataclasses of explanation.py and model_info.py.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import grpc
import numpy
import numpy.typing

from camserve.errors import CamserveError
from camserve.explanation import ClassScore, Explanation, Quality, StageTimings
from camserve.model_info import ModelInfo, PreparedLayer
from camserve.v1 import explainer_pb2

Resolution = Literal["input", "feature", "original"]

_RESOLUTIONS = {
    "input": explainer_pb2.HEATMAP_RESOLUTION_INPUT,
    "feature": explainer_pb2.HEATMAP_RESOLUTION_FEATURE,
    "original": explainer_pb2.HEATMAP_RESOLUTION_ORIGINAL,
}
# PreparedLayer's differences are -1 when not measured.
_NOT_MEASURED = -1.0


@dataclass(frozen=True)
class ExplainOptions:
    """What explain() and explain_many() ask for besides the image; None: the server's default."""

    model: str | None = None
    method: str | None = None
    layer: str | None = None
    target_class: int | None = None
    top_k: int | None = None
    resolution: Resolution = "input"
    evaluate: bool = False
    bypass_cache: bool = False

    def __post_init__(self) -> None:
        if self.resolution not in _RESOLUTIONS:
            raise ValueError(f"resolution must be one of {', '.join(_RESOLUTIONS)}; was {self.resolution!r}")
        if self.top_k is not None and self.top_k < 0:
            raise ValueError(f"top_k must be >= 0; was {self.top_k}")


def explain_request(image: bytes, options: ExplainOptions, request_id: str = "") -> explainer_pb2.ExplainRequest:
    request = explainer_pb2.ExplainRequest(
        request_id=request_id, image=image, model=options.model or "", method=options.method or "",
        target_layer=options.layer or "", top_k=options.top_k or 0, resolution=_RESOLUTIONS[options.resolution],
        encoding=explainer_pb2.HEATMAP_ENCODING_FLOAT32, evaluate=options.evaluate,
        bypass_cache=options.bypass_cache)
    if options.target_class is not None:
        request.target_class = options.target_class
    return request


def explanation_from_response(response: explainer_pb2.ExplainResponse) -> Explanation:
    """The Explanation of a successful answer (REQUIRES: response.error is unset)."""
    return Explanation(
        heatmap=_float32_heatmap(response.heatmap),
        target_class=response.target_class,
        target_label=response.target_label,
        target_probability=response.target_probability,
        top_k=[ClassScore(score.class_index, score.label, score.probability) for score in response.top_k],
        timings=_stage_timings(response.timings),
        cache_hit=response.cache_hit,
        coalesced=response.coalesced,
        batch_size=response.batch_size,
        model=response.model,
        model_version=response.model_version,
        request_id=response.request_id,
        quality=_quality(response.quality) if response.HasField("quality") else None,
    )


def stream_error(response: explainer_pb2.ExplainResponse) -> CamserveError | None:
    """The error of a failed ExplainStream answer; None for a successful one."""
    if not response.HasField("error"):
        return None
    return CamserveError.from_status_number(response.error.code, response.error.message)


def model_infos_from_response(response: explainer_pb2.GetModelInfoResponse) -> list[ModelInfo]:
    return [
        ModelInfo(
            name=model.name, version=model.version, device=model.device, input_height=model.input_height,
            input_width=model.input_width, num_classes=model.num_classes, target_layers=list(model.target_layers),
            default_layer=model.default_layer, methods=list(model.methods), is_default=model.is_default,
            precision=model.precision,
            prepared_layers=[
                PreparedLayer(layer=prepared.layer, optimized=prepared.optimized, precision=prepared.precision,
                              map_difference=_measured(prepared.map_difference),
                              probability_difference=_measured(prepared.probability_difference), note=prepared.note)
                for prepared in model.prepared_layers
            ])
        for model in response.models
    ]


def _float32_heatmap(heatmap: explainer_pb2.Heatmap) -> numpy.typing.NDArray[numpy.float32]:
    if heatmap.encoding != explainer_pb2.HEATMAP_ENCODING_FLOAT32:
        encoding = explainer_pb2.HeatmapEncoding.Name(heatmap.encoding)
        raise CamserveError(grpc.StatusCode.INTERNAL, f"asked for a FLOAT32 heatmap, got encoding {encoding}")
    expected_bytes = 4 * heatmap.width * heatmap.height
    if len(heatmap.data) != expected_bytes:
        raise CamserveError(grpc.StatusCode.INTERNAL, f"a {heatmap.width}x{heatmap.height} FLOAT32 heatmap has "
                            f"{expected_bytes} bytes; got {len(heatmap.data)}")
    # The wire's little-endian floats, copied into a writable native array.
    return numpy.frombuffer(heatmap.data, dtype="<f4").reshape(heatmap.height, heatmap.width).astype(numpy.float32)


def _stage_timings(timings: explainer_pb2.StageTimings) -> StageTimings:
    return StageTimings(
        decode_us=timings.decode_us, queue_us=timings.queue_us, preprocess_us=timings.preprocess_us,
        forward_us=timings.forward_us, backward_us=timings.backward_us, cam_us=timings.cam_us,
        perturb_us=timings.perturb_us, evaluate_us=timings.evaluate_us, encode_us=timings.encode_us,
        cache_get_us=timings.cache_get_us, cache_put_us=timings.cache_put_us, total_us=timings.total_us)


def _quality(quality: explainer_pb2.ExplanationQuality) -> Quality:
    return Quality(
        target_probability=quality.target_probability, masked_probability=quality.masked_probability,
        confidence_change=quality.confidence_change, average_drop=quality.average_drop,
        confidence_increase=quality.confidence_increase, deletion_auc=quality.deletion_auc,
        insertion_auc=quality.insertion_auc, deletion_curve=list(quality.deletion_curve),
        insertion_curve=list(quality.insertion_curve), steps=quality.steps)


def _measured(difference: float) -> float | None:
    return None if difference == _NOT_MEASURED else difference
