// DecodeImage: turns the bytes of an untrusted JPEG or PNG upload into 8-bit
// RGB pixels, the same pixels that Python's
//   ImageOps.exif_transpose(Image.open(f)).convert("RGB")
// gives with Debian's Pillow, so that heatmaps match the Python reference.
//
// Thread-safety: free functions without shared state; call them from any
// number of threads at once.
//
// Errors: every problem with the input is INVALID_ARGUMENT with a message
// that says what is wrong: empty input, a format other than JPEG/PNG (the
// message shows the first bytes), dimensions over DecodeOptions' limits (the
// message names the limit and the value; also too many JPEG scans for the
// size), truncated or corrupt data (the
// message includes libjpeg's or libpng's own text). Hostile input never
// crashes the process or reads outside `encoded`; dimensions are checked
// before any pixel buffer is allocated.
//
// Cost: one pass of libjpeg-turbo or libpng/zlib over the data, plus one
// copy when an EXIF orientation other than 1 has to be applied. Peak memory
// is about 3 bytes per pixel (4 for CMYK JPEGs), twice that when rotating.
//
// Conversions, and where they differ from Pillow:
// - JPEG: decoded with TurboJPEG's defaults (accurate integer IDCT, fancy
//   upsampling) like Pillow's libjpeg. Grayscale becomes R=G=B. CMYK and YCCK
//   JPEGs are decoded to CMYK, treated as Adobe-inverted like Pillow does, and
//   converted with Pillow's formula (R = (255-K) - (C*(255-K))/255, rounded).
//   libjpeg warnings are errors: a truncated file ("Premature end of JPEG
//   file") or corrupt entropy-coded data ("Corrupt JPEG data: ...") is
//   INVALID_ARGUMENT, where Pillow would silently decode the remains of some
//   of them. Progressive JPEGs with more than 500 scans are rejected
//   (TJFLAG_LIMITSCANS), a known denial-of-service pattern, and so are JPEGs
//   whose scans times pixels exceed max_jpeg_scan_pixels, counted from the
//   header before decoding: every scan passes over the whole image, so 500
//   scans of a large image cost hundreds of times a normal decode.
// - PNG: every color type and bit depth, palettes with tRNS and interlacing.
//   Alpha is dropped, not blended (as Pillow's convert("RGB")); 1/2/4-bit
//   gray is scaled to 0..255. 16-bit samples keep their high byte, which is
//   what Pillow does for 16-bit RGB(A) and gray+alpha. Deviation: for 16-bit
//   grayscale Pillow clips each sample to 255 (mode "I" -> "RGB"), which
//   turns nearly every real image white; we take the high byte there too.
//   gAMA/iCCP are ignored, as Pillow does.
// - Orientation: the EXIF Orientation tag (0x0112 in IFD0, either byte order)
//   from a JPEG's first APP1 "Exif" segment or a PNG's eXIf chunk (if it
//   precedes IDAT) is applied like ImageOps.exif_transpose, so width and
//   height swap for orientations 5..8. Malformed EXIF counts as orientation 1
//   and is never an error. Orientation stored only in XMP is ignored.
#pragma once

#include <cstdint>
#include <string_view>
#include <vector>

#include "core/util/status.h"

namespace camserve {

// Decoded pixels: row-major, height rows of width pixels, 3 bytes (R, G, B)
// per pixel, no padding; rgb.size() == width * height * 3.
struct DecodedImage {
  int width = 0;
  int height = 0;
  std::vector<uint8_t> rgb;
};

struct DecodeOptions {
  // Largest accepted width * height. Bounds the memory a request can make
  // the server allocate (~3 bytes per pixel).
  // Must be >= 1. Default: 64 Mi pixels (192 MiB of RGB).
  int64_t max_pixels = 64 * 1024 * 1024;

  // Largest accepted width and height, each in pixels. Must be >= 1.
  // Default: 16384.
  int max_side_px = 16384;

  // Largest accepted number of scans times width * height of a JPEG. Bounds
  // the CPU a small progressive file can cost: 452 scans of an 8192x8192
  // image, 1.5 MB, took 13 s to decode (docs/fuzzing.md). Must be >= 1.
  // Default: 1 Gi, 16 scans at the default max_pixels (libjpeg's
  // progressive default has 10) and up to the 500 that TurboJPEG allows at 2
  // Mi pixels or less.
  int64_t max_jpeg_scan_pixels = int64_t{1} << 30;
};

enum class ImageFormat { kUnknown, kJpeg, kPng };

// What the header says, before any pixel is decoded.
struct ImageHeader {
  ImageFormat format = ImageFormat::kUnknown;
  // The size DecodeImage returns: after the EXIF orientation, so width and
  // height are swapped for orientations 5..8.
  int width = 0;
  int height = 0;
};

// Identifies the format from its magic bytes (JPEG: FF D8 FF; PNG: the
// 8-byte PNG signature). Looks at no more than the first 8 bytes.
ImageFormat DetectImageFormat(std::string_view encoded);

// Reads a JPEG's or PNG's header and checks its size against `options`,
// allocating nothing in proportion to the image: what admission control
// needs to know before decoding. Errors: as DecodeImage's for the header
// (empty input, another format, a damaged header, dimensions over the
// limits); an image whose header passes may still fail to decode.
// Cost: the bytes up to the frame header (JPEG) or the first IDAT (PNG),
// and for a JPEG one memchr pass over the rest to count its scans.
StatusOr<ImageHeader> ReadImageHeader(std::string_view encoded, const DecodeOptions& options = {});

// Decodes a JPEG or PNG, applies its EXIF orientation and returns RGB.
// Errors: INVALID_ARGUMENT as described above, also for options whose limits
// are < 1.
StatusOr<DecodedImage> DecodeImage(std::string_view encoded, const DecodeOptions& options = {});

}  // namespace camserve
