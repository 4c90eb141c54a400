"""AsyncClient (grpc.aio) against the real server: the same answers as Client."""
from __future__ import annotations

import unittest
from collections.abc import AsyncIterator
from pathlib import Path

import grpc
import numpy

import camserve
from server_process import digits_server, held_out_digits

DEADLINE_S = 60.0
HEATMAP_TOLERANCE = 1e-6


class AsyncClientTest(unittest.IsolatedAsyncioTestCase):
    address: str
    digits: list[Path]
    expected: list[camserve.Explanation]
    expected_feature: camserve.Explanation
    expected_models: list[camserve.ModelInfo]
    client: camserve.AsyncClient

    @classmethod
    def setUpClass(cls) -> None:
        cls.address = digits_server().address
        cls.digits = held_out_digits(6)
        with camserve.Client(cls.address, timeout=DEADLINE_S) as client:
            cls.expected = [client.explain(digit) for digit in cls.digits]
            cls.expected_feature = client.explain(cls.digits[0], resolution="feature", method="layercam")
            cls.expected_models = client.model_info()

    async def asyncSetUp(self) -> None:
        self.client = camserve.AsyncClient(self.address, timeout=DEADLINE_S)

    async def asyncTearDown(self) -> None:
        await self.client.close()

    def assert_explains(self, explanation: camserve.Explanation, expected: camserve.Explanation) -> None:
        self.assertEqual(explanation.target_class, expected.target_class)
        self.assertEqual(explanation.top_k[0].class_index, expected.top_k[0].class_index)
        self.assertEqual(explanation.heatmap.shape, expected.heatmap.shape)
        numpy.testing.assert_allclose(explanation.heatmap, expected.heatmap, rtol=0, atol=HEATMAP_TOLERANCE)

    async def test_explain_equals_the_sync_clients(self) -> None:
        self.assert_explains(await self.client.explain(self.digits[0]), self.expected[0])
        self.assert_explains(await self.client.explain(self.digits[0].read_bytes(), resolution="feature",
                                                       method="layercam"), self.expected_feature)

    async def test_explain_many_yields_in_input_order_within_max_in_flight(self) -> None:
        read = 0

        async def images() -> AsyncIterator[camserve.ImageInput]:
            nonlocal read
            for digit in self.digits:
                read += 1
                yield digit

        results: list[camserve.Explanation] = []
        async for explanation in self.client.explain_many(images(), max_in_flight=2):
            self.assertLessEqual(read, len(results) + 2)
            results.append(explanation)
        self.assertEqual([result.request_id for result in results], [str(index) for index in range(6)])
        for result, expected in zip(results, self.expected):
            self.assert_explains(result, expected)

    async def test_explain_many_takes_a_plain_iterable(self) -> None:
        results = [explanation async for explanation in self.client.explain_many(self.digits, max_in_flight=3)]
        self.assertEqual(len(results), 6)
        for result, expected in zip(results, self.expected):
            self.assert_explains(result, expected)

    async def test_a_failed_stream_image_raises_after_the_images_before_it(self) -> None:
        results: list[camserve.Explanation] = []
        with self.assertRaises(camserve.CamserveError) as raised:
            async for explanation in self.client.explain_many([self.digits[0], b"not an image", self.digits[1]]):
                results.append(explanation)
        self.assertEqual(raised.exception.code, grpc.StatusCode.INVALID_ARGUMENT)
        self.assertEqual(len(results), 1)

    async def test_model_info_equals_the_sync_clients(self) -> None:
        # prepared_layers grows as other tests use other layers; the rest is fixed.
        def fixed_part(models: list[camserve.ModelInfo]) -> list[tuple[object, ...]]:
            return [(model.name, model.version, model.num_classes, model.target_layers, model.methods)
                    for model in models]

        self.assertEqual(fixed_part(await self.client.model_info()), fixed_part(self.expected_models))

    async def test_errors_carry_the_grpc_code(self) -> None:
        with self.assertRaises(camserve.CamserveError) as raised:
            await self.client.explain(self.digits[0], model="no-such-model")
        self.assertEqual(raised.exception.code, grpc.StatusCode.NOT_FOUND)
        with self.assertRaises(camserve.CamserveError) as raised:
            await self.client.explain(b"not an image")
        self.assertEqual(raised.exception.code, grpc.StatusCode.INVALID_ARGUMENT)


if __name__ == "__main__":
    unittest.main()
