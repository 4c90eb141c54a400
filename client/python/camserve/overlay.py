"""Heatmaps as pictures: a jet colormap, and the heatmap blended over its image.

overlay() resizes the heatmap to the image bilinearly (half-pixel centres, as
the server resizes for resolution="original"), colours it with jet and blends
it over the image, so a heatmap of any resolution lines up with the image it
explains. The jet here is the classic piecewise-linear one, close to but not
exactly OpenCV's table (which camserve-client and the server's PNG encodings
use).
"""
from __future__ import annotations

import numpy
import numpy.typing
from PIL import Image

from camserve.explanation import Explanation
from camserve.image_input import ImageInput, open_image


def jet_colormap(heatmap: numpy.typing.ArrayLike) -> numpy.typing.NDArray[numpy.uint8]:
    """The (H, W, 3) uint8 RGB jet colours of a (H, W) map with values in [0, 1] (clipped; NaN: 0)."""
    values = numpy.clip(numpy.nan_to_num(numpy.asarray(heatmap, dtype=numpy.float32)), 0.0, 1.0)[..., None]
    rgb = numpy.clip(1.5 - numpy.abs(4.0 * values - numpy.array([3.0, 2.0, 1.0])), 0.0, 1.0)
    colours: numpy.typing.NDArray[numpy.uint8] = numpy.rint(255.0 * rgb).astype(numpy.uint8)
    return colours


def overlay(image: ImageInput, heatmap: numpy.typing.ArrayLike | Explanation, alpha: float = 0.5) -> Image.Image:
    """The RGB image with the jet-coloured heatmap blended over it, at the image's size.

    image: any ImageInput (a path, JPEG/PNG bytes, a PIL image, a uint8
    array), oriented by its EXIF tag as the server does. heatmap: a (H, W)
    array in [0, 1] of any size, or an Explanation. alpha: the heatmap's
    weight, from 0 (the image alone) to 1 (the heatmap alone).
    """
    if not 0.0 <= alpha <= 1.0:
        raise ValueError(f"alpha must be in [0, 1]; was {alpha}")
    values = heatmap.heatmap if isinstance(heatmap, Explanation) else numpy.asarray(heatmap, dtype=numpy.float32)
    if values.ndim != 2 or values.size == 0:
        raise ValueError(f"a heatmap is a non-empty (H, W) array; got shape {values.shape}")
    base = open_image(image)
    resized = Image.fromarray(numpy.ascontiguousarray(values, dtype=numpy.float32), "F").resize(
        base.size, Image.BILINEAR)
    colored = Image.fromarray(jet_colormap(numpy.asarray(resized)), "RGB")
    return Image.blend(base, colored, alpha)
