// HeatmapCacheKey: the cache key of one explanation, the SHA-256 of
// everything that determines the answer: the cache format version, the model
// fingerprint (ModelFingerprint: file bytes and preprocessing), the method,
// the resolved target layer, the target class or "top-1", top_k, the output
// resolution and encoding, the quality scores' steps (0: none asked for), and
// the input (an encoded image's bytes, or a raw tensor's shape and bytes).
// Each field is length-prefixed, so no two different requests share a key by
// concatenation.
//
// Thread-safety: a pure function.
// Cost: one SHA-256 pass over the input bytes (measured: docs/benchmarks.md,
// "Component costs").
#pragma once

#include <array>
#include <cstdint>
#include <cstring>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace camserve {

// Bump when the key or the stored value changes meaning: old entries then
// simply stop matching.
// 2: XXH3 value checksum; 3: quality scores (CSH3).
inline constexpr int kHeatmapCacheFormatVersion = 3;

struct HeatmapCacheKeyFields {
  std::string model_fingerprint;
  std::string method;               // canonical name: "gradcam", ...
  std::string target_layer;         // resolved: never empty
  std::optional<int> target_class;  // unset: top-1
  int top_k = 0;
  int resolution = 0;  // the wire enum's value
  int encoding = 0;    // the wire enum's value
  // Quality scores: their deletion/insertion steps; 0: not asked for.
  int quality_steps = 0;
  // Exactly one input: encoded image bytes, or a tensor's shape and bytes.
  std::string_view image_bytes;
  std::vector<int64_t> tensor_shape;
  std::string_view tensor_bytes;
};

using HeatmapCacheKey = std::array<uint8_t, 32>;

// Hash for unordered containers: a SHA-256 digest's first bytes are already
// uniform.
struct HeatmapCacheKeyHash {
  size_t operator()(const HeatmapCacheKey& key) const {
    size_t hash;
    std::memcpy(&hash, key.data(), sizeof(hash));
    return hash;
  }
};

HeatmapCacheKey MakeHeatmapCacheKey(const HeatmapCacheKeyFields& fields);

}  // namespace camserve
