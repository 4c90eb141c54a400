"""AsyncClient: Client's calls for asyncio, on grpc.aio.

    async with camserve.AsyncClient("127.0.0.1:50051") as client:
        explanation = await client.explain("digit.png")
        async for explanation in client.explain_many(paths, max_in_flight=8):
            ...

The arguments, results, ordering and errors are Client's (client.py). Make
and use an AsyncClient inside one running event loop. Images that need
reading or encoding (paths, PIL images, arrays) are prepared on a worker
thread (asyncio.to_thread), so a large PNG does not stall the loop.
"""
from __future__ import annotations

import asyncio
from collections.abc import AsyncIterable, AsyncIterator, Iterable
from types import TracebackType

import grpc
import grpc.aio

from camserve._connection import ConnectionSettings, Pem
from camserve._in_order import InOrderResults
from camserve._proto_conversion import (ExplainOptions, Resolution, explain_request, explanation_from_response,
                                        model_infos_from_response)
from camserve.errors import CamserveError
from camserve.explanation import Explanation
from camserve.image_input import ImageInput, encode_image
from camserve.model_info import ModelInfo
from camserve.v1 import explainer_pb2, explainer_pb2_grpc


class AsyncClient:
    """A grpc.aio connection to one camserve server; the arguments are Client's."""

    def __init__(self, addr: str, *, ca: Pem | None = None, cert: Pem | None = None, key: Pem | None = None,
                 token: str | None = None, timeout: float | None = None, tls: bool = False,
                 server_name: str | None = None) -> None:
        self._connection = ConnectionSettings.create(addr, tls=tls, ca=ca, cert=cert, key=key,
                                                     server_name=server_name, token=token)
        self._timeout = timeout
        self._channel = self._connection.open_aio_channel()
        self._stub = explainer_pb2_grpc.ExplainerStub(self._channel)  # type: ignore[no-untyped-call]

    async def explain(self, image: ImageInput, *, model: str | None = None, method: str | None = None,
                      layer: str | None = None, target_class: int | None = None, top_k: int | None = None,
                      resolution: Resolution = "input", evaluate: bool = False, bypass_cache: bool = False,
                      timeout: float | None = None) -> Explanation:
        """Explains one image; Client.explain's arguments and result."""
        options = ExplainOptions(model=model, method=method, layer=layer, target_class=target_class, top_k=top_k,
                                 resolution=resolution, evaluate=evaluate, bypass_cache=bypass_cache)
        request = explain_request(await _encode_off_loop(image), options)
        try:
            response = await self._stub.Explain(request, timeout=self._deadline(timeout),
                                                metadata=self._connection.metadata)
        except grpc.RpcError as error:
            raise CamserveError.from_rpc_error(error) from None
        return explanation_from_response(response)

    def explain_many(self, images: Iterable[ImageInput] | AsyncIterable[ImageInput], *, max_in_flight: int = 8,
                     model: str | None = None, method: str | None = None, layer: str | None = None,
                     target_class: int | None = None, top_k: int | None = None, resolution: Resolution = "input",
                     evaluate: bool = False, bypass_cache: bool = False,
                     timeout: float | None = None) -> AsyncIterator[Explanation]:
        """Explains every image over one ExplainStream (`async for`); Client.explain_many's contract.

        `images` may be an iterable or an async iterable.
        """
        if max_in_flight < 1:
            raise ValueError(f"max_in_flight must be >= 1; was {max_in_flight}")
        options = ExplainOptions(model=model, method=method, layer=layer, target_class=target_class, top_k=top_k,
                                 resolution=resolution, evaluate=evaluate, bypass_cache=bypass_cache)
        return self._explain_stream(_async_iterator(images), options, max_in_flight, timeout)

    async def model_info(self, model: str | None = None, *, timeout: float | None = None) -> list[ModelInfo]:
        """The served models (GetModelInfo): every one, or only `model`."""
        try:
            response = await self._stub.GetModelInfo(explainer_pb2.GetModelInfoRequest(model=model or ""),
                                                     timeout=self._deadline(timeout),
                                                     metadata=self._connection.metadata)
        except grpc.RpcError as error:
            raise CamserveError.from_rpc_error(error) from None
        return model_infos_from_response(response)

    async def close(self) -> None:
        """Closes the channel; calls in progress are cancelled."""
        await self._channel.close()

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        traceback: TracebackType | None) -> None:
        await self.close()

    # -- implementation details follow -------------------------------------

    def _deadline(self, timeout: float | None) -> float | None:
        return self._timeout if timeout is None else timeout

    async def _explain_stream(self, images: AsyncIterator[ImageInput], options: ExplainOptions, max_in_flight: int,
                              timeout: float | None) -> AsyncIterator[Explanation]:
        # One task writes and reads: it sends while fewer than max_in_flight
        # requests are unyielded, then waits for the next answer.
        call = self._stub.ExplainStream(timeout=timeout, metadata=self._connection.metadata)
        results = InOrderResults()
        writing = True
        try:
            while True:
                while writing and results.sent - results.delivered < max_in_flight:
                    try:
                        image_bytes = await _encode_off_loop(await images.__anext__())
                    except StopAsyncIteration:
                        writing = False
                    except Exception as error:  # raised to the caller at this image's turn
                        results.fail_input(error)
                        writing = False
                    else:
                        await call.write(explain_request(image_bytes, options, request_id=results.note_sent()))
                    if not writing:
                        await call.done_writing()
                if results.delivered == results.sent and not writing:
                    break
                response = await call.read()
                if response is grpc.aio.EOF:
                    break
                results.add(response)
                for explanation in results.ready():
                    yield explanation
            results.finish()
        except grpc.RpcError as error:
            raise CamserveError.from_rpc_error(error) from None
        finally:
            call.cancel()


async def _encode_off_loop(image: ImageInput) -> bytes:
    if isinstance(image, (bytes, bytearray, memoryview)):
        return bytes(image)
    return await asyncio.to_thread(encode_image, image)


async def _async_iterator(images: Iterable[ImageInput] | AsyncIterable[ImageInput]) -> AsyncIterator[ImageInput]:
    if isinstance(images, AsyncIterable):
        async for image in images:
            yield image
    else:
        for image in images:
            yield image
