"""InOrderResults: an ExplainStream's answers handed out in the order of the requests.

The server answers a stream's requests in any order. explain_many numbers its
requests 0, 1, 2, ... (request_id) and hands each answer out once every one
before it has been: a successful answer as an Explanation, a failed one by
raising its CamserveError. An input that could not be read or encoded stops
the requests there (fail_input) and raises its own exception at its turn.

Thread-safety: one consumer thread calls add, ready and finish; note_sent and
fail_input may come from another (the sync client's request iterator).
"""
from __future__ import annotations

import threading
from collections.abc import Iterator

import grpc

from camserve._proto_conversion import explanation_from_response, stream_error
from camserve.errors import CamserveError
from camserve.explanation import Explanation
from camserve.v1 import explainer_pb2


class InOrderResults:
    def __init__(self) -> None:
        self._waiting: dict[int, explainer_pb2.ExplainResponse] = {}
        self._delivered = 0
        self._lock = threading.Lock()
        self._sent = 0  # guarded by _lock
        self._input_failure: Exception | None = None  # guarded by _lock

    @property
    def delivered(self) -> int:
        """How many answers have been handed out (or raised)."""
        return self._delivered

    @property
    def sent(self) -> int:
        """How many requests have been sent."""
        with self._lock:
            return self._sent

    def note_sent(self) -> str:
        """Counts one more request; returns its request_id."""
        with self._lock:
            self._sent += 1
            return str(self._sent - 1)

    def fail_input(self, error: Exception) -> None:
        """The next input could not be turned into a request; no more are sent."""
        with self._lock:
            self._input_failure = error

    def add(self, response: explainer_pb2.ExplainResponse) -> None:
        try:
            index = int(response.request_id)
        except ValueError:
            raise CamserveError(grpc.StatusCode.INTERNAL,
                                f"an answer for request_id {response.request_id!r}, which was never sent") from None
        self._waiting[index] = response

    def ready(self) -> Iterator[Explanation]:
        """The answers whose turn has come, in order; raises at a failed one."""
        while self._delivered in self._waiting:
            response = self._waiting.pop(self._delivered)
            self._delivered += 1
            error = stream_error(response)
            if error is not None:
                raise error
            yield explanation_from_response(response)

    def finish(self) -> None:
        """The stream has ended: raises the input failure whose turn has come, or the loss of answers."""
        with self._lock:
            sent, input_failure = self._sent, self._input_failure
        if self._delivered < sent:
            raise CamserveError(grpc.StatusCode.INTERNAL,
                                f"the stream ended with {sent - self._delivered} of {sent} requests unanswered")
        if input_failure is not None:
            raise input_failure
