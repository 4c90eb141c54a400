// ServerMetrics: camserve's Prometheus metrics (docs/operations.md lists them
// all with their meaning).
//
// Event metrics are recorded as requests and batches happen:
//   camserve_requests_total{model,method,status}       counter
//   camserve_stage_duration_seconds{model,method,stage} histogram, 50 us..30 s
//   camserve_batch_size{model}                          histogram
//   camserve_requests_in_flight                         gauge
//   camserve_auth_failures_total{reason}                counter
//   camserve_http_requests_total{route,code}            counter (HTTP API)
// State metrics are read from their sources at each scrape:
//   camserve_queue_depth{model}, camserve_queue_capacity{model},
//   camserve_model_info{model,version,device} (always 1),
//   camserve_cache_{hits,misses,evictions}_total,
//   camserve_cache_errors_total{op} (op: read, write, damaged),
//   camserve_cache_writes_paused, camserve_cache_bytes,
//   camserve_cache_entries, camserve_cache_capacity_bytes (when the cache is
//   enabled), camserve_cache_coalesced_requests_total,
//   camserve_gpu_memory_{allocated,reserved}_bytes{device} (CUDA models only),
//   camserve_inflight_bytes, camserve_inflight_capacity_bytes,
//   camserve_process_resident_memory_bytes, camserve_process_cpu_seconds_total.
//
// Labels are bounded: `model` is a served model's name or "unknown" (a
// request naming no served model), `method` a CAM method's canonical name or
// "unknown" (an unparsable method), `status` a gRPC status code name
// ("OK", "INVALID_ARGUMENT", ...), `stage` one of the profiler's stages,
// `reason` one of the token authenticator's (missing_token, invalid_token,
// not_admin; core/security/token_authenticator.h), `route` one of the HTTP
// API's (server/http_gateway.h), `code` an HTTP status. No
// request ids, layers or other client strings become labels.
//
// Thread-safety: every Record* method may be called from any thread; the
// hot path takes no lock of its own (the label children are resolved once and
// kept in atomic tables; prometheus-cpp's histogram takes a short per-series
// mutex). Scrapes may run concurrently with recording.
// Ownership: the sources in StateSources are called during scrapes and must
// stay valid while an endpoint serves this object (stop the MetricsEndpoint
// first, or set empty sources).
// Cost: RecordRequest about 50 ns, RecordStages about 100 ns per stage once
// its series exist (docs/benchmarks.md, "Profiler").
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/cam/cam_method_kind.h"
#include "core/profiling/stage_timings.h"
#include "core/util/status.h"

namespace prometheus {
class Collectable;
class Counter;
class Gauge;
class Histogram;
class Registry;
template <typename T>
class Family;
}  // namespace prometheus

namespace camserve {

// A served model as the scrape sees it.
struct ModelState {
  std::string name;
  std::string version;
  std::string device;  // "cpu", "cuda:0"
  int64_t queue_depth = 0;
  int64_t queue_capacity = 0;
};

// The heatmap cache's counters and size (see HeatmapCache::Stats).
struct CacheState {
  int64_t hits = 0;
  int64_t misses = 0;
  int64_t evictions = 0;
  int64_t read_errors = 0;
  int64_t write_errors = 0;
  int64_t damaged = 0;
  int64_t entries = 0;
  int64_t bytes = 0;
  int64_t capacity_bytes = 0;
  bool writes_paused = false;
};

// The request pipeline's in-flight byte budget (core/serving/inflight_budget.h).
struct InflightState {
  int64_t bytes = 0;
  int64_t capacity_bytes = 0;
};

// One CUDA device's caching-allocator memory.
struct GpuMemoryState {
  std::string device;  // "cuda:0"
  int64_t allocated_bytes = 0;
  int64_t reserved_bytes = 0;
};

class ServerMetrics {
 public:
  struct Options {
    // The served models' names (the only `model` label values besides
    // "unknown"). Required.
    std::vector<std::string> model_names;
    // Upper bounds of the stage-duration buckets, in seconds, increasing.
    // Default: 50 us to 30 s, about three per decade.
    std::vector<double> stage_bucket_bounds_seconds = DefaultStageBucketBoundsSeconds();
    // The largest batch size; the batch-size buckets are every size up to
    // 16, then 24, 32, 48, 64, ... up to this. Default: 8.
    int max_batch_size = 8;
  };

