#include "core/engine/preprocessor.h"

#include <ATen/ATen.h>

#include <cmath>
#include <cstring>

namespace camserve {
namespace {

std::string ShapeString(const std::vector<int64_t>& shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + "]";
}

}  // namespace

Preprocessor::Preprocessor(const ModelSidecar& sidecar, DecodeOptions decode_options, TensorLimits tensor_limits)
    : input_height_px_(sidecar.input_height_px),
      input_width_px_(sidecar.input_width_px),
      mean_(sidecar.mean),
      std_(sidecar.std),
      decode_options_(decode_options),
      tensor_limits_(tensor_limits) {}

StatusOr<PreparedInput> Preprocessor::FromEncodedImage(std::string_view encoded) const {
  StatusOr<DecodedImage> image = DecodeImage(encoded, decode_options_);
  if (!image.ok()) return image.status();
  return FromDecodedImage(*image);
}

StatusOr<PreparedInput> Preprocessor::FromDecodedImage(const DecodedImage& image) const {
  const int64_t h = image.height, w = image.width;
  if (h < 1 || w < 1 || image.rgb.size() != static_cast<size_t>(h * w * 3)) {
    return InvalidArgumentError("decoded image is empty or inconsistent");
  }
  PreparedInput prepared;
  prepared.shape = {3, input_height_px_, input_width_px_};
  prepared.original_width_px = image.width;
  prepared.original_height_px = image.height;
  if (h == input_height_px_ && w == input_width_px_) {
    // Already the model's size: one pass from interleaved bytes to
    // normalised planes, the same arithmetic as the tensor path below.
    const int64_t plane = h * w;
    prepared.data.resize(static_cast<size_t>(3 * plane));
    const uint8_t* rgb = image.rgb.data();
    float* out = prepared.data.data();
    for (int64_t i = 0; i < plane; ++i) {
      for (int64_t c = 0; c < 3; ++c) {
        out[c * plane + i] = (static_cast<float>(rgb[3 * i + c]) / 255.f - mean_[c]) / std_[c];
      }
    }
    return prepared;
  }
  at::Tensor pixels = at::from_blob(const_cast<uint8_t*>(image.rgb.data()), {1, h, w, 3}, at::kByte)
                          .permute({0, 3, 1, 2})
                          .to(at::kFloat)
                          .div_(255.f);
  const bool shrinking = h > input_height_px_ || w > input_width_px_;
  const std::array<int64_t, 2> size = {input_height_px_, input_width_px_};
  pixels = shrinking ? at::_upsample_bilinear2d_aa(pixels, size, /*align_corners=*/false)
                     : at::upsample_bilinear2d(pixels, size, /*align_corners=*/false);
  const at::Tensor mean = at::tensor(at::ArrayRef<float>(mean_.data(), 3)).view({1, 3, 1, 1});
  const at::Tensor std = at::tensor(at::ArrayRef<float>(std_.data(), 3)).view({1, 3, 1, 1});
  pixels = ((pixels - mean) / std).contiguous();

  prepared.data.assign(pixels.data_ptr<float>(), pixels.data_ptr<float>() + pixels.numel());
  return prepared;
}

StatusOr<PreparedInput> Preprocessor::FromTensor(const std::vector<int64_t>& shape, std::vector<float> data) const {
  std::vector<int64_t> chw = shape;
  if (chw.size() == 4 && chw[0] == 1) chw.erase(chw.begin());
  if (chw.size() != 3 || chw[0] != 3) {
    return InvalidArgumentError("tensor shape must be [3, H, W] or [1, 3, H, W]; was " + ShapeString(shape));
  }
  for (int i = 1; i < 3; ++i) {
    if (chw[i] < tensor_limits_.min_side_px || chw[i] > tensor_limits_.max_side_px) {
      return InvalidArgumentError("tensor height and width must be in [" + std::to_string(tensor_limits_.min_side_px) +
                                  ", " + std::to_string(tensor_limits_.max_side_px) + "]; shape was " +
                                  ShapeString(shape));
    }
  }
  const size_t expected = static_cast<size_t>(chw[0] * chw[1] * chw[2]);
  if (data.size() != expected) {
    return InvalidArgumentError("tensor of shape " + ShapeString(shape) + " needs " + std::to_string(expected) +
                                " float32 values; got " + std::to_string(data.size()));
  }
  for (size_t i = 0; i < data.size(); ++i) {
    if (!std::isfinite(data[i])) {
      return InvalidArgumentError("tensor holds a non-finite value at index " + std::to_string(i));
    }
  }
  PreparedInput prepared;
  prepared.shape = chw;
  prepared.data = std::move(data);
  prepared.original_height_px = static_cast<int>(chw[1]);
  prepared.original_width_px = static_cast<int>(chw[2]);
  return prepared;
}

StatusOr<PreparedInput> Preprocessor::FromTensorBytes(const std::vector<int64_t>& shape, std::string_view bytes) const {
  if (bytes.size() % sizeof(float) != 0) {
    return InvalidArgumentError("tensor data is " + std::to_string(bytes.size()) +
                                " bytes, not a whole number of float32 values");
  }
  static_assert(sizeof(float) == 4, "float32 wire format");
  std::vector<float> data(bytes.size() / sizeof(float));
  std::memcpy(data.data(), bytes.data(), bytes.size());  // little-endian hosts only (x86-64, arm64)
  return FromTensor(shape, std::move(data));
}

}  // namespace camserve
