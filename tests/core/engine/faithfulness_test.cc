// Faithfulness on the digits model: deleting the pixels a heatmap ranks
// highest must hurt the explained class more than deleting as many random
// pixels, for nearly every held-out digit. Deleting = setting to black, the
// digits' background.
#include <algorithm>
#include <fstream>
#include <numeric>
#include <random>
#include <sstream>

#include "tests/core/engine/engine_test_util.h"

namespace camserve {
namespace {

using testing::MakeEngine;
using testing::ModelDir;
using testing::ReadBytes;

constexpr double kMaskedFraction = 0.20;
constexpr double kRequiredWinRate = 0.90;

struct Digit {
  DecodedImage image;
  int label;
};

std::vector<Digit> LoadHoldout() {
  const std::string dir = ModelDir() + "/digits_holdout";
  std::ifstream list(dir + "/labels.txt");
  REQUIRE(list);
  std::vector<Digit> digits;
  std::string file;
  int label;
  while (list >> file >> label) {
    StatusOr<DecodedImage> image = DecodeImage(ReadBytes(dir + "/" + file));
    REQUIRE(image.ok());
    digits.push_back({std::move(image).value(), label});
  }
  return digits;
}

DecodedImage Masked(const DecodedImage& image, const std::vector<size_t>& pixel_order, size_t count) {
  DecodedImage masked = image;
  for (size_t i = 0; i < count; ++i) std::fill_n(masked.rgb.begin() + 3 * pixel_order[i], 3, 0);
  return masked;
}

float ProbabilityOf(ExplainerEngine& engine, const DecodedImage& image, int class_index) {
  StatusOr<PreparedInput> input = engine.preprocessor().FromDecodedImage(image);
  REQUIRE(input.ok());
  auto scores = engine.Classify({&*input}, engine.info().num_classes);
  REQUIRE(scores.ok());
  for (const ClassScore& score : (*scores)[0]) {
    if (score.class_index == class_index) return score.probability;
  }
  FAIL("class missing from the full top-k");
  return 0.f;
}

double WinRate(ExplainerEngine& engine, const std::vector<Digit>& digits, CamMethodKind method) {
  std::mt19937 rng(42);
  int wins = 0;
  for (const Digit& digit : digits) {
    StatusOr<PreparedInput> input = engine.preprocessor().FromDecodedImage(digit.image);
    REQUIRE(input.ok());
    ExplainItem item = testing::Item(*input, std::nullopt, HeatmapResolution::kOriginal);
    StatusOr<BatchResult> result = engine.Explain({method, ""}, {item});
    REQUIRE(result.ok());
    const ExplainResult& explained = result->items[0];
    const std::vector<float>& heat = explained.heatmap.values;
    REQUIRE(heat.size() == static_cast<size_t>(digit.image.width * digit.image.height));
    const size_t count = static_cast<size_t>(kMaskedFraction * heat.size());

    std::vector<size_t> by_heat(heat.size());
    std::iota(by_heat.begin(), by_heat.end(), 0);
    std::stable_sort(by_heat.begin(), by_heat.end(), [&](size_t a, size_t b) { return heat[a] > heat[b]; });
    std::vector<size_t> random_order = by_heat;
    std::shuffle(random_order.begin(), random_order.end(), rng);

    const int target = explained.target.class_index;
    const float base = explained.target.probability;
    const float after_heat = ProbabilityOf(engine, Masked(digit.image, by_heat, count), target);
    const float after_random = ProbabilityOf(engine, Masked(digit.image, random_order, count), target);
    if (base - after_heat > base - after_random) ++wins;
  }
  return static_cast<double>(wins) / digits.size();
}

TEST_CASE("digits model: masking the hottest 20% beats masking random 20%") {
  auto engine = MakeEngine(ModelDir() + "/digits_cnn.pt");
  std::vector<Digit> digits = LoadHoldout();
  REQUIRE(digits.size() >= 300);
  for (CamMethodKind method : AllCamMethods()) {
    const double rate = WinRate(*engine, digits, method);
    INFO(CamMethodName(method) << ": heatmap masking hurt more on " << rate * 100 << "% of " << digits.size()
                               << " held-out digits");
    WARN(CamMethodName(method) << " win rate " << rate);
    if (method == CamMethodKind::kGradCam) CHECK(rate >= kRequiredWinRate);
  }
}

}  // namespace
}  // namespace camserve
