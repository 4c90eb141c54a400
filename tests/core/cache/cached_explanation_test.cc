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
