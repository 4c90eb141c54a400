"""How Client and AsyncClient reach a server: address, credentials, token.

ConnectionSettings is made once from a client's arguments (files are read
then, so a missing certificate fails the constructor, not the first call) and
opens sync or grpc.aio channels alike.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Union

import grpc
import grpc.aio

# A PEM file's path, or its contents (bytes, or a str starting with "-----BEGIN").
Pem = Union[str, os.PathLike[str], bytes]

# The largest answer accepted: a FLOAT32 heatmap of a 12-megapixel photo at
# ORIGINAL resolution is 48 MiB. camserve-client's limit too.
MAX_RECEIVE_MESSAGE_BYTES = 256 << 20


@dataclass(frozen=True)
class ConnectionSettings:
    address: str
    #: None: plaintext.
    credentials: grpc.ChannelCredentials | None
    options: tuple[tuple[str, int | str], ...]
    #: Sent with every call: the bearer token, if any.
    metadata: tuple[tuple[str, str], ...]

    @classmethod
    def create(cls, address: str, *, tls: bool, ca: Pem | None, cert: Pem | None, key: Pem | None,
               server_name: str | None, token: str | None) -> ConnectionSettings:
        """TLS when `tls` or any of ca, cert, key, server_name is given; cert and key go together."""
        if (cert is None) != (key is None):
            raise ValueError("cert and key go together: give both for mutual TLS, or neither")
        options: list[tuple[str, int | str]] = [("grpc.max_receive_message_length", MAX_RECEIVE_MESSAGE_BYTES)]
        credentials = None
        if tls or ca is not None or cert is not None or server_name:
            credentials = grpc.ssl_channel_credentials(
                root_certificates=_pem_bytes(ca), private_key=_pem_bytes(key), certificate_chain=_pem_bytes(cert))
            if server_name:
                options.append(("grpc.ssl_target_name_override", server_name))
        metadata = (("authorization", f"Bearer {token}"),) if token else ()
        return cls(address, credentials, tuple(options), metadata)

    def open_channel(self) -> grpc.Channel:
        if self.credentials is None:
            return grpc.insecure_channel(self.address, options=self.options)
        return grpc.secure_channel(self.address, self.credentials, options=self.options)

    def open_aio_channel(self) -> grpc.aio.Channel:
        if self.credentials is None:
            return grpc.aio.insecure_channel(self.address, options=self.options)
        return grpc.aio.secure_channel(self.address, self.credentials, options=self.options)


def _pem_bytes(pem: Pem | None) -> bytes | None:
    if pem is None or isinstance(pem, bytes):
        return pem
    if isinstance(pem, str) and pem.lstrip().startswith("-----BEGIN"):
        return pem.encode()
    with open(pem, "rb") as file:
        return file.read()
