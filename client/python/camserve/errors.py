"""CamserveError: a call that the server refused or could not answer.

Every failure reported by the server or by gRPC (an error status of a call, or
the error of one image of an explain_many stream) reaches the caller as a
CamserveError carrying the gRPC status code and its message. Problems with the
caller's own arguments (an unreadable file, an array of the wrong shape, a bad
option) are the usual OSError, TypeError and ValueError instead, raised before
anything is sent.
"""
from __future__ import annotations

from typing import cast

import grpc

_STATUS_CODES_BY_NUMBER = {code.value[0]: code for code in grpc.StatusCode}


class CamserveError(Exception):
    """A failed call: `code` is its grpc.StatusCode, `details` the server's message.

    str(error) is "CODE: details", e.g. "NOT_FOUND: unknown model 'x'".
    Codes the server uses (proto/camserve/v1/explainer.proto): INVALID_ARGUMENT
    (bad image, method, layer or class), NOT_FOUND (unknown model),
    UNAUTHENTICATED (no or a wrong token), RESOURCE_EXHAUSTED and UNAVAILABLE
    (overloaded, shutting down, or no server at the address), DEADLINE_EXCEEDED.
    """

    def __init__(self, code: grpc.StatusCode, details: str) -> None:
        super().__init__(f"{code.name}: {details}")
        self.code = code
        self.details = details

    @classmethod
    def from_rpc_error(cls, error: grpc.RpcError) -> CamserveError:
        """The error of a failed call (sync or grpc.aio)."""
        call = cast(grpc.Call, error)  # sync and grpc.aio errors both carry code() and details()
        return cls(call.code(), call.details() or "")

    @classmethod
    def from_status_number(cls, number: int, details: str) -> CamserveError:
        """The error from a status code given as its number (google.rpc.Code)."""
        return cls(_STATUS_CODES_BY_NUMBER.get(number, grpc.StatusCode.UNKNOWN), details)
