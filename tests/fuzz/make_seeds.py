#!/usr/bin/python3
"""Writes the seed inputs of the fuzz targets into tests/fuzz/corpus/<target>/
(seed_*.bin and seed_*.jpg/.png files; the fuzzers' minimized finds and crash
reproducers live next to them). Deterministic; needs Debian's python3-pil,
python3-protobuf and protoc. Run with /usr/bin/python3 from anywhere:
  tests/fuzz/make_seeds.py
"""

import io
import os
import struct
import subprocess
import sys
import tempfile

from PIL import Image

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))


def write(target, name, data):
    path = os.path.join(HERE, "corpus", target, name)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(data)
    assert len(data) < 4096, (name, len(data))


def gradient(mode, width=16, height=12):
    image = Image.new("RGB", (width, height))
    image.putdata([(x * 16, y * 20, (x * y) % 256) for y in range(height) for x in range(width)])
    return image.convert(mode)


def encoded(image, fmt, **kwargs):
    out = io.BytesIO()
    image.save(out, fmt, **kwargs)
    return out.getvalue()


def exif_orientation(value):
    # TIFF little-endian, IFD0 with one SHORT entry: Orientation.
    return b"II*\x00" + struct.pack("<IHHHIHH", 8, 1, 0x0112, 3, 1, value, 0) + b"\x00\x00\x00\x00"


def image_seeds():
    rgb = gradient("RGB")
    write("image_decoder", "seed_baseline.jpg", encoded(rgb, "JPEG", quality=80))
    write("image_decoder", "seed_progressive.jpg", encoded(rgb, "JPEG", quality=80, progressive=True))
    write("image_decoder", "seed_gray.jpg", encoded(gradient("L"), "JPEG"))
    write("image_decoder", "seed_cmyk.jpg", encoded(gradient("CMYK"), "JPEG"))
    write("image_decoder", "seed_exif6.jpg", encoded(rgb, "JPEG", exif=b"Exif\x00\x00" + exif_orientation(6)))
    write("image_decoder", "seed_rgb.png", encoded(rgb, "PNG"))
    write("image_decoder", "seed_rgba.png", encoded(gradient("RGBA"), "PNG"))
    write("image_decoder", "seed_gray.png", encoded(gradient("L"), "PNG"))
    write("image_decoder", "seed_gray_16bit.png", encoded(gradient("L").convert("I;16"), "PNG"))
    write("image_decoder", "seed_palette_trns.png", encoded(rgb.quantize(8), "PNG", transparency=0))
    write("image_decoder", "seed_gray_1bit.png", encoded(gradient("1"), "PNG"))
    write("image_decoder", "seed_exif8.png", encoded(rgb, "PNG", exif=exif_orientation(8)))


def u32(value):
    return struct.pack("<I", value & 0xFFFFFFFF)


def text(value):
    return u32(len(value)) + value


def score(index, label, probability):
    return u32(index) + text(label) + struct.pack("<f", probability)


def cache_seeds():
    # Bodies without their checksum: the target appends a valid one.
    body = b"CSH3" + u32(4) + u32(3) + u32(1) + text(bytes(range(12)))
    body += score(7, b"seven", 0.9) + u32(2) + score(7, b"seven", 0.9) + score(1, b"one", 0.05) + u32(0)
    write("cached_explanation", "seed_uint8_top2.bin", body)
    write("cached_explanation", "seed_empty_data.bin",
          b"CSH3" + u32(0) + u32(0) + u32(0) + text(b"") + score(0, b"", 0.0) + u32(0) + u32(0))
    curve = u32(3) + struct.pack("<3f", 0.9, 0.5, 0.1)
    quality = u32(1) + struct.pack("<6f", 0.9, 0.7, -0.2, 0.22, 0.4, 0.6) + u32(0) + u32(2) + curve + curve
    write("cached_explanation", "seed_quality.bin", body[:-4] + quality)
    write("cached_explanation", "seed_truncated.bin", body[:30])
    write("cached_explanation", "seed_huge_count.bin",
          body[:-len(score(1, b"one", 0.05)) * 2 - 8] + u32(0xFFFFFFFF))


def config_seeds():
    with open(os.path.join(ROOT, "config", "camserve.yaml"), "rb") as f:
        write("server_config", "seed_template.yaml", f.read())
    write("server_config", "seed_models.yaml",
          b"models:\n  - name: a\n    path: /m/a.pt\n  - path: /m/b.pt\ndefault_model: a\n"
          b"batcher: {max_batch_size: 8, preferred_batch_sizes: [2, 4, 8]}\n")
    write("server_config", "seed_bad_value.yaml", b"limits:\n  max_image_pixels: -3\nlogging: {format: xml}\n")
    write("server_config", "seed_unknown_key.yaml", b"cache:\n  dirr: x\n")
    write("server_config", "seed_anchors.yaml", b"a: &x {dir: c}\ncache: *x\nlisten: [1, 2]\n")
    write("server_config", "seed_not_a_map.yaml", b"- 1\n- [2, {3: 4}]\n")


def request_seeds():
    with tempfile.TemporaryDirectory() as out:
        subprocess.run(["protoc", "-I", os.path.join(ROOT, "proto"), "--python_out", out,
                        "camserve/v1/explainer.proto"], check=True)
        sys.path.insert(0, out)
        from camserve.v1 import explainer_pb2 as pb

    png = encoded(gradient("RGB", 8, 8), "PNG")
    requests = {
        "seed_image.bin": pb.ExplainRequest(request_id="r1", image=png, method="gradcam++", top_k=3,
                                            encoding=pb.HEATMAP_ENCODING_PNG_OVERLAY),
        "seed_tensor.bin": pb.ExplainRequest(tensor=pb.Tensor(shape=[1, 3, 2, 2], data=b"\x00\x00\x80\x3f" * 12),
                                             target_class=3, resolution=pb.HEATMAP_RESOLUTION_ORIGINAL),
        "seed_tensor_overlay.bin": pb.ExplainRequest(tensor=pb.Tensor(shape=[3, 8, 8]),
                                                     encoding=pb.HEATMAP_ENCODING_PNG_OVERLAY),
        "seed_bad_method.bin": pb.ExplainRequest(image=b"\xff\xd8\xff", method="nope", top_k=-1, priority=7),
        "seed_unknown_enum.bin": pb.ExplainRequest(image=png, encoding=99),
        "seed_no_input.bin": pb.ExplainRequest(model="x" * 300),
    }
    for name, request in requests.items():
        write("explain_request", name, request.SerializeToString())


if __name__ == "__main__":
    image_seeds()
    cache_seeds()
    config_seeds()
    request_seeds()
