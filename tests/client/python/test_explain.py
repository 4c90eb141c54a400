"""Client.explain, model_info and their errors against the real server (digits model)."""
from __future__ import annotations

import unittest
from pathlib import Path
from typing import Any, cast

import grpc
import numpy
import numpy.typing
from PIL import Image

import camserve
from camserve.image_input import encode_image
from camserve.v1 import explainer_pb2, explainer_pb2_grpc
from server_process import digits_server, held_out_digits

DEADLINE_S = 60.0
# A batched forward pass may differ from a lone one in the last bits.
HEATMAP_TOLERANCE = 1e-6


def raw_explain(address: str, image: bytes, **fields: Any) -> explainer_pb2.ExplainResponse:
    """The Explain RPC through the generated stubs alone."""
    with grpc.insecure_channel(address) as channel:
        request = explainer_pb2.ExplainRequest(image=image, encoding=explainer_pb2.HEATMAP_ENCODING_FLOAT32, **fields)
        return explainer_pb2_grpc.ExplainerStub(channel).Explain(request, timeout=DEADLINE_S)


def heatmap_of(response: explainer_pb2.ExplainResponse) -> numpy.typing.NDArray[numpy.float32]:
    return numpy.frombuffer(response.heatmap.data, "<f4").reshape(response.heatmap.height, response.heatmap.width)


