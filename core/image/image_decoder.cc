#include "core/image/image_decoder.h"
#include "core/image/png_error.h"

#include <png.h>
#include <turbojpeg.h>

#include <csetjmp>
#include <cstdio>
#include <cstring>
#include <memory>
#include <string>
#include <utility>

namespace camserve {
namespace {

constexpr unsigned char kJpegMagic[] = {0xFF, 0xD8, 0xFF};
constexpr unsigned char kPngMagic[] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1A, '\n'};

bool StartsWith(std::string_view data, const unsigned char* magic, size_t size) {
  return data.size() >= size && std::memcmp(data.data(), magic, size) == 0;
}

const uint8_t* Bytes(std::string_view data) { return reinterpret_cast<const uint8_t*>(data.data()); }

// "starts with bytes 47 49 46 38": the usual way to tell a GIF or a text
// error page from an image.
std::string DescribeLeadingBytes(std::string_view data) {
  std::string out = "starts with bytes";
  char hex[4];
  for (size_t i = 0; i < data.size() && i < 4; ++i) {
    std::snprintf(hex, sizeof(hex), " %02X", Bytes(data)[i]);
    out += hex;
  }
  return out;
}

Status ValidateOptions(const DecodeOptions& options) {
  if (options.max_pixels < 1) {
    return InvalidArgumentError("DecodeOptions.max_pixels must be >= 1; was " + std::to_string(options.max_pixels));
  }
  if (options.max_side_px < 1) {
    return InvalidArgumentError("DecodeOptions.max_side_px must be >= 1; was " + std::to_string(options.max_side_px));
  }
  if (options.max_jpeg_scan_pixels < 1) {
    return InvalidArgumentError("DecodeOptions.max_jpeg_scan_pixels must be >= 1; was " +
                                std::to_string(options.max_jpeg_scan_pixels));
  }
  return Status::Ok();
}

// Called with the header's dimensions, before any pixel memory is allocated.
Status CheckDimensions(int64_t width, int64_t height, const DecodeOptions& options) {
  const std::string size = std::to_string(width) + "x" + std::to_string(height);
  if (width < 1 || height < 1) {
    return InvalidArgumentError("image has an empty size " + size);
  }
  if (width > options.max_side_px || height > options.max_side_px) {
    return InvalidArgumentError("image is " + size + " pixels; each side may be at most " +
                                std::to_string(options.max_side_px) + " (max_side_px)");
  }
  if (width * height > options.max_pixels) {
    return InvalidArgumentError("image is " + size + " = " + std::to_string(width * height) + " pixels; at most " +
                                std::to_string(options.max_pixels) + " are allowed (max_pixels)");
  }
  return Status::Ok();
}

// ---------------------------------------------------------------------------
// EXIF orientation. Every read is bounds-checked against the segment; any
// inconsistency ends the search and means "orientation 1", as Pillow does.

uint16_t ReadU16(const uint8_t* p, bool big_endian) {
  return big_endian ? static_cast<uint16_t>(p[0] << 8 | p[1]) : static_cast<uint16_t>(p[1] << 8 | p[0]);
}

uint32_t ReadU32(const uint8_t* p, bool big_endian) {
  return big_endian ? (uint32_t{p[0]} << 24 | uint32_t{p[1]} << 16 | uint32_t{p[2]} << 8 | p[3])
                    : (uint32_t{p[3]} << 24 | uint32_t{p[2]} << 16 | uint32_t{p[1]} << 8 | p[0]);
}

// Orientation (1..8) from a TIFF structure ("II*\0" or "MM\0*" header, IFD0
// with tag 0x0112 as one SHORT or LONG); 1 when absent or malformed. Like
// Pillow, the last 0x0112 entry wins and entries before a truncation count.
int ParseTiffOrientation(const uint8_t* tiff, size_t size) {
  constexpr uint16_t kOrientationTag = 0x0112;
  constexpr uint16_t kTypeShort = 3;
  constexpr uint16_t kTypeLong = 4;
  constexpr size_t kEntrySize = 12;
  if (size < 8) return 1;
  bool big_endian;
  if (tiff[0] == 'I' && tiff[1] == 'I') {
    big_endian = false;
  } else if (tiff[0] == 'M' && tiff[1] == 'M') {
    big_endian = true;
  } else {
    return 1;
  }
  if (ReadU16(tiff + 2, big_endian) != 42) return 1;
  const uint32_t ifd0 = ReadU32(tiff + 4, big_endian);
  if (ifd0 > size - 2) return 1;
  const uint16_t entry_count = ReadU16(tiff + ifd0, big_endian);
  int orientation = 1;
  for (size_t i = 0; i < entry_count; ++i) {
    const size_t entry = size_t{ifd0} + 2 + i * kEntrySize;
    if (entry + kEntrySize > size) break;
    if (ReadU16(tiff + entry, big_endian) != kOrientationTag) continue;
    const uint16_t type = ReadU16(tiff + entry + 2, big_endian);
    const uint32_t count = ReadU32(tiff + entry + 4, big_endian);
    uint32_t value = 0;
    if (count == 1 && type == kTypeShort) value = ReadU16(tiff + entry + 8, big_endian);
    if (count == 1 && type == kTypeLong) value = ReadU32(tiff + entry + 8, big_endian);
    orientation = (value >= 1 && value <= 8) ? static_cast<int>(value) : 1;
  }
  return orientation;
}

// Walks the JPEG marker segments up to the first scan and returns the
// orientation from the first APP1 segment starting with "Exif\0" (Pillow's
// rule; its TIFF data must follow "Exif\0\0").
int JpegOrientation(std::string_view jpeg) {
  constexpr uint8_t kApp1 = 0xE1, kSos = 0xDA, kEoi = 0xD9;
  const uint8_t* data = Bytes(jpeg);
  const size_t size = jpeg.size();
  size_t pos = 2;  // after SOI
  while (pos + 4 <= size) {
    if (data[pos] != 0xFF) return 1;
    const uint8_t marker = data[pos + 1];
    if (marker == 0xFF) {  // fill byte before a marker
      ++pos;
      continue;
    }
    if (marker == kSos || marker == kEoi) return 1;
    const size_t length = ReadU16(data + pos + 2, /*big_endian=*/true);
    if (length < 2 || pos + 2 + length > size) return 1;
    const uint8_t* payload = data + pos + 4;
    const size_t payload_size = length - 2;
    if (marker == kApp1 && payload_size >= 5 && std::memcmp(payload, "Exif\0", 5) == 0) {
      if (payload_size < 6 || payload[5] != 0) return 1;
      return ParseTiffOrientation(payload + 6, payload_size - 6);
    }
    pos += 2 + length;
  }
  return 1;
}

// The number of scans (SOS markers) of a JPEG: walks the marker segments and
// skips each scan's entropy-coded data (where 0xFF is always followed by a
// stuffed 0x00 or a restart marker). Stops at EOI, or where the data ends or
// stops making sense; libjpeg then reports the damage. One pass over the
// bytes, allocating nothing.
int64_t CountJpegScans(std::string_view jpeg) {
  constexpr uint8_t kSos = 0xDA, kEoi = 0xD9, kRst0 = 0xD0, kRst7 = 0xD7, kTem = 0x01;
  const uint8_t* data = Bytes(jpeg);
  const size_t size = jpeg.size();
  int64_t scans = 0;
  size_t pos = 2;  // after SOI
  while (pos + 2 <= size) {
    if (data[pos] != 0xFF) return scans;
    const uint8_t marker = data[pos + 1];
    if (marker == 0xFF) {  // fill byte before a marker
      ++pos;
      continue;
    }
    if (marker == kEoi) return scans;
    if ((marker >= kRst0 && marker <= kRst7) || marker == kTem) {  // no length
      pos += 2;
      continue;
    }
    if (pos + 4 > size) return scans;
    const size_t length = ReadU16(data + pos + 2, /*big_endian=*/true);
    if (length < 2) return scans;
    pos += 2 + length;
    if (marker != kSos) continue;
    ++scans;
    while (pos + 1 < size) {
      const void* ff = std::memchr(data + pos, 0xFF, size - pos);
      if (ff == nullptr) return scans;
      pos = static_cast<size_t>(static_cast<const uint8_t*>(ff) - data);
      if (pos + 1 >= size) return scans;
      const uint8_t next = data[pos + 1];
      if (next == 0x00 || (next >= kRst0 && next <= kRst7)) {
        pos += 2;
      } else if (next == 0xFF) {
        ++pos;
      } else {
        break;  // the next marker
      }
    }
  }
  return scans;
}

// Applies an EXIF orientation like PIL's Image.transpose in exif_transpose.
// Destination pixel (x, y) is source pixel base + x * step_x + y * step_y
// (indices in pixels, source row-major with width w, height h).
DecodedImage ApplyOrientation(DecodedImage image, int orientation) {
  if (orientation < 2 || orientation > 8) return image;
  const int64_t w = image.width, h = image.height;
  struct Walk {
    int64_t base, step_x, step_y;
  };
  const Walk walks[9] = {
      {0, 1, w},             // 0: not an orientation
      {0, 1, w},             // 1: identity (returned above)
      {w - 1, -1, w},        // 2: FLIP_LEFT_RIGHT
      {h * w - 1, -1, -w},   // 3: ROTATE_180
      {(h - 1) * w, 1, -w},  // 4: FLIP_TOP_BOTTOM
      {0, w, 1},             // 5: TRANSPOSE
      {(h - 1) * w, -w, 1},  // 6: ROTATE_270 (clockwise)
      {h * w - 1, -w, -1},   // 7: TRANSVERSE
      {w - 1, w, -1},        // 8: ROTATE_90 (counter-clockwise)
  };
  const Walk& walk = walks[orientation];
  const bool swaps_sides = orientation >= 5;
  DecodedImage out;
  out.width = swaps_sides ? image.height : image.width;
  out.height = swaps_sides ? image.width : image.height;
  out.rgb.resize(image.rgb.size());
  uint8_t* dst = out.rgb.data();
  for (int64_t y = 0; y < out.height; ++y) {
    int64_t src = walk.base + y * walk.step_y;
    for (int64_t x = 0; x < out.width; ++x, src += walk.step_x, dst += 3) {
      std::memcpy(dst, &image.rgb[src * 3], 3);
    }
  }
  return out;
}

// ---------------------------------------------------------------------------
// JPEG through TurboJPEG.

struct TjDestroyer {
  void operator()(void* handle) const { tjDestroy(handle); }
};
using TjHandle = std::unique_ptr<void, TjDestroyer>;

// Pillow reads CMYK JPEGs as Adobe-inverted ("CMYK;I") and converts with
// R = (255-K) - round(C * (255-K) / 255); with the stored (inverted) values
// that is R = k - round((255-c) * k / 255). In place: 4 bytes -> 3 bytes.
void ConvertInvertedCmykToRgb(std::vector<uint8_t>* pixels, size_t pixel_count) {
  uint8_t* p = pixels->data();
  for (size_t i = 0; i < pixel_count; ++i) {
    const uint8_t* cmyk = p + 4 * i;
    const int k = cmyk[3];
    uint8_t rgb[3];
    for (int c = 0; c < 3; ++c) {
      const int t = (255 - cmyk[c]) * k + 128;
      rgb[c] = static_cast<uint8_t>(k - (((t >> 8) + t) >> 8));
    }
    std::memcpy(p + 3 * i, rgb, 3);
  }
  pixels->resize(pixel_count * 3);
}

struct JpegFrame {
  int width = 0;
  int height = 0;
  int colorspace = -1;
};

// The frame header's size and colour space, checked against the limits.
StatusOr<JpegFrame> ReadJpegFrame(tjhandle tj, std::string_view jpeg, const DecodeOptions& options) {
  JpegFrame frame;
  int subsampling = -1;
  // The outputs, not the return value, say whether the header is usable:
  // tjDecompressHeader3 fails after filling them on sampling factors that
  // TurboJPEG cannot name (libjpeg decodes those fine), and succeeds without
  // filling them when there is no frame header (a tables-only datastream,
  // or a file cut off before its SOF marker).
  const int header_rc = tjDecompressHeader3(tj, Bytes(jpeg), static_cast<unsigned long>(jpeg.size()), &frame.width,
                                            &frame.height, &subsampling, &frame.colorspace);
  if (frame.width < 1 || frame.height < 1 || frame.colorspace < 0) {
    return InvalidArgumentError(std::string("invalid JPEG header: ") +
                                (header_rc != 0 ? tjGetErrorStr2(tj) : "no frame header (file truncated?)"));
  }
  CAMSERVE_RETURN_IF_ERROR(CheckDimensions(frame.width, frame.height, options));
  const int64_t pixels = int64_t{frame.width} * frame.height;
  const int64_t scans = CountJpegScans(jpeg);
  if (scans > options.max_jpeg_scan_pixels / pixels) {
    return InvalidArgumentError("JPEG has " + std::to_string(scans) + " scans of " + std::to_string(frame.width) + "x" +
                                std::to_string(frame.height) + " pixels; at most " +
                                std::to_string(options.max_jpeg_scan_pixels) +
                                " scans times pixels are allowed (max_jpeg_scan_pixels)");
  }
  return frame;
}

StatusOr<DecodedImage> DecodeJpeg(std::string_view jpeg, const DecodeOptions& options) {
  TjHandle tj(tjInitDecompress());
  if (!tj) {
    return InternalError(std::string("tjInitDecompress failed: ") + tjGetErrorStr2(nullptr));
  }
  const auto size = static_cast<unsigned long>(jpeg.size());
  StatusOr<JpegFrame> frame = ReadJpegFrame(tj.get(), jpeg, options);
  if (!frame.ok()) return frame.status();
  const int width = frame->width, height = frame->height, colorspace = frame->colorspace;

  const bool cmyk = colorspace == TJCS_CMYK || colorspace == TJCS_YCCK;
  const int pixel_format = cmyk ? TJPF_CMYK : TJPF_RGB;
  const size_t pixel_count = static_cast<size_t>(width) * static_cast<size_t>(height);
  DecodedImage image;
  image.width = width;
  image.height = height;
  image.rgb.resize(pixel_count * (cmyk ? 4 : 3));
  // No TJFLAG_FASTDCT / TJFLAG_FASTUPSAMPLE: accurate IDCT and fancy
  // upsampling, like Pillow. Warnings mean damaged data, so they stop.
  if (tjDecompress2(tj.get(), Bytes(jpeg), size, image.rgb.data(), width, /*pitch=*/0, height, pixel_format,
                    TJFLAG_STOPONWARNING | TJFLAG_LIMITSCANS) != 0) {
    return InvalidArgumentError(std::string("invalid JPEG data: ") + tjGetErrorStr2(tj.get()));
  }
  if (cmyk) ConvertInvertedCmykToRgb(&image.rgb, pixel_count);
  return ApplyOrientation(std::move(image), JpegOrientation(jpeg));
}

// ---------------------------------------------------------------------------
// PNG through libpng. libpng reports errors by longjmp. The functions that
// call setjmp (ReadPngHeader, ReadPngRows) and the callbacks keep only
// trivially destructible locals, and every C++ object lives in DecodePng,
// which is never jumped over; so no destructor is ever skipped.

struct PngSource {
  const uint8_t* data;
  size_t size;
  size_t offset;
};

void ReadPngFromMemory(png_structp png, png_bytep out, size_t length) {
  auto* source = static_cast<PngSource*>(png_get_io_ptr(png));
  if (length > source->size - source->offset) {
    png_error(png, "unexpected end of data (truncated file)");
  }
  std::memcpy(out, source->data + source->offset, length);
  source->offset += length;
}

// Owns libpng's read and info structs.
class PngReadGuard {
 public:
  explicit PngReadGuard(PngErrorText* error)
      : png_(png_create_read_struct(PNG_LIBPNG_VER_STRING, error, OnPngError, OnPngWarning)),
        info_(png_ ? png_create_info_struct(png_) : nullptr) {}
  ~PngReadGuard() { png_destroy_read_struct(&png_, info_ ? &info_ : nullptr, nullptr); }
  PngReadGuard(const PngReadGuard&) = delete;
  PngReadGuard& operator=(const PngReadGuard&) = delete;

