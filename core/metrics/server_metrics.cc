#include "core/metrics/server_metrics.h"

#include "absl/synchronization/mutex.h"

#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <set>

#include <prometheus/collectable.h>
#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>
#include <prometheus/text_serializer.h>

namespace camserve {
namespace {

constexpr char kUnknownLabel[] = "unknown";
// StatusCode values are 0..16.
constexpr int kStatusSlots = 17;

int MethodSlots() { return static_cast<int>(AllCamMethods().size()) + 1; }

std::vector<double> BatchSizeBucketBounds(int max_batch_size) {
  std::vector<double> bounds;
  for (int size = 1; size <= std::min(max_batch_size, 16); ++size) bounds.push_back(size);
  for (int size = 24; size <= max_batch_size; size = size % 3 == 0 ? size / 3 * 4 : size / 2 * 3) {
    bounds.push_back(size);
  }
  if (bounds.back() < max_batch_size) bounds.push_back(max_batch_size);
  return bounds;
}

prometheus::ClientMetric GaugeSample(double value, std::vector<prometheus::ClientMetric::Label> labels = {}) {
  prometheus::ClientMetric sample;
  sample.label = std::move(labels);
  sample.gauge.value = value;
  return sample;
}

prometheus::ClientMetric CounterSample(double value, std::vector<prometheus::ClientMetric::Label> labels = {}) {
  prometheus::ClientMetric sample;
  sample.label = std::move(labels);
  sample.counter.value = value;
  return sample;
}

prometheus::MetricFamily Family(std::string name, std::string help, prometheus::MetricType type,
                                std::vector<prometheus::ClientMetric> samples) {
  return prometheus::MetricFamily{std::move(name), std::move(help), type, std::move(samples)};
}

// Resident set size from /proc/self/statm (pages); 0 where unreadable.
int64_t ResidentMemoryBytes() {
  std::ifstream statm("/proc/self/statm");
  int64_t total_pages = 0, resident_pages = 0;
  if (!(statm >> total_pages >> resident_pages)) return 0;
  return resident_pages * static_cast<int64_t>(sysconf(_SC_PAGESIZE));
}

double ProcessCpuSeconds() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  const auto seconds = [](const timeval& t) { return static_cast<double>(t.tv_sec) + t.tv_usec / 1e6; };
  return seconds(usage.ru_utime) + seconds(usage.ru_stime);
}

}  // namespace

// Builds the state metrics from their sources at each scrape.
class ServerMetrics::StateCollector : public prometheus::Collectable {
 public:
  explicit StateCollector(StateSources sources) : sources_(std::move(sources)) {}

  void SetSources(StateSources sources) ABSL_LOCKS_EXCLUDED(mu_) {
    absl::MutexLock lock(&mu_);
    sources_ = std::move(sources);
  }

