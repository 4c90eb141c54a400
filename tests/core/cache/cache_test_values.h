// Keys, values and charges for the heatmap cache's tests.
#pragma once

#include <cstdint>
#include <string>

#include "core/cache/cached_explanation.h"
#include "core/cache/heatmap_cache.h"

namespace camserve::testing {

// A key made from `id` (distinct ids, distinct keys).
inline HeatmapCacheKey KeyOf(int id) {
  HeatmapCacheKey key{};
  for (int i = 0; i < 4; ++i) key[i] = static_cast<uint8_t>(id >> (8 * i));
  key[31] = 0x5a;
  return key;
}

// A value whose bytes say which key and which version it belongs to.
inline CachedExplanation ValueOf(int id, int version, size_t data_bytes) {
  CachedExplanation value;
  value.width_px = id;
  value.height_px = version;
  value.encoding = 1;
  value.data.resize(data_bytes);
  for (size_t i = 0; i < data_bytes; ++i) value.data[i] = static_cast<char>((id * 131 + version * 7 + i) & 0xff);
  value.target = ClassScore{id % 10, "label" + std::to_string(id), 0.5f};
  value.top_k = {value.target};
  return value;
}

// What the cache charges for storing `value` under `model`.
inline int64_t ChargeOf(const CachedExplanation& value, const std::string& model) {
  return HeatmapCache::EntryChargeBytes(static_cast<int64_t>(SerializeCachedExplanation(value).size()), model);
}

}  // namespace camserve::testing
