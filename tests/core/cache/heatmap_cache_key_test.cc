#include "core/cache/heatmap_cache_key.h"

#include <catch2/catch.hpp>

#include <set>

namespace camserve {
namespace {

HeatmapCacheKeyFields Base() {
  HeatmapCacheKeyFields fields;
  fields.model_fingerprint = "sha256:abc";
  fields.method = "gradcam";
  fields.target_layer = "layer4";
  fields.top_k = 5;
  fields.image_bytes = "jpeg bytes";
  return fields;
}

TEST_CASE("every field that determines the answer changes the key") {
  std::set<HeatmapCacheKey> keys = {MakeHeatmapCacheKey(Base())};
  CHECK(MakeHeatmapCacheKey(Base()) == *keys.begin());
  std::vector<HeatmapCacheKeyFields> variants(12, Base());
  variants[0].model_fingerprint = "sha256:abd";
  variants[1].method = "gradcam++";
  variants[2].target_layer = "layer3";
  variants[3].target_class = 0;
  variants[4].top_k = 4;
  variants[5].resolution = 1;
  variants[6].encoding = 2;
  variants[7].image_bytes = "jpeg bytez";
  variants[8].image_bytes = "";
  variants[8].tensor_shape = {3, 2, 2};
  variants[8].tensor_bytes = "jpeg bytes";
  variants[9] = variants[8];
  variants[9].tensor_shape = {3, 1, 4};
  variants[10].quality_steps = 16;
  variants[11].quality_steps = 8;
  for (const HeatmapCacheKeyFields& fields : variants) CHECK(keys.insert(MakeHeatmapCacheKey(fields)).second);
}

TEST_CASE("fields are length-prefixed: moving bytes between fields changes the key") {
  HeatmapCacheKeyFields a = Base(), b = Base();
  a.method = "gradcam";
  a.target_layer = "layer4";
  b.method = "gradcaml";
  b.target_layer = "ayer4";
  CHECK(MakeHeatmapCacheKey(a) != MakeHeatmapCacheKey(b));
}

}  // namespace
}  // namespace camserve
