#include "client/bench/image_pool.h"

#include <algorithm>
#include <string_view>
#include <thread>
#include <unordered_set>

#include "core/image/jpeg_encoder.h"

namespace camserve {
namespace {

constexpr int kCellPx = 8;
constexpr int kSaltBits = 24;

int IndexBits(int count) {
  int bits = 1;
  while (bits < 31 && (int64_t{1} << bits) < count) ++bits;
  return bits;
}

int64_t CellCount(const DecodedImage& image) {
  const int64_t columns = (image.width + kCellPx - 1) / kCellPx;
  const int64_t rows = (image.height + kCellPx - 1) / kCellPx;
  return columns * rows;
}

void FillCell(int cell, uint8_t value, DecodedImage* image) {
  const int columns = (image->width + kCellPx - 1) / kCellPx;
  const int x0 = (cell % columns) * kCellPx, y0 = (cell / columns) * kCellPx;
  const int x1 = std::min(x0 + kCellPx, image->width), y1 = std::min(y0 + kCellPx, image->height);
  for (int y = y0; y < y1; ++y) {
    uint8_t* row = image->rgb.data() + (static_cast<size_t>(y) * image->width + x0) * 3;
    std::fill(row, row + static_cast<size_t>(x1 - x0) * 3, value);
  }
}

Status CheckOptions(const DecodedImage& base, const UniquePoolOptions& options) {
  if (options.count < 1) {
    return InvalidArgumentError("unique image count must be >= 1; was " + std::to_string(options.count));
  }
  if (options.jpeg_quality < 1 || options.jpeg_quality > 100) {
    return InvalidArgumentError("JPEG quality must be in [1, 100]; was " + std::to_string(options.jpeg_quality));
  }
  const int bits = StampBits(options.count);
  if (CellCount(base) < bits) {
    return InvalidArgumentError("the image is too small to make " + std::to_string(options.count) +
                                " distinct copies: " + std::to_string(base.width) + "x" + std::to_string(base.height) +
                                " has " + std::to_string(CellCount(base)) + " 8x8 cells, " + std::to_string(bits) +
                                " needed");
  }
  return Status::Ok();
}

// Encodes images first, first + stride, ... into (*pool)[k].
Status EncodeEvery(const DecodedImage& base, const UniquePoolOptions& options, int first, int stride,
                   std::vector<std::string>* pool) {
  const int index_bits = IndexBits(options.count);
  const uint64_t salt = options.salt & ((uint64_t{1} << kSaltBits) - 1);
  DecodedImage copy = base;
  for (int k = first; k < options.count; k += stride) {
    StampValue(salt << index_bits | static_cast<uint64_t>(k), index_bits + kSaltBits, &copy);
    StatusOr<std::string> jpeg = EncodeJpeg(copy.rgb.data(), copy.width, copy.height, options.jpeg_quality);
    if (!jpeg.ok()) return jpeg.status();
    (*pool)[k] = std::move(jpeg).value();
  }
  return Status::Ok();
}

Status CheckDistinct(const std::vector<std::string>& pool) {
  std::unordered_set<std::string_view> seen;
  for (const std::string& jpeg : pool) {
    if (!seen.insert(jpeg).second) {
      return InternalError("two stamped copies encoded to the same JPEG bytes");
    }
  }
  return Status::Ok();
}

}  // namespace

int StampBits(int count) { return IndexBits(count) + kSaltBits; }

void StampValue(uint64_t value, int bits, DecodedImage* image) {
  for (int bit = 0; bit < bits; ++bit) FillCell(bit, ((value >> bit) & 1) ? 255 : 0, image);
}

StatusOr<std::vector<std::string>> MakeUniqueJpegPool(const DecodedImage& base, const UniquePoolOptions& options) {
  CAMSERVE_RETURN_IF_ERROR(CheckOptions(base, options));
  const int hardware = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  const int threads = std::min(options.threads > 0 ? options.threads : hardware, options.count);
  std::vector<std::string> pool(static_cast<size_t>(options.count));
  std::vector<Status> results(static_cast<size_t>(threads));
  std::vector<std::thread> workers;
  for (int t = 0; t < threads; ++t) {
    workers.emplace_back([&, t] { results[t] = EncodeEvery(base, options, t, threads, &pool); });
  }
  for (std::thread& worker : workers) worker.join();
  for (const Status& result : results) CAMSERVE_RETURN_IF_ERROR(result);
  CAMSERVE_RETURN_IF_ERROR(CheckDistinct(pool));
  return pool;
}

StatusOr<std::vector<std::string>> MakeRequestImages(const std::string& file_bytes, ImageMode mode,
                                                     const UniquePoolOptions& options) {
  StatusOr<DecodedImage> base = DecodeImage(file_bytes);
  if (!base.ok()) return base.status();
  if (mode == ImageMode::kRepeated) return std::vector<std::string>{file_bytes};
  return MakeUniqueJpegPool(base.value(), options);
}

}  // namespace camserve
