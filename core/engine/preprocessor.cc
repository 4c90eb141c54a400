#include "core/engine/preprocessor.h"

#include <cmath>
#include <cstring>

#include "core/image/model_input_resize.h"

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
  if (image.height < 1 || image.width < 1 ||
      image.rgb.size() != static_cast<size_t>(image.height) * static_cast<size_t>(image.width) * 3) {
    return InvalidArgumentError("decoded image is empty or inconsistent");
  }
  PreparedInput prepared;
  prepared.shape = {3, input_height_px_, input_width_px_};
  prepared.original_width_px = image.width;
  prepared.original_height_px = image.height;
  prepared.data = ResizeToModelInput(image, input_width_px_, input_height_px_, mean_, std_);
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
  // little-endian hosts only (x86-64, arm64). An empty vector's data() may
  // be null, which memcpy must not get even for 0 bytes.
  if (!bytes.empty()) std::memcpy(data.data(), bytes.data(), bytes.size());
  return FromTensor(shape, std::move(data));
}

}  // namespace camserve
