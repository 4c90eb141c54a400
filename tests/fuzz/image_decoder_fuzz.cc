// Fuzz target: an untrusted upload through ReadImageHeader, then
// DecodeImage, both with the server's default limits (DecodeOptions{}, the
// defaults of limits.max_image_pixels and limits.max_image_side_px), as the
// request pipeline calls them. Checks what the decoder promises: a header
// that passes gives the size DecodeImage returns, and the pixels fill
// exactly width * height * 3 bytes.
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "core/image/image_decoder.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view encoded(reinterpret_cast<const char*>(data), size);
  const camserve::DecodeOptions options;
  const camserve::StatusOr<camserve::ImageHeader> header = camserve::ReadImageHeader(encoded, options);
  const camserve::StatusOr<camserve::DecodedImage> image = camserve::DecodeImage(encoded, options);
  if (!image.ok()) return 0;
  if (!header.ok() || header->width != image->width || header->height != image->height) std::abort();
  if (image->rgb.size() != static_cast<size_t>(image->width) * static_cast<size_t>(image->height) * 3) std::abort();
  return 0;
}
