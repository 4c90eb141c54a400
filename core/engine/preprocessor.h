// Preprocessor: turns what a client sends (an encoded JPEG/PNG, or a raw
// float32 CHW tensor) into a PreparedInput for one model.
//
// Images: decoded to 8-bit RGB (see core/image/image_decoder.h: grayscale,
// RGBA, 16-bit PNG and EXIF orientation handled), then resized to the model's
// input size and normalised per channel, (x / 255 - mean) / std, by
// core/image/model_input_resize.h: bilinear with half-pixel centres,
// antialiased when either side shrinks, like torchvision's
// Resize(antialias=True) on PyTorch 1.13's CPU kernels (within 1e-5 of them
// after normalising).
// An image already at the input size is only normalised.
// Tensors: taken as already preprocessed; validated, not resized.
//
// Thread-safety: const methods, safe to call concurrently from any thread.
// Uses no LibTorch (it is built into camserve_preprocess, which does not link
// it), so calling it on gRPC threads neither starts LibTorch's intra-op
// thread pools nor touches their settings.
// Cost: decoding, plus one separable resampling pass over the decoded image
// (a few multiply-adds per source sample), on the calling thread only;
// docs/benchmarks.md ("Component costs") has timings.
// Errors: INVALID_ARGUMENT with a message for undecodable images, wrong tensor
// shapes, byte counts that do not match the shape, or non-finite values.
#pragma once

#include <array>
#include <cstdint>
#include <string_view>
#include <vector>

#include "core/engine/explain_types.h"
#include "core/image/image_decoder.h"
#include "core/model/model_sidecar.h"

namespace camserve {

struct TensorLimits {
  // Height and width accepted for raw tensors.
  int min_side_px = 8;
  int max_side_px = 4096;
};

class Preprocessor {
 public:
  Preprocessor(const ModelSidecar& sidecar, DecodeOptions decode_options, TensorLimits tensor_limits);

  StatusOr<PreparedInput> FromEncodedImage(std::string_view encoded) const;
  StatusOr<PreparedInput> FromDecodedImage(const DecodedImage& image) const;
  // `data` holds float32 values for `shape` ({3, H, W} or {1, 3, H, W}).
  StatusOr<PreparedInput> FromTensor(const std::vector<int64_t>& shape, std::vector<float> data) const;
  // As FromTensor, from little-endian float32 bytes (the wire format).
  StatusOr<PreparedInput> FromTensorBytes(const std::vector<int64_t>& shape, std::string_view bytes) const;

 private:
  int input_height_px_;
  int input_width_px_;
  std::array<float, 3> mean_;
  std::array<float, 3> std_;
  DecodeOptions decode_options_;
  TensorLimits tensor_limits_;
};

}  // namespace camserve
