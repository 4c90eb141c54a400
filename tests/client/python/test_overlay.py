"""overlay() and jet_colormap(): pictures of a heatmap the server returned."""
from __future__ import annotations

import unittest
from pathlib import Path

import numpy
from PIL import Image

import camserve
from server_process import digits_server, held_out_digits


class OverlayTest(unittest.TestCase):
    image_path: Path
    explanation: camserve.Explanation
    feature: camserve.Explanation

    @classmethod
    def setUpClass(cls) -> None:
        cls.image_path = held_out_digits(1)[0]
        with camserve.Client(digits_server().address, timeout=60) as client:
            cls.explanation = client.explain(cls.image_path)
            cls.feature = client.explain(cls.image_path, resolution="feature")

    def test_an_overlay_is_an_rgb_pil_image_of_the_inputs_size(self) -> None:
        picture = camserve.overlay(self.image_path, self.explanation)
        self.assertIsInstance(picture, Image.Image)
        self.assertEqual((picture.mode, picture.size), ("RGB", (32, 32)))

    def test_a_heatmap_of_another_size_is_resized_to_the_image(self) -> None:
        image = numpy.full((48, 64, 3), 200, numpy.uint8)
        for heatmap in (self.explanation.heatmap, self.feature.heatmap):
            with self.subTest(heatmap.shape):
                self.assertEqual(camserve.overlay(image, heatmap).size, (64, 48))

    def test_alpha_weighs_the_image_against_the_coloured_heatmap(self) -> None:
        with Image.open(self.image_path) as opened:
            image = numpy.asarray(opened.convert("RGB"))
        only_image = numpy.asarray(camserve.overlay(self.image_path, self.explanation, alpha=0.0))
        only_heatmap = numpy.asarray(camserve.overlay(self.image_path, self.explanation.heatmap, alpha=1.0))
        half = numpy.asarray(camserve.overlay(self.image_path, self.explanation.heatmap)).astype(int)
        numpy.testing.assert_array_equal(only_image, image)
        numpy.testing.assert_array_equal(only_heatmap, camserve.jet_colormap(self.explanation.heatmap))
        expected_half = (image.astype(int) + camserve.jet_colormap(self.explanation.heatmap).astype(int)) / 2
        self.assertLessEqual(numpy.abs(half - expected_half).max(), 1)

    def test_jet_runs_from_dark_blue_to_dark_red(self) -> None:
        colours = camserve.jet_colormap(numpy.array([[0.0, 0.5, 1.0]]))
        self.assertEqual(colours.shape, (1, 3, 3))
        self.assertEqual(colours.dtype, numpy.uint8)
        self.assertEqual(colours[0].tolist(), [[0, 0, 128], [128, 255, 128], [128, 0, 0]])

    def test_a_bad_heatmap_or_alpha_is_refused(self) -> None:
        with self.assertRaises(ValueError):
            camserve.overlay(self.image_path, numpy.zeros(5))
        with self.assertRaises(ValueError):
            camserve.overlay(self.image_path, self.explanation, alpha=1.5)


if __name__ == "__main__":
    unittest.main()