  std::vector<prometheus::MetricFamily> Collect() const override ABSL_LOCKS_EXCLUDED(mu_) {
    using prometheus::MetricType;
    absl::MutexLock lock(&mu_);
    std::vector<prometheus::MetricFamily> families;
    if (sources_.models) {
      std::vector<prometheus::ClientMetric> depth, capacity, info;
      for (const ModelState& model : sources_.models()) {
        depth.push_back(GaugeSample(static_cast<double>(model.queue_depth), {{"model", model.name}}));
        capacity.push_back(GaugeSample(static_cast<double>(model.queue_capacity), {{"model", model.name}}));
        info.push_back(GaugeSample(1, {{"device", model.device}, {"model", model.name}, {"version", model.version}}));
      }
      families.push_back(Family("camserve_queue_depth", "Requests waiting in the model's batcher queue.",
                                MetricType::Gauge, std::move(depth)));
      families.push_back(Family("camserve_queue_capacity",
                                "The batcher queue's limit (batcher.max_queue_size); a full queue answers UNAVAILABLE.",
                                MetricType::Gauge, std::move(capacity)));
      families.push_back(Family("camserve_model_info", "A served model: its name, version (fingerprint) and device.",
                                MetricType::Gauge, std::move(info)));
    }
    if (sources_.cache) {
      if (std::optional<CacheState> cache = sources_.cache()) AddCacheFamilies(*cache, &families);
    }
    if (sources_.coalesced_requests) {
      families.push_back(Family("camserve_cache_coalesced_requests_total",
                                "Requests answered by an identical request's computation already in flight.",
                                MetricType::Counter,
                                {CounterSample(static_cast<double>(sources_.coalesced_requests()))}));
    }
    if (sources_.gpu_memory) {
      std::vector<prometheus::ClientMetric> allocated, reserved;
      for (const GpuMemoryState& gpu : sources_.gpu_memory()) {
        allocated.push_back(GaugeSample(static_cast<double>(gpu.allocated_bytes), {{"device", gpu.device}}));
        reserved.push_back(GaugeSample(static_cast<double>(gpu.reserved_bytes), {{"device", gpu.device}}));
      }
      if (!allocated.empty()) {
        families.push_back(Family("camserve_gpu_memory_allocated_bytes",
                                  "GPU memory in use by tensors (LibTorch's caching allocator).", MetricType::Gauge,
                                  std::move(allocated)));
        families.push_back(Family("camserve_gpu_memory_reserved_bytes",
                                  "GPU memory held by LibTorch's caching allocator, in use or cached.",
                                  MetricType::Gauge, std::move(reserved)));
      }
    }
    if (sources_.inflight) {
      const InflightState inflight = sources_.inflight();
      families.push_back(Family("camserve_inflight_bytes",
                                "Bytes that requests in flight hold, as estimated at admission.", MetricType::Gauge,
                                {GaugeSample(static_cast<double>(inflight.bytes))}));
      families.push_back(Family("camserve_inflight_capacity_bytes",
                                "The in-flight byte budget (limits.max_inflight_bytes); beyond it, UNAVAILABLE.",
                                MetricType::Gauge, {GaugeSample(static_cast<double>(inflight.capacity_bytes))}));
    }
    families.push_back(Family("camserve_process_resident_memory_bytes", "Resident memory of the camserve process.",
                              MetricType::Gauge, {GaugeSample(static_cast<double>(ResidentMemoryBytes()))}));
    families.push_back(Family("camserve_process_cpu_seconds_total", "User and system CPU time of the process.",
                              MetricType::Counter, {CounterSample(ProcessCpuSeconds())}));
    return families;
  }

 private:
  static void AddCacheFamilies(const CacheState& cache, std::vector<prometheus::MetricFamily>* families) {
    using prometheus::MetricType;
    const auto counter = [&](const char* name, const char* help, int64_t value) {
      families->push_back(Family(name, help, MetricType::Counter, {CounterSample(static_cast<double>(value))}));
    };
    const auto gauge = [&](const char* name, const char* help, int64_t value) {
      families->push_back(Family(name, help, MetricType::Gauge, {GaugeSample(static_cast<double>(value))}));
    };
    counter("camserve_cache_hits_total", "Heatmap cache lookups that found a valid entry.", cache.hits);
    counter("camserve_cache_misses_total", "Heatmap cache lookups that found none.", cache.misses);
    counter("camserve_cache_evictions_total", "Entries evicted by the LRU size limit.", cache.evictions);
    families->push_back(Family("camserve_cache_errors_total",
                               "Cache faults, none of which fails a request: failed reads (op=read, a miss), "
                               "failed or paused writes (op=write, an answer not stored), damaged values and "
                               "index records deleted (op=damaged).",
                               MetricType::Counter,
                               {CounterSample(static_cast<double>(cache.read_errors), {{"op", "read"}}),
                                CounterSample(static_cast<double>(cache.write_errors), {{"op", "write"}}),
                                CounterSample(static_cast<double>(cache.damaged), {{"op", "damaged"}})}));
    gauge("camserve_cache_writes_paused", "1 while cache writes are paused after a failed write, else 0.",
          cache.writes_paused ? 1 : 0);
    gauge("camserve_cache_entries", "Entries in the heatmap cache.", cache.entries);
    gauge("camserve_cache_bytes", "Bytes charged to the heatmap cache's entries (value + model name + 128).",
          cache.bytes);
    gauge("camserve_cache_capacity_bytes", "The cache's size limit (cache.max_size_bytes).", cache.capacity_bytes);
  }

  mutable absl::Mutex mu_;
  StateSources sources_ ABSL_GUARDED_BY(mu_);
};

void ServerMetrics::SetStateSources(StateSources sources) { state_collector_->SetSources(std::move(sources)); }

