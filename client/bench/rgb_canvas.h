// RgbCanvas: a small RGB raster with just what camserve-bench's chart needs:
// filled rectangles, thick lines and text in a built-in 5x7 bitmap font
// (digits, lower-case letters, space and . - / ( ) % :; other characters
// draw as blanks). Everything outside the canvas is clipped.
//
// Thread-safety: a value; not safe to draw on from two threads at once.
// Cost: proportional to the pixels touched.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace camserve {

struct Rgb {
  uint8_t r = 0, g = 0, b = 0;
  bool operator==(const Rgb& other) const { return r == other.r && g == other.g && b == other.b; }
  bool operator!=(const Rgb& other) const { return !(*this == other); }
};

class RgbCanvas {
 public:
  // Glyph cell of the font at scale 1, in pixels: height down to the
  // baseline, descent below it (g j p q y), and the advance, which includes
  // one column of spacing.
  static constexpr int kGlyphWidthPx = 5;
  static constexpr int kGlyphHeightPx = 7;
  static constexpr int kGlyphDescentPx = 2;
  static constexpr int kGlyphAdvancePx = 6;

  // REQUIRES: width_px >= 1, height_px >= 1.
  RgbCanvas(int width_px, int height_px, Rgb background);

  int width_px() const { return width_px_; }
  int height_px() const { return height_px_; }
  // Row-major, 3 bytes per pixel, no padding: what EncodePng takes.
  const std::vector<uint8_t>& pixels() const { return pixels_; }
  // REQUIRES: 0 <= x < width_px, 0 <= y < height_px.
  Rgb At(int x, int y) const;

  // Fills the rectangle [x0, x1] x [y0, y1], corners included.
  void FillRect(int x0, int y0, int x1, int y1, Rgb color);
  // A line `thickness_px` wide from (x0, y0) to (x1, y1).
  void DrawLine(int x0, int y0, int x1, int y1, int thickness_px, Rgb color);
  // Text whose top-left corner is (x, y), each font pixel `scale` x `scale`;
  // descenders reach kGlyphDescentPx * scale below y + kGlyphHeightPx * scale.
  void DrawText(int x, int y, const std::string& text, int scale, Rgb color);
  // Width of DrawText's output, pixels.
  static int TextWidthPx(const std::string& text, int scale);

  // -- implementation details follow ---------------------------------------
 private:
  void SetPixel(int x, int y, Rgb color);

  int width_px_;
  int height_px_;
  std::vector<uint8_t> pixels_;
};

}  // namespace camserve
