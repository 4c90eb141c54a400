#include "core/image/png_encoder.h"
#include "core/image/png_error.h"

#include <png.h>
#include <zlib.h>

#include <csetjmp>
#include <cstdio>
#include <new>
#include <vector>

namespace camserve {
namespace {

// libpng's default user limit on width and height (PNG_USER_WIDTH_MAX).
constexpr int kMaxSidePx = 1000000;

// libpng reports errors by longjmp. WritePngRows (which calls setjmp) and the
// callbacks keep only trivially destructible locals; the std::string and the
// row vector live in EncodePng, which is never jumped over.
struct PngSink {
  std::string* out;
  PngErrorText error;
};

bool AppendNoThrow(std::string* out, const png_bytep data, size_t length) {
  try {
    out->append(reinterpret_cast<const char*>(data), length);
    return true;
  } catch (const std::bad_alloc&) {
    return false;
  }
}

// No exception may cross libpng's C frames, so allocation failure becomes a
// libpng error.
void WriteToString(png_structp png, png_bytep data, size_t length) {
  auto* sink = static_cast<PngSink*>(png_get_io_ptr(png));
  if (!AppendNoThrow(sink->out, data, length)) png_error(png, "out of memory");
}

void FlushNothing(png_structp) {}

// Owns libpng's write and info structs.
class PngWriteGuard {
 public:
  explicit PngWriteGuard(PngSink* sink)
      : png_(png_create_write_struct(PNG_LIBPNG_VER_STRING, &sink->error, OnPngError, OnPngWarning)),
        info_(png_ ? png_create_info_struct(png_) : nullptr) {}
  ~PngWriteGuard() { png_destroy_write_struct(&png_, info_ ? &info_ : nullptr); }
  PngWriteGuard(const PngWriteGuard&) = delete;
  PngWriteGuard& operator=(const PngWriteGuard&) = delete;

  bool ok() const { return png_ != nullptr && info_ != nullptr; }
  png_structp png() const { return png_; }
  png_infop info() const { return info_; }

 private:
  png_structp png_;
  png_infop info_;
};

int ColorType(int channels) {
  switch (channels) {
    case 1: return PNG_COLOR_TYPE_GRAY;
    case 3: return PNG_COLOR_TYPE_RGB;
    default: return PNG_COLOR_TYPE_RGB_ALPHA;
  }
}

// Returns false after a libpng error (message in the sink).
bool WritePngRows(png_structp png, png_infop info, PngSink* sink, png_bytepp rows, int width, int height,
                  int channels) {
  if (setjmp(png_jmpbuf(png))) return false;
  png_set_write_fn(png, sink, WriteToString, FlushNothing);
  png_set_IHDR(png, info, static_cast<png_uint_32>(width), static_cast<png_uint_32>(height), 8, ColorType(channels),
               PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
  png_set_compression_level(png, Z_BEST_SPEED);
  png_set_filter(png, PNG_FILTER_TYPE_BASE, PNG_FILTER_SUB);
  png_write_info(png, info);
  png_write_image(png, rows);
  png_write_end(png, nullptr);
  return true;
}

}  // namespace

StatusOr<std::string> EncodePng(const uint8_t* pixels, int width, int height, int channels) {
  if (pixels == nullptr) return InvalidArgumentError("EncodePng: pixels is null");
  if (width < 1 || width > kMaxSidePx || height < 1 || height > kMaxSidePx) {
    return InvalidArgumentError("EncodePng: each side must be in [1, " + std::to_string(kMaxSidePx) + "]; was " +
                                std::to_string(width) + "x" + std::to_string(height));
  }
  if (channels != 1 && channels != 3 && channels != 4) {
    return InvalidArgumentError("EncodePng: channels must be 1, 3 or 4; was " + std::to_string(channels));
  }

  std::string out;
  PngSink sink = {&out, {}};
  PngWriteGuard guard(&sink);
  if (!guard.ok()) return InternalError("EncodePng: could not allocate libpng write structs");
  const size_t row_bytes = static_cast<size_t>(width) * static_cast<size_t>(channels);
  // libpng's API takes non-const rows but only reads them when writing.
  std::vector<png_bytep> rows(static_cast<size_t>(height));
  for (size_t y = 0; y < rows.size(); ++y) {
    rows[y] = const_cast<png_bytep>(pixels + y * row_bytes);
  }
  if (!WritePngRows(guard.png(), guard.info(), &sink, rows.data(), width, height, channels)) {
    return InternalError(std::string("EncodePng: libpng failed: ") + sink.error.text);
  }
  return out;
}

}  // namespace camserve
