// Tests for ApplyJetColormap (against OpenCV) and BlendOverlay.
#include "core/image/colormap.h"

#include <catch2/catch.hpp>
#include <cmath>
#include <limits>
#include <vector>

namespace camserve {
namespace {

using Rgb = std::vector<uint8_t>;

Rgb Jet(float v) { return ApplyJetColormap(&v, 1); }

TEST_CASE("Jet entries equal OpenCV's COLORMAP_JET in RGB order", "[colormap]") {
  // From Debian's python3-opencv 4.6:
  //   cv2.applyColorMap(np.uint8([[i]]), cv2.COLORMAP_JET)[0, 0, ::-1]
  struct Entry {
    int index;
    Rgb rgb;
  };
  for (const Entry& e :
       {Entry{0, {0, 0, 128}}, Entry{1, {0, 0, 132}}, Entry{32, {0, 0, 255}}, Entry{64, {0, 128, 255}},
        Entry{96, {2, 255, 254}}, Entry{127, {126, 255, 130}}, Entry{128, {130, 255, 126}}, Entry{159, {254, 255, 1}},
        Entry{160, {255, 252, 0}}, Entry{223, {255, 0, 0}}, Entry{254, {132, 0, 0}}, Entry{255, {128, 0, 0}}}) {
    INFO("index " << e.index);
    CHECK(Jet(e.index / 255.0f) == e.rgb);
  }
}

TEST_CASE("Jet rounds v * 255 to the nearest index", "[colormap]") {
  CHECK(Jet(0.4f / 255) == Jet(0.0f));
  CHECK(Jet(0.6f / 255) == Jet(1.0f / 255));
  CHECK(Jet(127.6f / 255) == Jet(128.0f / 255));
  CHECK(Jet(0.5f) == Jet(128.0f / 255));  // 127.5 rounds up
}

TEST_CASE("Jet clamps out-of-range values and maps NaN to 0", "[colormap]") {
  const float inf = std::numeric_limits<float>::infinity();
  CHECK(Jet(-0.5f) == Jet(0.0f));
  CHECK(Jet(-inf) == Jet(0.0f));
  CHECK(Jet(std::nanf("")) == Jet(0.0f));
  CHECK(Jet(1.5f) == Jet(1.0f));
  CHECK(Jet(inf) == Jet(1.0f));
}

TEST_CASE("Jet maps each value to one triplet, in order", "[colormap]") {
  const std::vector<float> values = {1.0f, 0.0f, 128.0f / 255};
  CHECK(ApplyJetColormap(values.data(), values.size()) == Rgb{128, 0, 0, 0, 0, 128, 130, 255, 126});
  CHECK(ApplyJetColormap(nullptr, 0).empty());
}

TEST_CASE("BlendOverlay rounds the weighted sum", "[colormap]") {
  const Rgb heat = {255, 200, 0, 10, 20, 30};
  const Rgb image = {0, 100, 255, 10, 20, 30};
  CHECK(BlendOverlay(heat.data(), image.data(), 2, 0.0f) == image);
  CHECK(BlendOverlay(heat.data(), image.data(), 2, 1.0f) == heat);
  // Weights exact in binary, so the expectations need no float slack:
  // 0.5 * 255 = 127.5 -> 128; 0.25 * 255 = 63.75 -> 64; 0.75 * 255 = 191.25 -> 191.
  CHECK(BlendOverlay(heat.data(), image.data(), 2, 0.5f) == Rgb{128, 150, 128, 10, 20, 30});
  CHECK(BlendOverlay(heat.data(), image.data(), 2, 0.25f) == Rgb{64, 125, 191, 10, 20, 30});
}

TEST_CASE("BlendOverlay clamps the weight to [0, 1], NaN to 0", "[colormap]") {
  const Rgb heat = {255, 0, 90};
  const Rgb image = {0, 255, 30};
  CHECK(BlendOverlay(heat.data(), image.data(), 1, 2.0f) == heat);
  CHECK(BlendOverlay(heat.data(), image.data(), 1, -1.0f) == image);
  CHECK(BlendOverlay(heat.data(), image.data(), 1, std::nanf("")) == image);
  CHECK(BlendOverlay(nullptr, nullptr, 0, 0.5f).empty());
}

}  // namespace
}  // namespace camserve
