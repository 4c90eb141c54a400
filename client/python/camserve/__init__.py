"""camserve's Python client: class-activation heatmaps from a camserve server.

    import camserve

    with camserve.Client("127.0.0.1:50051") as client:
        explanation = client.explain("digit.png")          # Explain
        explanation.heatmap                                 # numpy float32 (H, W) in [0, 1]
        explanation.top_k                                   # [ClassScore(class_index, label, probability), ...]
        for result in client.explain_many(paths):           # ExplainStream, in input order
            ...
        client.model_info()                                 # GetModelInfo: [ModelInfo, ...]
    camserve.overlay("digit.png", explanation).save("overlay.png")

AsyncClient offers the same calls for asyncio. Failures from the server are
CamserveError with the gRPC status code. The raw gRPC stubs, generated from
proto/camserve/v1/explainer.proto when the package is built, are
camserve.v1.explainer_pb2 and camserve.v1.explainer_pb2_grpc. The
command-line tool is camserve-explain (camserve.cli). Reference:
docs/python.md.
"""
from camserve._proto_conversion import Resolution
from camserve.async_client import AsyncClient
from camserve.client import Client
from camserve.errors import CamserveError
from camserve.explanation import ClassScore, Explanation, Quality, StageTimings
from camserve.image_input import ImageInput
from camserve.model_info import ModelInfo, PreparedLayer
from camserve.overlay import jet_colormap, overlay

__all__ = [
    "AsyncClient",
    "CamserveError",
    "ClassScore",
    "Client",
    "Explanation",
    "ImageInput",
    "ModelInfo",
    "PreparedLayer",
    "Quality",
    "Resolution",
    "StageTimings",
    "jet_colormap",
    "overlay",
]