std::vector<double> ServerMetrics::DefaultStageBucketBoundsSeconds() {
  return {50e-6, 100e-6, 250e-6, 500e-6, 1e-3, 2.5e-3, 5e-3, 10e-3, 25e-3,
          50e-3, 100e-3, 250e-3, 500e-3, 1.0,  2.5,    5.0,  10.0,  30.0};
}

StatusOr<std::unique_ptr<ServerMetrics>> ServerMetrics::Create(const Options& options, StateSources sources) {
  if (options.model_names.empty()) return InvalidArgumentError("ServerMetrics needs at least one model name");
  const std::set<std::string> unique(options.model_names.begin(), options.model_names.end());
  if (unique.size() != options.model_names.size()) return InvalidArgumentError("model names must be unique");
  if (unique.count(kUnknownLabel) != 0) {
    return InvalidArgumentError("a model may not be named 'unknown' (the label of requests for no served model)");
  }
  const std::vector<double>& bounds = options.stage_bucket_bounds_seconds;
  if (bounds.empty() || !std::is_sorted(bounds.begin(), bounds.end()) ||
      std::adjacent_find(bounds.begin(), bounds.end()) != bounds.end()) {
    return InvalidArgumentError("stage_bucket_bounds_seconds must be non-empty and strictly increasing");
  }
  if (options.max_batch_size < 1) {
    return InvalidArgumentError("max_batch_size must be >= 1; was " + std::to_string(options.max_batch_size));
  }
  return std::unique_ptr<ServerMetrics>(new ServerMetrics(options, std::move(sources)));
}

ServerMetrics::ServerMetrics(const Options& options, StateSources sources)
    : options_(options),
      registry_(std::make_shared<prometheus::Registry>()),
      state_collector_(std::make_shared<StateCollector>(std::move(sources))) {
  requests_family_ = &prometheus::BuildCounter()
                          .Name("camserve_requests_total")
                          .Help("Explanation requests answered, by model, method and gRPC status.")
                          .Register(*registry_);
  stage_family_ = &prometheus::BuildHistogram()
                       .Name("camserve_stage_duration_seconds")
                       .Help(
                           "Time per request stage (decode, preprocess, queue, forward, backward, cam, perturb, "
                           "evaluate, encode, cache_get, cache_put, total); see docs/operations.md.")
                       .Register(*registry_);
  batch_family_ = &prometheus::BuildHistogram()
                       .Name("camserve_batch_size")
                       .Help("Requests per batch that reached the engine.")
                       .Register(*registry_);
  auth_failures_family_ = &prometheus::BuildCounter()
                               .Name("camserve_auth_failures_total")
                               .Help("Calls refused by token authentication before any work, by reason.")
                               .Register(*registry_);
  http_requests_family_ = &prometheus::BuildCounter()
                               .Name("camserve_http_requests_total")
                               .Help(
                                   "HTTP API requests answered, by route and HTTP status (explanations are also "
                                   "counted in camserve_requests_total).")
                               .Register(*registry_);
  in_flight_ = &prometheus::BuildGauge()
                    .Name("camserve_requests_in_flight")
                    .Help("Explanation requests received and not yet answered.")
                    .Register(*registry_)
                    .Add({});
  const size_t model_slots = options_.model_names.size() + 1;
  request_counters_.reset(new std::atomic<prometheus::Counter*>[model_slots * MethodSlots() * kStatusSlots]());
  stage_histograms_.reset(new std::atomic<prometheus::Histogram*>[model_slots * MethodSlots() * kStageCount]());
  const std::vector<double> batch_bounds = BatchSizeBucketBounds(options_.max_batch_size);
  for (const std::string& name : options_.model_names) {
    batch_histograms_.push_back(&batch_family_->Add({{"model", name}}, batch_bounds));
  }
}

ServerMetrics::~ServerMetrics() = default;

int ServerMetrics::ModelIndex(std::string_view model) const {
  // A handful of models: a scan, without building a std::string per request.
  for (size_t i = 0; i < options_.model_names.size(); ++i) {
    if (options_.model_names[i] == model) return static_cast<int>(i);
  }
  return -1;
}

std::string ServerMetrics::ModelLabel(int model_index) const {
  return model_index < 0 ? kUnknownLabel : options_.model_names[static_cast<size_t>(model_index)];
}

