// Tests for the axis weights (against PyTorch's and Pillow's definitions,
// worked out by hand) and the separable pass.
#include "core/image/separable_resample.h"

#include <catch2/catch.hpp>
#include <map>
#include <vector>

namespace camserve {
namespace {

// The weights of output i as {source index: weight}.
std::map<int, float> WeightsOf(const AxisWeights& weights, int i) {
  std::map<int, float> by_source;
  for (int k = 0; k < weights.count[i]; ++k) by_source[weights.first[i] + k] = weights.weights[i * weights.taps + k];
  return by_source;
}

void CheckWeights(const AxisWeights& weights, int i, const std::map<int, float>& expected) {
  INFO("output " << i);
  const std::map<int, float> actual = WeightsOf(weights, i);
  REQUIRE(actual.size() == expected.size());
  for (const auto& [source, weight] : expected) {
    INFO("source " << source);
    REQUIRE(actual.count(source) == 1);
    CHECK(actual.at(source) == Approx(weight).margin(1e-7));
  }
}

TEST_CASE("antialiased weights are Pillow's triangle, widened by the shrink factor") {
  // 4 -> 2: centres 1 and 3, support 2; samples at 0.5, 1.5, 2.5 weigh
  // 0.75, 0.75, 0.25 before normalising.
  const AxisWeights weights = AntialiasedBilinearAxisWeights(4, 2);
  REQUIRE(weights.target_size() == 2);
  CHECK(weights.taps == 5);
  CheckWeights(weights, 0, {{0, 3.f / 7}, {1, 3.f / 7}, {2, 1.f / 7}});
  CheckWeights(weights, 1, {{1, 1.f / 7}, {2, 3.f / 7}, {3, 3.f / 7}});
}

TEST_CASE("bilinear weights use half-pixel centres clamped to the edges") {
  // 2 -> 4: source positions -0.25 (clamped to 0), 0.25, 0.75, 1.25 (past
  // the last sample).
  const AxisWeights weights = BilinearAxisWeights(2, 4);
  REQUIRE(weights.target_size() == 4);
  CHECK(weights.taps == 2);
  CheckWeights(weights, 0, {{0, 1.f}, {1, 0.f}});
  CheckWeights(weights, 1, {{0, 0.75f}, {1, 0.25f}});
  CheckWeights(weights, 2, {{0, 0.25f}, {1, 0.75f}});
  CheckWeights(weights, 3, {{1, 1.f}});
  // 5 -> 2 skips samples: positions 0.75 and 3.25.
  const AxisWeights shrink = BilinearAxisWeights(5, 2);
  CheckWeights(shrink, 0, {{0, 0.25f}, {1, 0.75f}});
  CheckWeights(shrink, 1, {{3, 0.75f}, {4, 0.25f}});
}

TEST_CASE("equal sizes are the identity") {
  for (const AxisWeights& weights : {BilinearAxisWeights(5, 5), AntialiasedBilinearAxisWeights(5, 5)}) {
    REQUIRE(weights.target_size() == 5);
    CHECK(weights.taps == 1);
    for (int i = 0; i < 5; ++i) CheckWeights(weights, i, {{i, 1.f}});
  }
}

TEST_CASE("each output's weights stay inside the source and sum to 1") {
  const std::pair<int, int> sizes[] = {{1, 1},      {1, 7},      {7, 1},    {3, 224},   {224, 3}, {480, 224},
                                       {1080, 224}, {1000, 333}, {20, 224}, {224, 448}, {2, 3},   {3, 2}};
  for (const auto& [source, target] : sizes) {
    for (bool antialiased : {false, true}) {
      INFO(source << " -> " << target << (antialiased ? " antialiased" : " bilinear"));
      const AxisWeights weights =
          antialiased ? AntialiasedBilinearAxisWeights(source, target) : BilinearAxisWeights(source, target);
      REQUIRE(weights.target_size() == target);
      REQUIRE(weights.weights.size() == static_cast<size_t>(target) * weights.taps);
      for (int i = 0; i < target; ++i) {
        INFO("output " << i);
        REQUIRE(weights.count[i] >= 1);
        REQUIRE(weights.count[i] <= weights.taps);
        REQUIRE(weights.first[i] >= 0);
        REQUIRE(weights.first[i] + weights.count[i] <= source);
        float sum = 0;
        for (int k = 0; k < weights.count[i]; ++k) sum += weights.weights[i * weights.taps + k];
        CHECK(sum == Approx(1.f).margin(1e-6));
      }
    }
  }
}

TEST_CASE("growing, the antialiased weights are the bilinear ones") {
  // Why torchvision may take the antialiased kernel for a side that grows.
  for (const auto& [source, target] : {std::pair{3, 7}, std::pair{5, 224}, std::pair{20, 224}, std::pair{1, 4}}) {
    INFO(source << " -> " << target);
    const AxisWeights antialiased = AntialiasedBilinearAxisWeights(source, target);
    const AxisWeights bilinear = BilinearAxisWeights(source, target);
    for (int i = 0; i < target; ++i) {
      std::map<int, float> expected = WeightsOf(bilinear, i);
      for (const auto& [index, weight] : WeightsOf(antialiased, i)) {
        INFO("output " << i << ", source " << index);
        CHECK(weight == Approx(expected[index]).margin(1e-6));
      }
    }
  }
}

TEST_CASE("the separable pass weighs along rows, then down columns, per channel") {
  // 4x2 pixels of two channels: channel 0 a ramp along x, channel 1 along y.
  const std::vector<float> source = {0, 0,  7, 0,  14, 0,  21, 0,  //
                                     0, 70, 7, 70, 14, 70, 21, 70};
  std::vector<std::vector<float>> rows;
  ResampleSeparable<2>(source.data(), 4, AntialiasedBilinearAxisWeights(4, 2), BilinearAxisWeights(2, 3),
                       [&](int y, const float* row) {
                         CHECK(y == static_cast<int>(rows.size()));
                         rows.emplace_back(row, row + 4);
                       });
  REQUIRE(rows.size() == 3);
  // Along x: (3 * 0 + 3 * 7 + 14) / 7 = 5 and (7 + 3 * 14 + 3 * 21) / 7 = 16.
  // Down y (positions -0.17 clamped to 0, 0.5, 1.17 past the last row): 0,
  // 35, 70.
  const std::vector<std::vector<float>> expected = {{5, 0, 16, 0}, {5, 35, 16, 35}, {5, 70, 16, 70}};
  for (size_t y = 0; y < 3; ++y) {
    for (size_t i = 0; i < 4; ++i) {
      INFO("row " << y << ", value " << i);
      CHECK(rows[y][i] == Approx(expected[y][i]).margin(1e-5));
    }
  }
}

}  // namespace
}  // namespace camserve