  bool ok() const { return png_ != nullptr && info_ != nullptr; }
  png_structp png() const { return png_; }
  png_infop info() const { return info_; }

 private:
  png_structp png_;
  png_infop info_;
};

struct PngHeader {
  png_uint_32 width;
  png_uint_32 height;
  size_t row_bytes;
  int orientation;
};

// Reads the chunks before IDAT and sets up the transformations to 8-bit RGB.
// Returns false after a libpng error (message in the error struct).
bool ReadPngHeader(png_structp png, png_infop info, PngHeader* header) {
  if (setjmp(png_jmpbuf(png))) return false;
  // DecodeImage's own limits apply instead, with a better message.
  png_set_user_limits(png, PNG_UINT_31_MAX, PNG_UINT_31_MAX);
  png_read_info(png, info);

  const int color_type = png_get_color_type(png, info);
  if (color_type == PNG_COLOR_TYPE_PALETTE) png_set_palette_to_rgb(png);
  if (color_type == PNG_COLOR_TYPE_GRAY || color_type == PNG_COLOR_TYPE_GRAY_ALPHA) {
    png_set_expand_gray_1_2_4_to_8(png);
    png_set_gray_to_rgb(png);
  }
  png_set_strip_16(png);     // high byte, as Pillow's "RGB;16B" unpacker
  png_set_strip_alpha(png);  // dropped, not composited, as convert("RGB")
  png_set_interlace_handling(png);
  png_read_update_info(png, info);

  header->width = png_get_image_width(png, info);
  header->height = png_get_image_height(png, info);
  header->row_bytes = png_get_rowbytes(png, info);
  header->orientation = 1;
  png_uint_32 exif_size = 0;
  png_bytep exif = nullptr;
  if (png_get_eXIf_1(png, info, &exif_size, &exif) != 0 && exif != nullptr) {
    header->orientation = ParseTiffOrientation(exif, exif_size);
  }
  return true;
}

bool ReadPngRows(png_structp png, png_bytepp rows) {
  if (setjmp(png_jmpbuf(png))) return false;
  png_read_image(png, rows);
  return true;
}

// Reads a PNG's header into `header` through `guard`'s structs and checks
// its size against the limits.
Status ReadCheckedPngHeader(std::string_view data, const DecodeOptions& options, PngReadGuard& guard, PngSource* source,
                            const PngErrorText& error, PngHeader* header) {
  if (!guard.ok()) return InternalError("could not allocate libpng read structs");
  *source = {Bytes(data), data.size(), 0};
  png_set_read_fn(guard.png(), source, ReadPngFromMemory);
  if (!ReadPngHeader(guard.png(), guard.info(), header)) {
    return InvalidArgumentError(std::string("invalid PNG header: ") + error.text);
  }
  return CheckDimensions(header->width, header->height, options);
}

StatusOr<DecodedImage> DecodePng(std::string_view data, const DecodeOptions& options) {
  PngErrorText error = {};
  PngReadGuard guard(&error);
  PngSource source = {};
  PngHeader header = {};
  CAMSERVE_RETURN_IF_ERROR(ReadCheckedPngHeader(data, options, guard, &source, error, &header));
  if (header.row_bytes != size_t{header.width} * 3) {
    return InternalError("libpng produced " + std::to_string(header.row_bytes) + " bytes per row instead of 3 * " +
                         std::to_string(header.width));
  }

  DecodedImage image;
  image.width = static_cast<int>(header.width);
  image.height = static_cast<int>(header.height);
  image.rgb.resize(header.row_bytes * header.height);
  std::vector<png_bytep> rows(header.height);
  for (size_t y = 0; y < rows.size(); ++y) rows[y] = image.rgb.data() + y * header.row_bytes;
  if (!ReadPngRows(guard.png(), rows.data())) {
    return InvalidArgumentError(std::string("invalid PNG data: ") + error.text);
  }
  return ApplyOrientation(std::move(image), header.orientation);
}

// Orientations 5..8 transpose the image.
ImageHeader OrientedHeader(ImageFormat format, int width, int height, int orientation) {
  const bool transposed = orientation >= 5 && orientation <= 8;
  return ImageHeader{format, transposed ? height : width, transposed ? width : height};
}

StatusOr<ImageHeader> ReadJpegHeader(std::string_view jpeg, const DecodeOptions& options) {
  TjHandle tj(tjInitDecompress());
  if (!tj) return InternalError(std::string("tjInitDecompress failed: ") + tjGetErrorStr2(nullptr));
  StatusOr<JpegFrame> frame = ReadJpegFrame(tj.get(), jpeg, options);
  if (!frame.ok()) return frame.status();
  return OrientedHeader(ImageFormat::kJpeg, frame->width, frame->height, JpegOrientation(jpeg));
}

StatusOr<ImageHeader> ReadPngImageHeader(std::string_view data, const DecodeOptions& options) {
  PngErrorText error = {};
  PngReadGuard guard(&error);
  PngSource source = {};
  PngHeader header = {};
  CAMSERVE_RETURN_IF_ERROR(ReadCheckedPngHeader(data, options, guard, &source, error, &header));
  return OrientedHeader(ImageFormat::kPng, static_cast<int>(header.width), static_cast<int>(header.height),
                        header.orientation);
}

}  // namespace

