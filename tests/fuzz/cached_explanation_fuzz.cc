// Fuzz target: the heatmap cache's stored value parser
// (ParseCachedExplanation), which reads whatever RocksDB hands back, damaged
// or not. The input is parsed twice: as it is (nearly always stopped by the
// checksum), and with its own valid XXH3 checksum appended, so that the
// fields behind the checksum are explored too. A value that parses must
// serialize back to exactly the same bytes.
#include <xxhash.h>

#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "core/cache/cached_explanation.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  (void)camserve::ParseCachedExplanation(bytes);

  std::string checksummed(bytes);
  const uint64_t hash = XXH3_64bits(bytes.data(), bytes.size());
  for (int i = 0; i < 8; ++i) checksummed.push_back(static_cast<char>(hash >> (8 * i)));
  const camserve::StatusOr<camserve::CachedExplanation> value = camserve::ParseCachedExplanation(checksummed);
  if (value.ok() && camserve::SerializeCachedExplanation(*value) != checksummed) std::abort();
  return 0;
}
