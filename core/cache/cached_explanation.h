// CachedExplanation: what the heatmap cache stores per key: the encoded
// heatmap and its metadata (target class, label, probability, top-k), as
// bytes with a checksum, so that a damaged value is detected and never
// served.
//
// Format (little-endian): "CSH3", width, height, encoding (u32 each), heatmap
// data (u32 length + bytes), target (i32 class, u32 length + label, f32
// probability), top-k count (u32) and that many targets, then the first 8
// the XXH3-64 hash of everything before them (8 bytes).
//
// Thread-safety: pure functions.
// Errors: ParseCachedExplanation returns DATA_LOSS for a wrong magic, a
// truncated value, trailing bytes or a checksum mismatch.
// Cost: one copy and one XXH3 pass over the value (measured:
// docs/benchmarks.md, "Component costs").
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/engine/explain_types.h"
#include "core/util/status.h"

namespace camserve {

struct CachedExplanation {
  int width_px = 0;
  int height_px = 0;
  int encoding = 0;  // the wire enum's value
  std::string data;  // the heatmap, already encoded
  ClassScore target;
  std::vector<ClassScore> top_k;
  // Set when the request asked for quality scores.
  std::optional<ExplanationQuality> quality;
};

std::string SerializeCachedExplanation(const CachedExplanation& value);
StatusOr<CachedExplanation> ParseCachedExplanation(std::string_view bytes);

}  // namespace camserve