ImageFormat DetectImageFormat(std::string_view encoded) {
  if (StartsWith(encoded, kJpegMagic, sizeof(kJpegMagic))) return ImageFormat::kJpeg;
  if (StartsWith(encoded, kPngMagic, sizeof(kPngMagic))) return ImageFormat::kPng;
  return ImageFormat::kUnknown;
}

namespace {

// The checks every entry point makes first; returns the format.
StatusOr<ImageFormat> CheckedFormat(std::string_view encoded, const DecodeOptions& options) {
  CAMSERVE_RETURN_IF_ERROR(ValidateOptions(options));
  if (encoded.empty()) return InvalidArgumentError("image data is empty");
  const ImageFormat format = DetectImageFormat(encoded);
  if (format == ImageFormat::kUnknown) {
    return InvalidArgumentError("not a JPEG or PNG image (" + DescribeLeadingBytes(encoded) + ")");
  }
  return format;
}

}  // namespace

StatusOr<ImageHeader> ReadImageHeader(std::string_view encoded, const DecodeOptions& options) {
  StatusOr<ImageFormat> format = CheckedFormat(encoded, options);
  if (!format.ok()) return format.status();
  return *format == ImageFormat::kJpeg ? ReadJpegHeader(encoded, options) : ReadPngImageHeader(encoded, options);
}

StatusOr<DecodedImage> DecodeImage(std::string_view encoded, const DecodeOptions& options) {
  StatusOr<ImageFormat> format = CheckedFormat(encoded, options);
  if (!format.ok()) return format.status();
  return *format == ImageFormat::kJpeg ? DecodeJpeg(encoded, options) : DecodePng(encoded, options);
}

}  // namespace camserve