class ExplainTest(unittest.TestCase):
    address: str
    client: camserve.Client
    image_path: Path
    image_bytes: bytes

    @classmethod
    def setUpClass(cls) -> None:
        cls.address = digits_server().address
        cls.client = camserve.Client(cls.address, timeout=DEADLINE_S)
        cls.image_path = held_out_digits(1)[0]
        cls.image_bytes = cls.image_path.read_bytes()

    @classmethod
    def tearDownClass(cls) -> None:
        cls.client.close()

    def assert_same_heatmap(self, actual: numpy.typing.NDArray[numpy.float32],
                            expected: numpy.typing.NDArray[numpy.float32]) -> None:
        self.assertEqual(actual.shape, expected.shape)
        numpy.testing.assert_allclose(actual, expected, rtol=0, atol=HEATMAP_TOLERANCE)

    def test_the_heatmap_at_input_resolution_is_the_raw_stubs_32x32_float32(self) -> None:
        explanation = self.client.explain(self.image_path)
        raw = raw_explain(self.address, self.image_bytes)

        self.assertEqual(explanation.heatmap.shape, (32, 32))
        self.assertEqual(explanation.heatmap.dtype, numpy.float32)
        self.assertGreaterEqual(explanation.heatmap.min(), 0.0)
        self.assertLessEqual(explanation.heatmap.max(), 1.0)
        self.assert_same_heatmap(explanation.heatmap, heatmap_of(raw))
        self.assertEqual(explanation.target_class, raw.target_class)
        self.assertEqual(explanation.target_label, raw.target_label)
        self.assertAlmostEqual(explanation.target_probability, raw.target_probability, places=5)
        self.assertEqual([(score.class_index, score.label) for score in explanation.top_k],
                         [(score.class_index, score.label) for score in raw.top_k])
        self.assertEqual((explanation.model, explanation.model_version), (raw.model, raw.model_version))
        self.assertEqual(explanation.request_id, "")
        self.assertFalse(explanation.cache_hit)
        self.assertGreaterEqual(explanation.batch_size, 1)
        self.assertGreater(explanation.timings.total_us, 0)
        self.assertIsNone(explanation.quality)

    def test_the_prediction_is_explained_with_the_servers_five_top_classes(self) -> None:
        explanation = self.client.explain(self.image_path)
        self.assertEqual(len(explanation.top_k), 5)
        top = explanation.top_k[0]
        self.assertEqual((explanation.target_class, explanation.target_label), (top.class_index, top.label))
        self.assertAlmostEqual(explanation.target_probability, top.probability, places=6)
        probabilities = [score.probability for score in explanation.top_k]
        self.assertEqual(probabilities, sorted(probabilities, reverse=True))

    def test_a_requested_class_and_top_k_are_those_of_the_raw_request(self) -> None:
        explanation = self.client.explain(self.image_path, target_class=3, top_k=3, method="gradcam++",
                                          layer="block2")
        raw = raw_explain(self.address, self.image_bytes, target_class=3, top_k=3, method="gradcam++",
                          target_layer="block2")
        self.assertEqual(explanation.target_class, 3)
        self.assertEqual(explanation.target_label, "3")
        self.assertEqual(len(explanation.top_k), 3)
        self.assertEqual([score.class_index for score in explanation.top_k], [score.class_index for score in raw.top_k])
        self.assert_same_heatmap(explanation.heatmap, heatmap_of(raw))

    def test_bytes_a_pil_image_and_an_array_explain_like_the_file(self) -> None:
        expected = self.client.explain(self.image_path)
        with Image.open(self.image_path) as opened:
            pil_image = opened.convert("RGB")
        for image in (self.image_bytes, pil_image, numpy.asarray(pil_image), numpy.asarray(pil_image)[:, :, 0]):
            with self.subTest(type(image).__name__):
                explanation = self.client.explain(image)
                self.assertEqual(explanation.target_class, expected.target_class)
                self.assert_same_heatmap(explanation.heatmap, expected.heatmap)

    def test_the_resolution_sets_the_heatmaps_size(self) -> None:
        image = numpy.zeros((48, 64, 3), numpy.uint8)
        image[10:30, 20:40] = 255
        self.assertEqual(self.client.explain(image, resolution="original").heatmap.shape, (48, 64))
        self.assertEqual(self.client.explain(image, resolution="input").heatmap.shape, (32, 32))
        feature = self.client.explain(image, resolution="feature")
        raw = raw_explain(self.address, encode_image(image),
                          resolution=explainer_pb2.HEATMAP_RESOLUTION_FEATURE)
        self.assertEqual(feature.heatmap.shape, (raw.heatmap.height, raw.heatmap.width))
        self.assertTrue(feature.heatmap.shape[0] < 32 and feature.heatmap.shape[1] < 32, feature.heatmap.shape)

    def test_evaluate_gives_the_quality_scores_of_16_steps(self) -> None:
        explanation = self.client.explain(self.image_path, evaluate=True)
        raw = raw_explain(self.address, self.image_bytes, evaluate=True)
        quality = explanation.quality
        self.assertIsNotNone(quality)
        assert quality is not None
        self.assertEqual(quality.steps, 16)
        self.assertEqual(len(quality.deletion_curve), 17)
        self.assertEqual(len(quality.insertion_curve), 17)
        self.assertAlmostEqual(quality.deletion_auc, raw.quality.deletion_auc, places=5)
        self.assertAlmostEqual(quality.insertion_auc, raw.quality.insertion_auc, places=5)
        self.assertAlmostEqual(quality.target_probability, explanation.target_probability, places=5)
        self.assertGreater(explanation.timings.evaluate_us, 0)

    def test_model_info_lists_digits_cnn_with_10_classes(self) -> None:
        models = self.client.model_info()
        self.assertEqual([model.name for model in models], ["digits_cnn"])
        digits = models[0]
        self.assertEqual(digits.num_classes, 10)
        self.assertEqual((digits.input_height, digits.input_width), (32, 32))
        self.assertEqual(digits.default_layer, "block3")
        self.assertIn("block3", digits.target_layers)
        self.assertIn("gradcam", digits.methods)
        self.assertTrue(digits.is_default)
        self.assertTrue(digits.version.startswith("sha256:"))
        self.assertIn("block3", [prepared.layer for prepared in digits.prepared_layers])
        self.assertEqual(self.client.model_info("digits_cnn")[0].name, "digits_cnn")

    def test_an_unknown_model_is_not_found(self) -> None:
        for call in (lambda: self.client.explain(self.image_path, model="no-such-model"),
                     lambda: self.client.model_info("no-such-model")):
            with self.assertRaises(camserve.CamserveError) as raised:
                call()
            self.assertEqual(raised.exception.code, grpc.StatusCode.NOT_FOUND)
            self.assertIn("no-such-model", raised.exception.details)
            self.assertTrue(str(raised.exception).startswith("NOT_FOUND: "))

    def test_bad_image_bytes_are_an_invalid_argument(self) -> None:
        with self.assertRaises(camserve.CamserveError) as raised:
            self.client.explain(b"not an image at all")
        self.assertEqual(raised.exception.code, grpc.StatusCode.INVALID_ARGUMENT)
        self.assertIn("not a JPEG or PNG image", raised.exception.details)

    def test_an_unknown_method_is_an_invalid_argument_with_the_servers_message(self) -> None:
        with self.assertRaises(camserve.CamserveError) as raised:
            self.client.explain(self.image_path, method="no-such-method")
        with self.assertRaises(grpc.RpcError) as raw:
            raw_explain(self.address, self.image_bytes, method="no-such-method")
        self.assertEqual(raised.exception.code, grpc.StatusCode.INVALID_ARGUMENT)
        self.assertEqual(raised.exception.details, raw.exception.details())

    def test_bad_arguments_raise_before_anything_is_sent(self) -> None:
        with self.assertRaises(ValueError):
            self.client.explain(self.image_path, resolution=cast(Any, "huge"))
        with self.assertRaises(ValueError):
            self.client.explain(self.image_path, top_k=-1)
        with self.assertRaises(ValueError):
            self.client.explain(numpy.zeros((8, 8, 3), numpy.float32))
        with self.assertRaises(TypeError):
            self.client.explain(cast(Any, 42))
        with self.assertRaises(FileNotFoundError):
            self.client.explain("/no/such/image.png")

    def test_no_server_is_unavailable(self) -> None:
        with camserve.Client("127.0.0.1:1", timeout=10) as client:
            with self.assertRaises(camserve.CamserveError) as raised:
                client.explain(self.image_bytes)
        self.assertEqual(raised.exception.code, grpc.StatusCode.UNAVAILABLE)


if __name__ == "__main__":
    unittest.main()
