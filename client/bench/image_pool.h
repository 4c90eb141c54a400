// The images camserve-bench sends. In "repeated" mode every request carries
// the same bytes (the file as given), so the server's cache answers all but
// the first. In "unique" mode every request carries a different JPEG, so the
// cache misses: the base image is decoded once, then copy k gets the bits of
// k, followed by 24 bits of a salt, stamped into its top-left corner as
// black and white 8x8 cells (one JPEG block per bit, so that compression
// cannot merge two copies) and is JPEG-encoded. camserve-bench draws a new
// salt per run, so that a cache filled by an earlier run (camserve's cache
// can outlive a restart) does not answer this one. The pool is made before
// measuring, because encoding costs client CPU that would otherwise compete
// with the requests.
//
// Thread-safety: free functions; MakeUniqueJpegPool uses up to `threads`
// threads of its own and returns when they are done.
// Errors: INVALID_ARGUMENT for a count < 1, a quality outside [1, 100] or a
// base image with fewer 8x8 cells than StampBits(count) (35 for 2048
// images: 48x48 pixels will do); the encoder's errors otherwise.
// Cost: one EncodeJpeg per image, spread over the threads; the pool holds
// every JPEG in memory.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/image/image_decoder.h"
#include "core/util/status.h"

namespace camserve {

enum class ImageMode { kUnique, kRepeated };

struct UniquePoolOptions {
  // Number of distinct images. Must be >= 1. Default: 2048.
  int count = 2048;
  // JPEG quality of every image, 1..100. Default: 90.
  int jpeg_quality = 90;
  // Encoding threads; 0 means one per hardware thread. Default: 0.
  int threads = 0;
  // Stamped into every image after its index (the low 24 bits), so that
  // pools with different salts share no image. Default: 0.
  uint32_t salt = 0;
};

// The bits stamped into each of `count` images: ceil(log2(count)) (at least
// 1) for the index, plus 24 for the salt.
int StampBits(int count);

// Overwrites the top-left cells of `image` with the low `bits` bits of
// `value`, least significant first, left to right then top to bottom; a cell
// is 8x8 pixels, white for 1 and black for 0, clipped at the image's edge.
// REQUIRES: the image has at least `bits` cells (ceil(w/8) * ceil(h/8)).
void StampValue(uint64_t value, int bits, DecodedImage* image);

// `options.count` distinct JPEGs made from `base` as described above.
StatusOr<std::vector<std::string>> MakeUniqueJpegPool(const DecodedImage& base, const UniquePoolOptions& options);

// The images for `mode` from the bytes of a JPEG or PNG file: the file
// itself for kRepeated; MakeUniqueJpegPool of its pixels for kUnique.
// Errors: also INVALID_ARGUMENT when the file does not decode.
StatusOr<std::vector<std::string>> MakeRequestImages(const std::string& file_bytes, ImageMode mode,
                                                     const UniquePoolOptions& options);

}  // namespace camserve
