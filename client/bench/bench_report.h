// The reports camserve-bench prints and writes, one entry per load level:
// a readable table (stdout), CSV (one row per level, with a header) and JSON
// (an array of level objects). CSV and JSON carry the same fields:
//
//   load                 "concurrency" or "rate"
//   concurrency          outstanding requests (closed loop); empty/null for rate
//   rate_rps             target sends per second (open loop); empty/null otherwise
//   duration_s           measurement window, seconds
//   ok, errors           answers in the window, OK and not OK
//   throughput_rps       ok / duration_s
//   p50_ms p90_ms p99_ms max_ms mean_ms
//                        client-side end-to-end latency of the OK answers
//                        (nearest-rank percentiles)
//   mean_batch_size      mean ExplainResponse.batch_size
//   cache_hit_fraction   share of OK answers with cache_hit, 0..1
//   server_queue_ms server_preprocess_ms server_forward_ms
//   server_backward_ms server_cam_ms server_encode_ms server_total_ms
//   server_cache_get_ms server_cache_put_ms server_decode_ms
//                        means of ExplainResponse.timings, milliseconds
//   errors_by_code       CSV: "UNAVAILABLE=3;DEADLINE_EXCEEDED=1";
//                        JSON: {"UNAVAILABLE": 3, ...}
//
// Statistics that need an OK answer are empty (CSV), null (JSON) or "-"
// (table) for a level without one. Milliseconds and rates have 3 decimals,
// the cache-hit fraction 4.
//
// Thread-safety: free functions on values.
#pragma once

#include <string>
#include <vector>

#include "client/bench/latency_stats.h"
#include "core/util/status.h"

namespace camserve {

// Two aligned tables (client-side latency; server-side means) followed by
// one line per error code with the first error's message.
std::string FormatTable(const std::vector<LevelReport>& reports);

std::string FormatCsv(const std::vector<LevelReport>& reports);

std::string FormatJson(const std::vector<LevelReport>& reports);

}  // namespace camserve
