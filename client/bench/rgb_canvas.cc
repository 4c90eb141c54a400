#include "client/bench/rgb_canvas.h"

#include <algorithm>
#include <cstdlib>

namespace camserve {
namespace {

// One glyph: rows top to bottom, '#' for an ink pixel; 7 rows down to the
// baseline, and 2 more (null when unused) for the descenders of g j p q y.
struct Glyph {
  char character;
  const char* rows[RgbCanvas::kGlyphHeightPx + RgbCanvas::kGlyphDescentPx];
};

// clang-format off
constexpr Glyph kFont[] = {
    {'0', {".###.", "#...#", "#..##", "#.#.#", "##..#", "#...#", ".###."}},
    {'1', {"..#..", ".##..", "..#..", "..#..", "..#..", "..#..", ".###."}},
    {'2', {".###.", "#...#", "....#", "...#.", "..#..", ".#...", "#####"}},
    {'3', {"#####", "...#.", "..#..", "...#.", "....#", "#...#", ".###."}},
    {'4', {"...#.", "..##.", ".#.#.", "#..#.", "#####", "...#.", "...#."}},
    {'5', {"#####", "#....", "####.", "....#", "....#", "#...#", ".###."}},
    {'6', {"..##.", ".#...", "#....", "####.", "#...#", "#...#", ".###."}},
    {'7', {"#####", "....#", "...#.", "..#..", ".#...", ".#...", ".#..."}},
    {'8', {".###.", "#...#", "#...#", ".###.", "#...#", "#...#", ".###."}},
    {'9', {".###.", "#...#", "#...#", ".####", "....#", "...#.", ".##.."}},
    {'.', {".....", ".....", ".....", ".....", ".....", ".##..", ".##.."}},
    {'-', {".....", ".....", ".....", "#####", ".....", ".....", "....."}},
    {'/', {".....", "....#", "...#.", "..#..", ".#...", "#....", "....."}},
    {'(', {"...#.", "..#..", ".#...", ".#...", ".#...", "..#..", "...#."}},
    {')', {".#...", "..#..", "...#.", "...#.", "...#.", "..#..", ".#..."}},
    {'%', {"##...", "##..#", "...#.", "..#..", ".#...", "#..##", "...##"}},
    {':', {".....", ".##..", ".##..", ".....", ".##..", ".##..", "....."}},
    {'a', {".....", ".....", ".###.", "....#", ".####", "#...#", ".####"}},
    {'b', {"#....", "#....", "#.##.", "##..#", "#...#", "#...#", "####."}},
    {'c', {".....", ".....", ".###.", "#....", "#....", "#...#", ".###."}},
    {'d', {"....#", "....#", ".##.#", "#..##", "#...#", "#...#", ".####"}},
    {'e', {".....", ".....", ".###.", "#...#", "#####", "#....", ".###."}},
    {'f', {"..##.", ".#..#", ".#...", "###..", ".#...", ".#...", ".#..."}},
    {'g', {".....", ".....", ".####", "#...#", "#...#", "#...#", ".####", "....#", ".###."}},
    {'h', {"#....", "#....", "#.##.", "##..#", "#...#", "#...#", "#...#"}},
    {'i', {"..#..", ".....", ".##..", "..#..", "..#..", "..#..", ".###."}},
    {'j', {"...#.", ".....", "..##.", "...#.", "...#.", "...#.", "...#.", "#..#.", ".##.."}},
    {'k', {"#....", "#....", "#..#.", "#.#..", "##...", "#.#..", "#..#."}},
    {'l', {".##..", "..#..", "..#..", "..#..", "..#..", "..#..", ".###."}},
    {'m', {".....", ".....", "##.#.", "#.#.#", "#.#.#", "#...#", "#...#"}},
    {'n', {".....", ".....", "#.##.", "##..#", "#...#", "#...#", "#...#"}},
    {'o', {".....", ".....", ".###.", "#...#", "#...#", "#...#", ".###."}},
    {'p', {".....", ".....", "####.", "#...#", "#...#", "#...#", "####.", "#....", "#...."}},
    {'q', {".....", ".....", ".####", "#...#", "#...#", "#...#", ".####", "....#", "....#"}},
    {'r', {".....", ".....", "#.##.", "##..#", "#....", "#....", "#...."}},
    {'s', {".....", ".....", ".###.", "#....", ".###.", "....#", "####."}},
    {'t', {".#...", ".#...", "###..", ".#...", ".#...", ".#..#", "..##."}},
    {'u', {".....", ".....", "#...#", "#...#", "#...#", "#..##", ".##.#"}},
    {'v', {".....", ".....", "#...#", "#...#", "#...#", ".#.#.", "..#.."}},
    {'w', {".....", ".....", "#...#", "#...#", "#.#.#", "#.#.#", ".#.#."}},
    {'x', {".....", ".....", "#...#", ".#.#.", "..#..", ".#.#.", "#...#"}},
    {'y', {".....", ".....", "#...#", "#...#", "#...#", "#...#", ".####", "....#", ".###."}},
    {'z', {".....", ".....", "#####", "...#.", "..#..", ".#...", "#####"}},
};
// clang-format on

const Glyph* FindGlyph(char character) {
  for (const Glyph& glyph : kFont) {
    if (glyph.character == character) return &glyph;
  }
  return nullptr;
}

}  // namespace

RgbCanvas::RgbCanvas(int width_px, int height_px, Rgb background) : width_px_(width_px), height_px_(height_px) {
  pixels_.resize(static_cast<size_t>(width_px) * static_cast<size_t>(height_px) * 3);
  for (size_t i = 0; i < pixels_.size(); i += 3) {
    pixels_[i] = background.r;
    pixels_[i + 1] = background.g;
    pixels_[i + 2] = background.b;
  }
}

Rgb RgbCanvas::At(int x, int y) const {
  const uint8_t* p = &pixels_[(static_cast<size_t>(y) * width_px_ + x) * 3];
  return {p[0], p[1], p[2]};
}

void RgbCanvas::SetPixel(int x, int y, Rgb color) {
  if (x < 0 || y < 0 || x >= width_px_ || y >= height_px_) return;
  uint8_t* p = &pixels_[(static_cast<size_t>(y) * width_px_ + x) * 3];
  p[0] = color.r;
  p[1] = color.g;
  p[2] = color.b;
}

void RgbCanvas::FillRect(int x0, int y0, int x1, int y1, Rgb color) {
  const int left = std::max(std::min(x0, x1), 0), right = std::min(std::max(x0, x1), width_px_ - 1);
  const int top = std::max(std::min(y0, y1), 0), bottom = std::min(std::max(y0, y1), height_px_ - 1);
  for (int y = top; y <= bottom; ++y) {
    for (int x = left; x <= right; ++x) SetPixel(x, y, color);
  }
}

void RgbCanvas::DrawLine(int x0, int y0, int x1, int y1, int thickness_px, Rgb color) {
  // Bresenham, stamping a thickness x thickness square at every step.
  const int before = (thickness_px - 1) / 2, after = thickness_px - 1 - before;
  const int dx = std::abs(x1 - x0), dy = -std::abs(y1 - y0);
  const int step_x = x0 < x1 ? 1 : -1, step_y = y0 < y1 ? 1 : -1;
  int error = dx + dy;
  while (true) {
    FillRect(x0 - before, y0 - before, x0 + after, y0 + after, color);
    if (x0 == x1 && y0 == y1) return;
    const int doubled = 2 * error;
    if (doubled >= dy) {
      error += dy;
      x0 += step_x;
    }
    if (doubled <= dx) {
      error += dx;
      y0 += step_y;
    }
  }
}

void RgbCanvas::DrawText(int x, int y, const std::string& text, int scale, Rgb color) {
  for (char character : text) {
    if (const Glyph* glyph = FindGlyph(character)) {
      for (int row = 0; row < kGlyphHeightPx + kGlyphDescentPx && glyph->rows[row]; ++row) {
        for (int column = 0; column < kGlyphWidthPx; ++column) {
          if (glyph->rows[row][column] != '#') continue;
          FillRect(x + column * scale, y + row * scale, x + (column + 1) * scale - 1, y + (row + 1) * scale - 1, color);
        }
      }
    }
    x += kGlyphAdvancePx * scale;
  }
}

int RgbCanvas::TextWidthPx(const std::string& text, int scale) {
  if (text.empty()) return 0;
  return (static_cast<int>(text.size()) * kGlyphAdvancePx - 1) * scale;
}

}  // namespace camserve
