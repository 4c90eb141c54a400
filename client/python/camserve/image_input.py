"""The images camserve's calls accept, and how they are sent.

An ImageInput is one of
  - a path (str or os.PathLike): the file's bytes are sent as they are (the
    server decodes JPEG and PNG, EXIF orientation applied);
  - bytes, bytearray or memoryview: an encoded JPEG or PNG, sent as it is;
  - a PIL.Image.Image: sent as PNG (modes PNG cannot hold are made RGB first);
  - a numpy uint8 array of shape (H, W, 3) (RGB), (H, W, 4) (RGBA; the server
    drops the alpha) or (H, W) (grayscale): sent as PNG.
Anything else raises TypeError, an array of another dtype or shape
ValueError, an unreadable file OSError; none of them reaches the server.
"""
from __future__ import annotations

import io
import os
from typing import Any, Union

import numpy
import numpy.typing
from PIL import Image, ImageOps

ImageInput = Union[str, os.PathLike[str], bytes, bytearray, memoryview, Image.Image, numpy.typing.NDArray[numpy.uint8]]

_MODES_BY_CHANNELS = {1: "L", 3: "RGB", 4: "RGBA"}
# The modes Pillow writes as PNG; others (CMYK, YCbCr, F, ...) are converted to RGB.
_PNG_MODES = frozenset({"1", "L", "LA", "I", "I;16", "P", "RGB", "RGBA"})


def encode_image(image: ImageInput) -> bytes:
    """The bytes to send for IMAGE: a file's or the given bytes unchanged, an image or array as PNG."""
    if isinstance(image, (str, os.PathLike)):
        with open(image, "rb") as file:
            return file.read()
    if isinstance(image, (bytes, bytearray, memoryview)):
        return bytes(image)
    return _png_bytes(_pil_image(image))


def open_image(image: ImageInput) -> Image.Image:
    """IMAGE as an RGB PIL image, oriented as its EXIF tag says (as the server decodes it)."""
    if isinstance(image, (str, os.PathLike)):
        with Image.open(image) as opened:
            return ImageOps.exif_transpose(opened).convert("RGB")
    if isinstance(image, (bytes, bytearray, memoryview)):
        with Image.open(io.BytesIO(bytes(image))) as opened:
            return ImageOps.exif_transpose(opened).convert("RGB")
    return _pil_image(image).convert("RGB")


def _pil_image(image: Image.Image | numpy.typing.NDArray[Any]) -> Image.Image:
    if isinstance(image, Image.Image):
        return image
    if isinstance(image, numpy.ndarray):
        return _image_from_array(image)
    raise TypeError("an image is a path, JPEG/PNG bytes, a PIL image or a numpy uint8 array; "
                    f"got {type(image).__name__}")


def _image_from_array(array: numpy.typing.NDArray[Any]) -> Image.Image:
    channels = 1 if array.ndim == 2 else array.shape[2] if array.ndim == 3 else 0
    if array.dtype != numpy.uint8 or channels not in _MODES_BY_CHANNELS:
        raise ValueError("a numpy image is uint8 of shape (H, W), (H, W, 3) or (H, W, 4); "
                         f"got {array.dtype} {array.shape}")
    return Image.fromarray(numpy.ascontiguousarray(array), _MODES_BY_CHANNELS[channels])


def _png_bytes(image: Image.Image) -> bytes:
    if image.mode not in _PNG_MODES:
        image = image.convert("RGB")
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()