  // Read at every scrape; each may be empty (the metrics are then absent).
  struct StateSources {
    std::function<std::vector<ModelState>()> models;
    // nullopt: the cache is disabled.
    std::function<std::optional<CacheState>()> cache;
    std::function<int64_t()> coalesced_requests;
    std::function<std::vector<GpuMemoryState>()> gpu_memory;
    std::function<InflightState()> inflight;
  };

  static std::vector<double> DefaultStageBucketBoundsSeconds();

  // INVALID_ARGUMENT for no models, duplicate names, unsorted buckets or a
  // batch size below 1.
  static StatusOr<std::unique_ptr<ServerMetrics>> Create(const Options& options, StateSources sources = {});
  // Replaces the state sources: what exports state registers here once it
  // exists, before an endpoint serves (or between scrapes; scrapes see the
  // old or the new sources, never a mix).
  void SetStateSources(StateSources sources);
  ~ServerMetrics();
  ServerMetrics(const ServerMetrics&) = delete;
  ServerMetrics& operator=(const ServerMetrics&) = delete;

  // One finished explanation request (an Explain call or one ExplainStream
  // message). `method` unset: the request's method did not parse.
  void RecordRequest(std::string_view model, std::optional<CamMethodKind> method, StatusCode code);
  // Observes every stage `timings` has.
  void RecordStages(std::string_view model, std::optional<CamMethodKind> method, const StageTimings& timings);
  // One batch that reached the engine.
  void RecordBatch(std::string_view model, int batch_size);
  // The in-flight gauge: requests received and not yet answered.
  void RequestStarted();
  void RequestFinished();
  // One call refused by token authentication, before any work; `reason` is
  // AuthFailureName's (a bounded set).
  void RecordAuthFailure(std::string_view reason);
  // One answered HTTP API request: its route (a fixed name) and HTTP status.
  void RecordHttpRequest(std::string_view route, int http_status);

  // What an endpoint serves: the event metrics' registry and the state
  // collector.
  std::vector<std::weak_ptr<prometheus::Collectable>> collectables() const;
  // The whole exposition in Prometheus text format (what GET /metrics gives).
  std::string ScrapeText() const;

  // -- implementation details follow ---------------------------------------
 private:
  class StateCollector;
  // Where a (model, method) pair's children sit in the slot tables.
  struct LabelSlot {
    int model_index = -1;  // -1: "unknown"
    int method_index = 0;
    size_t offset = 0;  // model slot * method slots + method index
  };
  explicit ServerMetrics(const Options& options, StateSources sources);
  LabelSlot LabelSlotOf(std::string_view model, std::optional<CamMethodKind> method) const;
  // -1 for names that are not served ("unknown").
  int ModelIndex(std::string_view model) const;
  std::string ModelLabel(int model_index) const;
  static int MethodIndex(std::optional<CamMethodKind> method);
  static std::string MethodLabel(int method_index);

  const Options options_;
  std::shared_ptr<prometheus::Registry> registry_;
  std::shared_ptr<StateCollector> state_collector_;
  prometheus::Family<prometheus::Counter>* requests_family_;
  prometheus::Family<prometheus::Histogram>* stage_family_;
  prometheus::Family<prometheus::Histogram>* batch_family_;
  prometheus::Family<prometheus::Counter>* auth_failures_family_;
  prometheus::Family<prometheus::Counter>* http_requests_family_;
  prometheus::Gauge* in_flight_;
  // Lazily resolved label children, indexed by model (the last slot is
  // "unknown"), method (the last is "unknown") and status code or stage.
  std::unique_ptr<std::atomic<prometheus::Counter*>[]> request_counters_;
  std::unique_ptr<std::atomic<prometheus::Histogram*>[]> stage_histograms_;
  std::vector<prometheus::Histogram*> batch_histograms_;  // per model, made at construction
};

}  // namespace camserve
