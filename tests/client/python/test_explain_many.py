"""Client.explain_many over ExplainStream: input order, the in-flight bound, failures."""
from __future__ import annotations

import unittest
from collections.abc import Iterator, Sequence
from pathlib import Path

import grpc
import numpy

import camserve
from server_process import digits_server, held_out_digits

DEADLINE_S = 60.0
HEATMAP_TOLERANCE = 1e-6


class CountingImages:
    """An iterable of images that counts how many have been read from it."""

    def __init__(self, images: Sequence[camserve.ImageInput]) -> None:
        self.images = images
        self.read = 0

    def __iter__(self) -> Iterator[camserve.ImageInput]:
        for image in self.images:
            self.read += 1
            yield image


class ExplainManyTest(unittest.TestCase):
    client: camserve.Client
    digits: list[Path]
    expected: list[camserve.Explanation]

    @classmethod
    def setUpClass(cls) -> None:
        cls.client = camserve.Client(digits_server().address, timeout=DEADLINE_S)
        cls.digits = held_out_digits(6)
        cls.expected = [cls.client.explain(digit) for digit in cls.digits]

    @classmethod
    def tearDownClass(cls) -> None:
        cls.client.close()

    def assert_explains(self, explanation: camserve.Explanation, expected: camserve.Explanation) -> None:
        self.assertEqual(explanation.target_class, expected.target_class)
        self.assertEqual([score.class_index for score in explanation.top_k],
                         [score.class_index for score in expected.top_k])
        numpy.testing.assert_allclose(explanation.heatmap, expected.heatmap, rtol=0, atol=HEATMAP_TOLERANCE)

    def test_six_images_two_in_flight_equal_explain_in_input_order(self) -> None:
        images = CountingImages(list(self.digits))
        results: list[camserve.Explanation] = []
        for index, explanation in enumerate(self.client.explain_many(images, max_in_flight=2)):
            # Held now: this result; sent and unyielded at most 2, this one included.
            self.assertLessEqual(images.read, index + 2)
            results.append(explanation)
        self.assertEqual(len(results), 6)
        self.assertEqual([result.request_id for result in results], [str(index) for index in range(6)])
        for result, expected in zip(results, self.expected):
            self.assert_explains(result, expected)

    def test_one_in_flight_reads_one_image_at_a_time(self) -> None:
        images = CountingImages(list(self.digits))
        for index, explanation in enumerate(self.client.explain_many(images, max_in_flight=1)):
            self.assertEqual(images.read, index + 1)
            self.assert_explains(explanation, self.expected[index])

    def test_many_in_flight_give_the_same_results(self) -> None:
        results = list(self.client.explain_many(self.digits * 3, max_in_flight=8, resolution="original"))
        self.assertEqual(len(results), 18)
        for result, expected in zip(results, self.expected * 3):
            self.assert_explains(result, expected)

    def test_the_options_apply_to_every_image(self) -> None:
        results = list(self.client.explain_many(self.digits[:3], target_class=3, top_k=2, evaluate=True))
        self.assertEqual([result.target_class for result in results], [3, 3, 3])
        self.assertEqual([len(result.top_k) for result in results], [2, 2, 2])
        self.assertTrue(all(result.quality is not None and result.quality.steps == 16 for result in results))

    def test_a_failed_image_raises_its_error_after_the_images_before_it(self) -> None:
        images: list[camserve.ImageInput] = [self.digits[0], self.digits[1], b"not an image", self.digits[2]]
        results: list[camserve.Explanation] = []
        with self.assertRaises(camserve.CamserveError) as raised:
            for explanation in self.client.explain_many(images, max_in_flight=4):
                results.append(explanation)
        self.assertEqual(raised.exception.code, grpc.StatusCode.INVALID_ARGUMENT)
        self.assertEqual(len(results), 2)
        self.assert_explains(results[1], self.expected[1])

    def test_an_unknown_model_fails_the_first_image_with_not_found(self) -> None:
        with self.assertRaises(camserve.CamserveError) as raised:
            list(self.client.explain_many(self.digits, model="no-such-model"))
        self.assertEqual(raised.exception.code, grpc.StatusCode.NOT_FOUND)

    def test_an_unreadable_input_raises_at_its_turn(self) -> None:
        results: list[camserve.Explanation] = []
        with self.assertRaises(FileNotFoundError):
            for explanation in self.client.explain_many([self.digits[0], "/no/such/image.png", self.digits[1]]):
                results.append(explanation)
        self.assertEqual(len(results), 1)

    def test_leaving_early_cancels_the_stream_and_the_client_goes_on(self) -> None:
        images = CountingImages(list(self.digits) * 10)
        for _ in self.client.explain_many(images, max_in_flight=2):
            break
        self.assertLessEqual(images.read, 2)
        self.assert_explains(self.client.explain(self.digits[0]), self.expected[0])

    def test_no_images_yield_nothing(self) -> None:
        self.assertEqual(list(self.client.explain_many([])), [])

    def test_max_in_flight_below_one_is_refused(self) -> None:
        with self.assertRaises(ValueError):
            self.client.explain_many(self.digits, max_in_flight=0)


if __name__ == "__main__":
    unittest.main()