int ServerMetrics::MethodIndex(std::optional<CamMethodKind> method) {
  return method ? static_cast<int>(*method) : MethodSlots() - 1;
}

std::string ServerMetrics::MethodLabel(int method_index) {
  return method_index == MethodSlots() - 1 ? kUnknownLabel
                                           : CamMethodName(AllCamMethods()[static_cast<size_t>(method_index)]);
}

namespace {

// The label child kept in `slot`, made by `make` on first use. Family::Add
// returns the existing child for the same labels, so two threads racing on
// an empty slot store the same pointer.
template <typename T, typename Make>
T& ChildInSlot(std::atomic<T*>& slot, Make&& make) {
  T* child = slot.load(std::memory_order_acquire);
  if (child == nullptr) {
    child = &make();
    slot.store(child, std::memory_order_release);
  }
  return *child;
}

}  // namespace

ServerMetrics::LabelSlot ServerMetrics::LabelSlotOf(std::string_view model, std::optional<CamMethodKind> method) const {
  LabelSlot slot;
  slot.model_index = ModelIndex(model);
  slot.method_index = MethodIndex(method);
  const size_t model_slot = slot.model_index < 0 ? options_.model_names.size() : static_cast<size_t>(slot.model_index);
  slot.offset = model_slot * static_cast<size_t>(MethodSlots()) + static_cast<size_t>(slot.method_index);
  return slot;
}

void ServerMetrics::RecordRequest(std::string_view model, std::optional<CamMethodKind> method, StatusCode code) {
  const LabelSlot labels = LabelSlotOf(model, method);
  int code_index = static_cast<int>(code);
  if (code_index < 0 || code_index >= kStatusSlots) code_index = static_cast<int>(StatusCode::kUnknown);
  ChildInSlot(request_counters_[labels.offset * kStatusSlots + code_index], [&]() -> prometheus::Counter& {
    return requests_family_->Add({{"model", ModelLabel(labels.model_index)},
                                  {"method", MethodLabel(labels.method_index)},
                                  {"status", StatusCodeName(static_cast<StatusCode>(code_index))}});
  }).Increment();
}

void ServerMetrics::RecordStages(std::string_view model, std::optional<CamMethodKind> method,
                                 const StageTimings& timings) {
  const LabelSlot labels = LabelSlotOf(model, method);
  for (int s = 0; s < kStageCount; ++s) {
    const Stage stage = static_cast<Stage>(s);
    if (!timings.Has(stage)) continue;
    ChildInSlot(stage_histograms_[labels.offset * kStageCount + s], [&]() -> prometheus::Histogram& {
      return stage_family_->Add({{"model", ModelLabel(labels.model_index)},
                                 {"method", MethodLabel(labels.method_index)},
                                 {"stage", std::string(StageName(stage))}},
                                options_.stage_bucket_bounds_seconds);
    }).Observe(static_cast<double>(timings.Micros(stage)) / 1e6);
  }
}

void ServerMetrics::RecordBatch(std::string_view model, int batch_size) {
  const int model_index = ModelIndex(model);
  if (model_index < 0) return;
  batch_histograms_[static_cast<size_t>(model_index)]->Observe(batch_size);
}

void ServerMetrics::RequestStarted() { in_flight_->Increment(); }
void ServerMetrics::RequestFinished() { in_flight_->Decrement(); }

void ServerMetrics::RecordAuthFailure(std::string_view reason) {
  // Refusals are rare: Family::Add (a lookup under the family's lock) each time.
  auth_failures_family_->Add({{"reason", std::string(reason)}}).Increment();
}

void ServerMetrics::RecordHttpRequest(std::string_view route, int http_status) {
  // Family::Add: a lookup under the family's lock, small beside an HTTP request.
  http_requests_family_->Add({{"route", std::string(route)}, {"code", std::to_string(http_status)}}).Increment();
}

std::vector<std::weak_ptr<prometheus::Collectable>> ServerMetrics::collectables() const {
  return {registry_, state_collector_};
}

std::string ServerMetrics::ScrapeText() const {
  std::vector<prometheus::MetricFamily> families = registry_->Collect();
  for (prometheus::MetricFamily& family : state_collector_->Collect()) families.push_back(std::move(family));
  return prometheus::TextSerializer().Serialize(families);
}

}  // namespace camserve
