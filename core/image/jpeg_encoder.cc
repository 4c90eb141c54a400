#include "core/image/jpeg_encoder.h"

#include <turbojpeg.h>

#include <memory>

namespace camserve {
namespace {

// libjpeg's JPEG_MAX_DIMENSION.
constexpr int kMaxSidePx = 65500;

struct TjDestroyer {
  void operator()(void* handle) const { tjDestroy(handle); }
};
using TjHandle = std::unique_ptr<void, TjDestroyer>;

struct TjBufferFree {
  void operator()(unsigned char* buffer) const { tjFree(buffer); }
};
using TjBuffer = std::unique_ptr<unsigned char, TjBufferFree>;

Status CheckArguments(const uint8_t* rgb, int width, int height, int quality) {
  if (rgb == nullptr) return InvalidArgumentError("EncodeJpeg: rgb is null");
  if (width < 1 || width > kMaxSidePx || height < 1 || height > kMaxSidePx) {
    return InvalidArgumentError("EncodeJpeg: each side must be in [1, " + std::to_string(kMaxSidePx) + "]; was " +
                                std::to_string(width) + "x" + std::to_string(height));
  }
  if (quality < 1 || quality > 100) {
    return InvalidArgumentError("EncodeJpeg: quality must be in [1, 100]; was " + std::to_string(quality));
  }
  return Status::Ok();
}

}  // namespace

StatusOr<std::string> EncodeJpeg(const uint8_t* rgb, int width, int height, int quality) {
  CAMSERVE_RETURN_IF_ERROR(CheckArguments(rgb, width, height, quality));
  TjHandle tj(tjInitCompress());
  if (!tj) return InternalError(std::string("tjInitCompress failed: ") + tjGetErrorStr2(nullptr));
  unsigned char* jpeg = nullptr;
  unsigned long jpeg_size = 0;
  // TurboJPEG allocates the output; it is copied into an exact-size string
  // so that callers holding many images do not keep tjBufSize's worst case.
  const int rc = tjCompress2(tj.get(), rgb, width, /*pitch=*/0, height, TJPF_RGB, &jpeg, &jpeg_size, TJSAMP_420,
                             quality, TJFLAG_ACCURATEDCT);
  TjBuffer owned(jpeg);
  if (rc != 0) return InternalError(std::string("EncodeJpeg: ") + tjGetErrorStr2(tj.get()));
  return std::string(reinterpret_cast<const char*>(owned.get()), jpeg_size);
}

}  // namespace camserve
