#include "core/cache/cached_explanation.h"

#include <catch2/catch.hpp>

namespace camserve {
namespace {

CachedExplanation Sample() {
  CachedExplanation value;
  value.width_px = 2;
  value.height_px = 3;
  value.encoding = 0;
  value.data = std::string("\x00\x01\x02\xff", 4);
  value.target = ClassScore{7, "seven", 0.75f};
  value.top_k = {ClassScore{7, "seven", 0.75f}, ClassScore{1, "one", 0.125f}};
  return value;
}

TEST_CASE("a cached explanation round-trips exactly") {
  StatusOr<CachedExplanation> parsed = ParseCachedExplanation(SerializeCachedExplanation(Sample()));
  REQUIRE(parsed.ok());
  CHECK(parsed->width_px == 2);
  CHECK(parsed->height_px == 3);
  CHECK(parsed->data == Sample().data);
  CHECK(parsed->target.class_index == 7);
  CHECK(parsed->target.label == "seven");
  CHECK(parsed->target.probability == 0.75f);
  REQUIRE(parsed->top_k.size() == 2);
  CHECK(parsed->top_k[1].label == "one");
  CHECK(parsed->top_k[1].probability == 0.125f);
}

TEST_CASE("quality scores round-trip exactly; a value without them has none") {
  CachedExplanation value = Sample();
  ExplanationQuality quality;
  quality.target_probability = 0.75f;
  quality.masked_probability = 0.5f;
  quality.confidence_change = -0.25f;
  quality.average_drop = 1.f / 3;
  quality.confidence_increase = true;
  quality.deletion_auc = 0.125f;
  quality.insertion_auc = 0.625f;
  quality.deletion_curve = {0.75f, 0.25f, 0.f};
  quality.insertion_curve = {0.1f, 0.5f, 0.75f};
  quality.steps = 2;
  value.quality = quality;
  StatusOr<CachedExplanation> parsed = ParseCachedExplanation(SerializeCachedExplanation(value));
  REQUIRE(parsed.ok());
  REQUIRE(parsed->quality.has_value());
  CHECK(parsed->quality->target_probability == 0.75f);
  CHECK(parsed->quality->masked_probability == 0.5f);
  CHECK(parsed->quality->confidence_change == -0.25f);
  CHECK(parsed->quality->average_drop == 1.f / 3);
  CHECK(parsed->quality->confidence_increase);
  CHECK(parsed->quality->deletion_auc == 0.125f);
  CHECK(parsed->quality->insertion_auc == 0.625f);
  CHECK(parsed->quality->deletion_curve == quality.deletion_curve);
  CHECK(parsed->quality->insertion_curve == quality.insertion_curve);
  CHECK(parsed->quality->steps == 2);
  CHECK(SerializeCachedExplanation(*parsed) == SerializeCachedExplanation(value));
  StatusOr<CachedExplanation> plain = ParseCachedExplanation(SerializeCachedExplanation(Sample()));
  REQUIRE(plain.ok());
  CHECK_FALSE(plain->quality.has_value());
}

TEST_CASE("any flipped byte, truncation or foreign value is DATA_LOSS") {
  const std::string bytes = SerializeCachedExplanation(Sample());
  for (size_t i = 0; i < bytes.size(); ++i) {
    std::string damaged = bytes;
    damaged[i] = static_cast<char>(damaged[i] ^ 0x20);
    INFO("byte " << i);
    CHECK(ParseCachedExplanation(damaged).status().code() == StatusCode::kDataLoss);
  }
  for (size_t size : {size_t{0}, size_t{4}, size_t{11}, bytes.size() - 1}) {
    CHECK(ParseCachedExplanation(bytes.substr(0, size)).status().code() == StatusCode::kDataLoss);
  }
  CHECK(ParseCachedExplanation("not a heatmap at all").status().code() == StatusCode::kDataLoss);
}

}  // namespace
}  // namespace camserve
