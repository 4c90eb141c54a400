"""Client: explanations from a camserve server over gRPC, blocking calls.

    with camserve.Client("127.0.0.1:50051") as client:
        explanation = client.explain("digit.png", method="gradcam++")
        for explanation in client.explain_many(paths, max_in_flight=8):
            ...

Thread-safety: a Client may be shared by threads; each call is independent.
Errors: a call the server refuses or cannot answer raises CamserveError with
its gRPC status code; bad arguments raise ValueError, TypeError or OSError
before anything is sent (errors.py, image_input.py).
"""
from __future__ import annotations

import threading
from collections.abc import Iterable, Iterator
from types import TracebackType

import grpc

from camserve._connection import ConnectionSettings, Pem
from camserve._in_order import InOrderResults
from camserve._proto_conversion import (ExplainOptions, Resolution, explain_request, explanation_from_response,
                                        model_infos_from_response)
from camserve.errors import CamserveError
from camserve.explanation import Explanation
from camserve.image_input import ImageInput, encode_image
from camserve.model_info import ModelInfo
from camserve.v1 import explainer_pb2, explainer_pb2_grpc


class Client:
    """A connection to one camserve server.

    addr: "HOST:PORT". TLS is used when `ca`, `cert`/`key` or `server_name`
    is given, or `tls=True` (then with the system's root certificates unless
    `ca` names others). ca, cert and key are PEM files' paths or their
    contents (bytes); cert and key (mutual TLS) go together. `server_name`:
    the name the server's certificate must hold when `addr` is another name or
    an address it does not list. `token` is sent with every call as
    "authorization: Bearer <token>" (in the clear without TLS). `timeout`:
    the default deadline of each call, in seconds; None: none.

    Connecting is lazy: an unreachable server shows as UNAVAILABLE at the
    first call.
    """

    def __init__(self, addr: str, *, ca: Pem | None = None, cert: Pem | None = None, key: Pem | None = None,
                 token: str | None = None, timeout: float | None = None, tls: bool = False,
                 server_name: str | None = None) -> None:
        self._connection = ConnectionSettings.create(addr, tls=tls, ca=ca, cert=cert, key=key,
                                                     server_name=server_name, token=token)
        self._timeout = timeout
        self._channel = self._connection.open_channel()
        self._stub = explainer_pb2_grpc.ExplainerStub(self._channel)  # type: ignore[no-untyped-call]

    def explain(self, image: ImageInput, *, model: str | None = None, method: str | None = None,
                layer: str | None = None, target_class: int | None = None, top_k: int | None = None,
                resolution: Resolution = "input", evaluate: bool = False, bypass_cache: bool = False,
                timeout: float | None = None) -> Explanation:
        """Explains one image (the Explain RPC).

        image: a path, JPEG/PNG bytes, a PIL image or a uint8 numpy array
        (image_input.py). model: None for the server's default; method: e.g.
        "gradcam" (default), "gradcam++", "layercam", "scorecam"; layer: a
        dotted module path, None for the model's default; target_class: None
        explains the top-1 prediction; top_k: how many top classes to return,
        None for the server's default (5); resolution of the heatmap:
        "input" (the model input's size), "feature" (the target layer's) or
        "original" (the image's); evaluate: also compute the quality scores
        (Explanation.quality; costs extra forward passes); bypass_cache: skip
        the server's heatmap cache; timeout: seconds, None for the client's.
        """
        options = ExplainOptions(model=model, method=method, layer=layer, target_class=target_class, top_k=top_k,
                                 resolution=resolution, evaluate=evaluate, bypass_cache=bypass_cache)
        request = explain_request(encode_image(image), options)
        try:
            response = self._stub.Explain(request, timeout=self._deadline(timeout), metadata=self._connection.metadata)
        except grpc.RpcError as error:
            raise CamserveError.from_rpc_error(error) from None
        return explanation_from_response(response)

    def explain_many(self, images: Iterable[ImageInput], *, max_in_flight: int = 8, model: str | None = None,
                     method: str | None = None, layer: str | None = None, target_class: int | None = None,
                     top_k: int | None = None, resolution: Resolution = "input", evaluate: bool = False,
                     bypass_cache: bool = False, timeout: float | None = None) -> Iterator[Explanation]:
        """Explains every image of `images` over one ExplainStream; yields in input order.

        At most `max_in_flight` images are sent and not yet yielded at any
        time (so at most that many wait for the server, and at most that
        many answers are held back to keep the order); `images` is read
        lazily, one image per free place. The options are explain()'s, the
        same for every image. `timeout` is the deadline of the whole stream,
        in seconds; None: none (not the client's per-call timeout).

        A failed image ends the iteration: after the images before it have
        been yielded, its CamserveError is raised (an image that cannot be
        read or encoded: its OSError, TypeError or ValueError), and the stream
        is cancelled. Leaving the loop early cancels the stream as well.
        """
        if max_in_flight < 1:
            raise ValueError(f"max_in_flight must be >= 1; was {max_in_flight}")
        options = ExplainOptions(model=model, method=method, layer=layer, target_class=target_class, top_k=top_k,
                                 resolution=resolution, evaluate=evaluate, bypass_cache=bypass_cache)
        return self._explain_stream(iter(images), options, max_in_flight, timeout)

    def model_info(self, model: str | None = None, *, timeout: float | None = None) -> list[ModelInfo]:
        """The served models (GetModelInfo): every one, or only `model` (NOT_FOUND if not served)."""
        try:
            response = self._stub.GetModelInfo(explainer_pb2.GetModelInfoRequest(model=model or ""),
                                               timeout=self._deadline(timeout), metadata=self._connection.metadata)
        except grpc.RpcError as error:
            raise CamserveError.from_rpc_error(error) from None
        return model_infos_from_response(response)

    def close(self) -> None:
        """Closes the channel; calls in progress are cancelled."""
        self._channel.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 traceback: TracebackType | None) -> None:
        self.close()

    # -- implementation details follow -------------------------------------

    def _deadline(self, timeout: float | None) -> float | None:
        return self._timeout if timeout is None else timeout

    def _explain_stream(self, images: Iterator[ImageInput], options: ExplainOptions, max_in_flight: int,
                        timeout: float | None) -> Iterator[Explanation]:
        # gRPC reads `requests` on a thread of its own; a free place in the
        # window is taken before the next image is read and given back once
        # its result has been yielded.
        free_places = threading.Semaphore(max_in_flight)
        stopped = threading.Event()
        results = InOrderResults()

        def requests() -> Iterator[explainer_pb2.ExplainRequest]:
            while True:
                free_places.acquire()
                if stopped.is_set():
                    return
                try:
                    image_bytes = encode_image(next(images))
                except StopIteration:
                    return
                except Exception as error:  # raised to the caller at this image's turn
                    results.fail_input(error)
                    return
                yield explain_request(image_bytes, options, request_id=results.note_sent())

        call = self._stub.ExplainStream(requests(), timeout=timeout, metadata=self._connection.metadata)
        try:
            for response in call:
                results.add(response)
                for explanation in results.ready():
                    yield explanation
                    free_places.release()
            results.finish()
        except grpc.RpcError as error:
            raise CamserveError.from_rpc_error(error) from None
        finally:
            stopped.set()
            free_places.release(max_in_flight)  # wakes a request iterator waiting for a place, to stop
            call.cancel()
