"""TLS and bearer tokens: a second server with a throwaway PKI, mutual TLS and a token file."""
from __future__ import annotations

import asyncio
import tempfile
import unittest
from pathlib import Path
from typing import Any

import grpc

import camserve
from server_process import USER_TOKEN, ServerProcess, held_out_digits, make_test_pki

DEADLINE_S = 60.0


class TlsAndTokenTest(unittest.TestCase):
    pki_dir: tempfile.TemporaryDirectory[str]
    pki: Path
    server: ServerProcess
    image: Path

    @classmethod
    def setUpClass(cls) -> None:
        cls.pki_dir = tempfile.TemporaryDirectory(prefix="camserve-pki-")
        cls.pki = Path(cls.pki_dir.name)
        make_test_pki(cls.pki)
        cls.server = ServerProcess("--tls-cert-file", str(cls.pki / "server.crt"),
                                   "--tls-key-file", str(cls.pki / "server.key"),
                                   "--tls-client-ca-file", str(cls.pki / "ca.crt"),
                                   "--auth-token-file", str(cls.pki / "tokens"))
        cls.image = held_out_digits(1)[0]

    @classmethod
    def tearDownClass(cls) -> None:
        cls.server.stop()
        cls.pki_dir.cleanup()

    def client(self, **connection: Any) -> camserve.Client:
        return camserve.Client(self.server.address, timeout=DEADLINE_S, **connection)

    def mutual_tls_files(self) -> dict[str, Path]:
        return {"ca": self.pki / "ca.crt", "cert": self.pki / "client.crt", "key": self.pki / "client.key"}

    def assert_refused(self, code: grpc.StatusCode, **connection: Any) -> camserve.CamserveError:
        with self.client(**connection) as client, self.assertRaises(camserve.CamserveError) as raised:
            client.explain(self.image)
        self.assertEqual(raised.exception.code, code, raised.exception)
        return raised.exception

    def test_files_and_the_token_are_served(self) -> None:
        with self.client(token=USER_TOKEN, **self.mutual_tls_files()) as client:
            self.assertEqual(client.explain(self.image).heatmap.shape, (32, 32))
            self.assertEqual(client.model_info()[0].name, "digits_cnn")
            self.assertEqual(len(list(client.explain_many([self.image] * 3, max_in_flight=2))), 3)

    def test_pem_contents_and_a_server_name_are_served(self) -> None:
        pems = {name: path.read_bytes() for name, path in self.mutual_tls_files().items()}
        with self.client(token=USER_TOKEN, server_name="localhost", **pems) as client:
            self.assertEqual(client.explain(self.image).heatmap.shape, (32, 32))

    def test_the_async_client_is_served_too(self) -> None:
        async def explain() -> camserve.Explanation:
            async with camserve.AsyncClient(self.server.address, token=USER_TOKEN, timeout=DEADLINE_S,
                                            ca=self.pki / "ca.crt", cert=self.pki / "client.crt",
                                            key=self.pki / "client.key") as client:
                return await client.explain(self.image)

        self.assertEqual(asyncio.run(explain()).heatmap.shape, (32, 32))

    def test_without_a_token_the_call_is_unauthenticated(self) -> None:
        error = self.assert_refused(grpc.StatusCode.UNAUTHENTICATED, **self.mutual_tls_files())
        self.assertIn("this server needs a token", error.details)

    def test_a_wrong_token_is_unauthenticated(self) -> None:
        self.assert_refused(grpc.StatusCode.UNAUTHENTICATED, token="wrong-token", **self.mutual_tls_files())

    def test_without_a_client_certificate_the_handshake_fails(self) -> None:
        self.assert_refused(grpc.StatusCode.UNAVAILABLE, token=USER_TOKEN, ca=self.pki / "ca.crt")

    def test_plaintext_is_refused(self) -> None:
        self.assert_refused(grpc.StatusCode.UNAVAILABLE, token=USER_TOKEN)

    def test_a_certificate_without_its_key_is_refused_at_once(self) -> None:
        with self.assertRaises(ValueError):
            self.client(ca=self.pki / "ca.crt", cert=self.pki / "client.crt")


if __name__ == "__main__":
    unittest.main()
