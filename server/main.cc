// camserve: the gRPC explanation server.
//
//   camserve --model PATH [--listen 127.0.0.1:50051] [--metrics-listen HOST:PORT] [--cache-dir DIR]
//   camserve --config config/camserve.yaml
//
// Prometheus metrics are served at http://<metrics_listen>/metrics
// (core/metrics, docs/operations.md).
//
// Every configuration key is a flag, an environment variable and a YAML key
// (docs/configuration.md).
//
// Transport security: TLS (or mutual TLS) from the tls.* keys, its files
// re-read every tls.refresh_interval_s; plaintext only on loopback unless
// tls.allow_plaintext. Bearer tokens from auth.token_file, re-read when it
// changes (server/call_authenticator.h); the health service needs none.
//
// SIGTERM or SIGINT drains: the server stops accepting calls, health turns
// NOT_SERVING, queued and running requests finish within
// limits.drain_timeout_ms, then the process exits 0. A second signal during
// the drain exits at once (code 130).
#include <grpc/support/log.h>
#include <grpcpp/ext/proto_server_reflection_plugin.h>
#include <grpcpp/grpcpp.h>
#include <grpcpp/health_check_service_interface.h>
#include <grpcpp/security/tls_certificate_provider.h>
#include <grpcpp/security/tls_credentials_options.h>
#include <malloc.h>
#include <signal.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <set>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "core/config/server_config.h"
#include "core/engine/blas_library.h"
#include "core/engine/explainer_engine.h"
#include "core/engine/gpu_memory.h"
#include "core/logging/logging.h"
#include "core/metrics/metrics_endpoint.h"
#include "core/metrics/server_metrics.h"
#include "core/security/tls_files.h"
#include "core/security/token_file.h"
#include "core/serving/explain_pipeline.h"
#include "core/serving/model_registry.h"
#include "server/explainer_service.h"
#include "server/http_gateway.h"

namespace camserve {
namespace {

constexpr char kServiceName[] = "camserve.v1.Explainer";

bool HelpRequested(int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--help") == 0 || std::strcmp(argv[i], "-h") == 0) return true;
  }
  return false;
}

// gRPC's own log lines go through spdlog, so they share the format (JSON
// included) and the level.
void RouteGrpcLogsToSpdlog() {
  gpr_set_log_function([](gpr_log_func_args* args) {
    const spdlog::level::level_enum level = args->severity == GPR_LOG_SEVERITY_ERROR  ? spdlog::level::err
                                            : args->severity == GPR_LOG_SEVERITY_INFO ? spdlog::level::info
                                                                                      : spdlog::level::debug;
    spdlog::log(level, "grpc: {} ({}:{})", QuoteForLog(args->message), args->file, args->line);
  });
}

std::string HostOf(const std::string& address) { return address.substr(0, address.rfind(':')); }

// Health turns NOT_SERVING once a model's device is lost. The loss may be
// reported before the gRPC server exists; Attach catches up.
class DeviceHealth {
 public:
  void Attach(grpc::HealthCheckServiceInterface* health) ABSL_LOCKS_EXCLUDED(mu_) {
    absl::MutexLock lock(&mu_);
    health_ = health;
    if (lost_) health_->SetServingStatus(false);
  }
  void DeviceLost() ABSL_LOCKS_EXCLUDED(mu_) {
    absl::MutexLock lock(&mu_);
    lost_ = true;
    if (health_ != nullptr) health_->SetServingStatus(false);
  }

 private:
  absl::Mutex mu_;
  grpc::HealthCheckServiceInterface* health_ ABSL_GUARDED_BY(mu_) = nullptr;
  bool lost_ ABSL_GUARDED_BY(mu_) = false;
};

// Plaintext, or TLS from files that gRPC re-reads every
// tls.refresh_interval_s (rotated certificates are served without a
// restart); with tls.client_ca_file, clients must present a certificate it
// signed.
std::shared_ptr<grpc::ServerCredentials> ServerCredentialsOf(const ServerConfig& config) {
  if (config.tls_cert_file.empty()) return grpc::InsecureServerCredentials();
  const bool mutual = !config.tls_client_ca_file.empty();
  auto provider = std::make_shared<grpc::experimental::FileWatcherCertificateProvider>(
      config.tls_key_file, config.tls_cert_file, config.tls_client_ca_file,
      static_cast<unsigned int>(config.tls_refresh_interval_s));
  grpc::experimental::TlsServerCredentialsOptions options(provider);
  options.watch_identity_key_cert_pairs();
  if (mutual) options.watch_root_certs();
  options.set_cert_request_type(mutual ? GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY
                                       : GRPC_SSL_DONT_REQUEST_CLIENT_CERTIFICATE);
  return grpc::experimental::TlsServerCredentials(options);
}

// The transport, as one line for the start-up log.
std::string TransportOf(const ServerConfig& config) {
  if (config.tls_cert_file.empty()) return "plaintext";
  return config.tls_client_ca_file.empty() ? "TLS" : "mutual TLS";
}

// Refuses to start on TLS files that cannot serve; warns about plaintext
// off loopback (allowed only by tls.allow_plaintext).
Status CheckTransport(const ServerConfig& config) {
  if (!config.tls_cert_file.empty()) {
    return CheckServerTlsFiles(config.tls_cert_file, config.tls_key_file, config.tls_client_ca_file);
  }
  if (!IsLoopbackAddress(config.listen)) {
    spdlog::warn(
        "!!! PLAINTEXT on {}, a non-loopback address (tls.allow_plaintext=true): calls, images and tokens "
        "cross the network unencrypted unless a TLS-terminating proxy or mesh fronts camserve",
        config.listen);
  }
  return Status::Ok();
}

// Drops the reflection plugin, which linking grpc++_reflection registers for
// every server builder (a static initializer), so `reflection: false` holds.
class WithoutReflection final : public grpc::ServerBuilderOption {
 public:
  void UpdateArguments(grpc::ChannelArguments*) override {}
  void UpdatePlugins(std::vector<std::unique_ptr<grpc::ServerBuilderPlugin>>* plugins) override {
    plugins->erase(std::remove_if(plugins->begin(), plugins->end(),
                                  [](const std::unique_ptr<grpc::ServerBuilderPlugin>& plugin) {
                                    return dynamic_cast<grpc::reflection::ProtoServerReflectionPlugin*>(plugin.get()) !=
                                           nullptr;
                                  }),
                   plugins->end());
  }
};

std::unique_ptr<grpc::Server> StartGrpcServer(const ServerConfig& config, ExplainerService* service,
                                              int* selected_port) {
  grpc::EnableDefaultHealthCheckService(true);
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();
  grpc::ServerBuilder builder;
  if (!config.reflection) builder.SetOption(std::make_unique<WithoutReflection>());
  builder.AddListeningPort(config.listen, ServerCredentialsOf(config), selected_port);
  builder.SetMaxReceiveMessageSize(static_cast<int>(config.limits_max_receive_message_bytes));
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_TIME_MS, static_cast<int>(config.grpc_keepalive_time_ms));
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_TIMEOUT_MS, static_cast<int>(config.grpc_keepalive_timeout_ms));
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS, 1);
  // Clients may ping as often as the server does.
  builder.AddChannelArgument(GRPC_ARG_HTTP2_MIN_RECV_PING_INTERVAL_WITHOUT_DATA_MS,
                             static_cast<int>(config.grpc_keepalive_time_ms));
  builder.RegisterService(service);
  return builder.BuildAndStart();
}

// The heatmap cache, or null when disabled or (unless cache.required) when it
// cannot be opened; an error only when it is required and cannot be opened.
StatusOr<std::unique_ptr<HeatmapCache>> OpenCache(const ServerConfig& config) {
  if (!config.cache_enabled) {
    spdlog::info("heatmap cache disabled (cache.enabled=false)");
    return std::unique_ptr<HeatmapCache>();
  }
  HeatmapCache::Options options;
  options.dir = config.cache_dir;
  options.max_size_bytes = config.cache_max_size_bytes;
  options.max_value_bytes = config.cache_max_value_bytes;
  StatusOr<std::unique_ptr<HeatmapCache>> cache = HeatmapCache::Open(options);
  if (cache.ok()) return cache;
  if (config.cache_required) {
    spdlog::error("cannot open the heatmap cache (cache.required=true): {}", cache.status().ToString());
    return cache.status();
  }
  spdlog::warn(
      "!!! HEATMAP CACHE DISABLED: cannot open it, serving without a cache: {} "
      "(set cache.required=true to refuse to start instead)",
      cache.status().ToString());
  return std::unique_ptr<HeatmapCache>();
}

// The BLAS serves the matrix products outside oneDNN on the CPU; the
// reference one makes an explanation's backward several times slower.
void LogBlasLibrary(const ModelRegistry& registry) {
  const BlasLibrary blas = DetectBlasLibrary();
  bool any_cpu_model = false;
  for (ModelRunner* runner : registry.runners()) any_cpu_model |= runner->info().device == "cpu";
  if (blas.is_reference && any_cpu_model) {
    spdlog::warn(
        "BLAS: {}; matrix products outside oneDNN (a classifier head's backward) run about "
        "10x slower than with OpenBLAS: install libopenblas0-serial (docs/server.md, BLAS)",
        blas.description);
  } else {
    spdlog::info("BLAS: {}", blas.description);
  }
}

// --- ServerConfig -> the components' own options ---------------------------

ModelRegistry::Options RegistryOptionsOf(const ServerConfig& config, int intra_op_threads, ServerMetrics* metrics,
                                         DeviceHealth* health) {
  ModelRegistry::Options options;
  for (const ModelConfig& model : config.models) options.models.push_back({model.name, model.path, model.precision});
  options.default_model = config.default_model;
  options.engine.device = config.device;
  options.engine.precision = config.precision;
  options.engine.optimize_for_inference = config.engine_optimize;
  options.engine.optimize_tolerance = config.engine_optimize_tolerance;
  options.engine.precision_tolerance = config.engine_precision_tolerance;
  options.engine.max_optimized_layers = config.limits_max_layer_copies;
  options.engine.perturbation.batch_size = config.engine_perturbation_batch_size;
  options.engine.perturbation.max_head_runs_per_image = config.engine_max_head_runs_per_image;
  options.engine.perturbation.max_scorecam_forwards = config.engine_max_scorecam_forwards;
  options.engine.quality.steps = config.engine_quality_steps;
  options.engine.quality.batch_size = config.engine_perturbation_batch_size;
  options.engine.decode.max_pixels = config.limits_max_image_pixels;
  options.engine.decode.max_side_px = config.limits_max_image_side_px;
  DynamicBatcher::Options& batcher = options.runner.batcher;
  batcher.max_batch_size = config.batcher_max_batch_size;
  batcher.max_queue_delay_us = config.batcher_max_queue_delay_us;
  batcher.preferred_batch_sizes = config.batcher_preferred_batch_sizes;
  batcher.max_queue_size = config.batcher_max_queue_size;
  batcher.worker_count = config.batcher_workers;
  batcher.priority_levels = config.batcher_priority_levels;
  options.runner.profile_stages = config.profiling_enabled;
  options.runner.intra_op_threads = intra_op_threads;
  options.runner.set_batch_threads = [](int threads) { SetIntraOpThreadsOfThisThread(threads); };
  options.on_batch = [metrics](const std::string& model, int batch_size) { metrics->RecordBatch(model, batch_size); };
  options.on_device_lost = [health](const std::string&, const Status&) { health->DeviceLost(); };
  return options;
}

ExplainPipeline::Options PipelineOptionsOf(const ServerConfig& config) {
  ExplainPipeline::Options options;
  options.profile_stages = config.profiling_enabled;
  options.max_inflight_bytes = config.limits_max_inflight_bytes;
  options.decode.max_pixels = config.limits_max_image_pixels;
  options.decode.max_side_px = config.limits_max_image_side_px;
  options.max_output_pixels = config.limits_max_output_pixels;
  options.default_deadline_ms = config.limits_default_deadline_ms;
  options.max_request_string_bytes = config.limits_max_request_string_bytes;
  options.completion_threads = config.batcher_completion_threads;
  options.quality_steps = config.engine_quality_steps;
  return options;
}

HttpGateway::Options HttpOptionsOf(const ServerConfig& config) {
  HttpGateway::Options options;
  options.listen = config.http_listen;
  options.tls_cert_file = config.tls_cert_file;
  options.tls_key_file = config.tls_key_file;
  options.tls_client_ca_file = config.tls_client_ca_file;
  options.threads = config.http_threads;
  // An image of the largest gRPC message, in base64, plus the JSON around it.
  options.max_body_bytes = config.limits_max_receive_message_bytes / 3 * 4 + (int64_t{1} << 20);
  return options;
}

// What the scrape reads. Registered once the components exist; they outlive
// the metrics endpoint.
ServerMetrics::StateSources StateSourcesOf(const ModelRegistry* registry, const HeatmapCache* cache,
                                           const ExplainPipeline* pipeline) {
  ServerMetrics::StateSources sources;
  sources.models = [registry] {
    std::vector<ModelState> models;
    const std::vector<ModelRunner*> runners = registry->runners();
    for (size_t i = 0; i < runners.size(); ++i) {
      models.push_back(ModelState{registry->names()[i], runners[i]->version(), runners[i]->info().device,
                                  runners[i]->QueueDepth(), runners[i]->max_queue_size()});
    }
    return models;
  };
  sources.cache = [cache]() -> std::optional<CacheState> {
    if (cache == nullptr) return std::nullopt;
    const HeatmapCache::Stats stats = cache->stats();
    return CacheState{stats.hits,    stats.misses,  stats.evictions, stats.read_errors,    stats.write_errors,
                      stats.damaged, stats.entries, stats.bytes,     stats.capacity_bytes, stats.writes_paused};
  };
  sources.coalesced_requests = [pipeline] { return pipeline->coalesced_requests(); };
  sources.inflight = [pipeline] {
    return InflightState{pipeline->budget().used_bytes(), pipeline->budget().capacity_bytes()};
  };
  sources.gpu_memory = [registry] {
    std::vector<GpuMemoryState> gpus;
    std::set<std::string> devices;
    for (ModelRunner* runner : registry->runners()) devices.insert(runner->info().device);
    for (const std::string& device : devices) {
      if (std::optional<GpuMemoryUsage> usage = QueryGpuMemory(device)) {
        gpus.push_back(GpuMemoryState{device, usage->allocated_bytes, usage->reserved_bytes});
      }
    }
    return gpus;
  };
  return sources;
}

int Serve(int argc, char** argv, const sigset_t& stop_signals) {
  StatusOr<ServerConfig> loaded_config = LoadServerConfig(argc, argv, ProcessEnvironment());
  if (!loaded_config.ok()) {
    std::fprintf(stderr, "camserve: configuration error: %s\n", loaded_config.status().message().c_str());
    return 2;
  }
  // The batcher settings left to the device ("auto").
  const bool cuda = DeviceIsCuda(loaded_config->device);
  const std::optional<ServerConfig> config = WithDeviceDefaults(std::move(loaded_config).value(), cuda);
  Status logging = ConfigureLogging(config->logging_level, config->logging_format);
  if (!logging.ok()) {
    std::fprintf(stderr, "camserve: configuration error: %s\n", logging.message().c_str());
    return 2;
  }
  RouteGrpcLogsToSpdlog();
  const Status transport = CheckTransport(*config);
  if (!transport.ok()) {
    spdlog::error("cannot serve TLS: {}", transport.message());
    return 1;
  }
  std::unique_ptr<TokenFile> tokens;
  if (!config->auth_token_file.empty()) {
    StatusOr<std::unique_ptr<TokenFile>> opened_tokens =
        TokenFile::Open(config->auth_token_file, [](const Status& reloaded, size_t token_count) {
          if (reloaded.ok()) {
            spdlog::info("token file changed: {} token(s) in force", token_count);
          } else {
            spdlog::error("token file changed but cannot be used, keeping the {} token(s) in force: {}", token_count,
                          reloaded.message());
          }
        });
    if (!opened_tokens.ok()) {
      spdlog::error("cannot load the tokens: {}", opened_tokens.status().message());
      return 1;
    }
    tokens = std::move(opened_tokens).value();
    spdlog::info("token authentication on: {} token(s) from {}", tokens->Current()->token_count(),
                 config->auth_token_file);
  }
  // LibTorch's process-wide settings, once, before any model loads.
  TorchProcessOptions torch;
  torch.intra_op_threads = config->threads_intra_op;
  torch.inter_op_threads = config->threads_inter_op;
  const int intra_op_threads = ConfigureTorchProcess(torch);

  StatusOr<std::unique_ptr<HeatmapCache>> opened_cache = OpenCache(*config);
  if (!opened_cache.ok()) return 1;
  std::unique_ptr<HeatmapCache> cache = std::move(opened_cache).value();
  ServerMetrics::Options metrics_options;
  for (const ModelConfig& model : config->models) metrics_options.model_names.push_back(model.name);
  metrics_options.max_batch_size = config->batcher_max_batch_size;
  StatusOr<std::unique_ptr<ServerMetrics>> created_metrics = ServerMetrics::Create(metrics_options);
  if (!created_metrics.ok()) {
    spdlog::error("cannot set up metrics: {}", created_metrics.status().ToString());
    return 1;
  }
  std::unique_ptr<ServerMetrics> metrics = std::move(created_metrics).value();
  DeviceHealth health;
  const auto clock = std::make_shared<SystemClock>();
  // Loading warms the models up with LibTorch ops; on a thread of its own,
  // whose OpenMP pool ends with it, so that the batch workers' pools are the
  // only ones left (see core/serving/model_runner.h).
  StatusOr<std::unique_ptr<ModelRegistry>> loaded = InternalError("models not loaded");
  std::thread([&] {
    loaded = ModelRegistry::Load(RegistryOptionsOf(*config, intra_op_threads, metrics.get(), &health), clock);
  }).join();
  if (!loaded.ok()) {
    spdlog::error("cannot load models: {}", loaded.status().ToString());
    return 1;
  }
  std::unique_ptr<ModelRegistry> registry = std::move(loaded).value();
  LogBlasLibrary(*registry);
  StatusOr<std::unique_ptr<ExplainPipeline>> created_pipeline =
      ExplainPipeline::Create(PipelineOptionsOf(*config), registry.get(), cache.get(), metrics.get(), clock);
  if (!created_pipeline.ok()) {
    spdlog::error("cannot set up the request pipeline: {}", created_pipeline.status().ToString());
    return 1;
  }
  std::unique_ptr<ExplainPipeline> pipeline = std::move(created_pipeline).value();
  metrics->SetStateSources(StateSourcesOf(registry.get(), cache.get(), pipeline.get()));
  ExplainerService::Options service_options;
  service_options.max_stream_inflight = config->limits_max_stream_inflight;
  ExplainerService service(pipeline.get(), registry.get(), cache.get(), CallAuthenticator(tokens.get(), metrics.get()),
                           service_options);
  StatusOr<std::unique_ptr<MetricsEndpoint>> endpoint = MetricsEndpoint::Start(config->metrics_listen, *metrics);
  if (!endpoint.ok()) {
    spdlog::error("{} (metrics_listen)", endpoint.status().message());
    return 1;
  }
  spdlog::info("serving Prometheus metrics at http://{}:{}/metrics{}", HostOf(config->metrics_listen),
               (*endpoint)->port(), config->profiling_enabled ? "" : " (profiling.enabled=false: no stage timings)");
  int port = 0;
  std::unique_ptr<grpc::Server> server = StartGrpcServer(*config, &service, &port);
  if (server == nullptr || port == 0) {
    spdlog::error("cannot listen on {} (listen): address in use or not local?", config->listen);
    return 1;
  }
  server->GetHealthCheckService()->SetServingStatus(kServiceName, true);
  health.Attach(server->GetHealthCheckService());
  std::unique_ptr<HttpGateway> http;
  if (!config->http_listen.empty()) {
    StatusOr<std::unique_ptr<HttpGateway>> started =
        HttpGateway::Start(HttpOptionsOf(*config), pipeline.get(), registry.get(),
                           CallAuthenticator(tokens.get(), metrics.get()), metrics.get());
    if (!started.ok()) {
      spdlog::error("{} (http_listen)", started.status().message());
      return 1;
    }
    http = std::move(started).value();
    spdlog::info("serving the HTTP/JSON API at {}://{}:{}/v1/", http->tls() ? "https" : "http",
                 HostOf(config->http_listen), http->port());
  }
  spdlog::info(
      "camserve listening on {}:{} ({}{}; default model '{}', max batch {}, queue delay {} us, {} worker(s), "
      "in-flight budget {} bytes)",
      HostOf(config->listen), port, TransportOf(*config), tokens ? ", bearer tokens" : "", registry->default_model(),
      config->batcher_max_batch_size, config->batcher_max_queue_delay_us, config->batcher_workers,
      config->limits_max_inflight_bytes);

  int signal_number = 0;
  sigwait(&stop_signals, &signal_number);
  spdlog::info("received {}; draining for up to {} ms", strsignal(signal_number), config->limits_drain_timeout_ms);
  std::thread([stop_signals] {
    int second = 0;
    sigwait(&stop_signals, &second);
    std::fprintf(stderr, "camserve: second signal during drain; exiting now\n");
    std::_Exit(130);
  }).detach();

  const auto drain_start = std::chrono::steady_clock::now();
  const auto drain_budget = std::chrono::milliseconds(config->limits_drain_timeout_ms);
  server->GetHealthCheckService()->SetServingStatus(false);
  if (http) http->StartDraining();
  // Refuses new calls, lets running ones finish, cancels what is left at the deadline.
  server->Shutdown(std::chrono::system_clock::now() + drain_budget);
  const auto spent = std::chrono::steady_clock::now() - drain_start;
  registry->Shutdown(std::chrono::duration_cast<std::chrono::microseconds>(drain_budget - spent).count());
  // Every computed answer is sent before the server waits for its calls.
  pipeline->Shutdown();
  http.reset();  // its requests have their answers: they finish now
  server->Wait();
  (*endpoint).reset();
  metrics->SetStateSources({});
  spdlog::info(
      "drained in {} ms; exiting",
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - drain_start).count());
  return 0;
}

}  // namespace
}  // namespace camserve

int main(int argc, char** argv) {
  // One malloc arena for every thread (unless MALLOC_ARENA_MAX says
  // otherwise). glibc gives other threads arenas of 64 MB heaps; a batch's
  // larger buffers (ResNet-50 at batch 8 has several) do not fit one, so on
  // the batch worker they were mmap'ed and unmapped for every batch: about
  // 14,000 page faults per batch, all zero-filled again. The main arena grows
  // with brk and keeps them (docs/benchmarks.md, "Page faults").
  if (std::getenv("MALLOC_ARENA_MAX") == nullptr) mallopt(M_ARENA_MAX, 1);
  // Lock-order cycles are a test-time check (the tests keep absl's
  // detection on); in the server its graph bookkeeping costs every lock.
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
  if (camserve::HelpRequested(argc, argv)) {
    std::fputs(camserve::ServerUsage().c_str(), stdout);
    return 0;
  }
  // Termination signals are taken by sigwait in main, never by a handler:
  // block them before any thread (gRPC, LibTorch) starts so all inherit it.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGTERM);
  sigaddset(&stop_signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
  // A client that closes its connection while an answer is written (over
  // TLS, OpenSSL writes without MSG_NOSIGNAL) must not end the process.
  signal(SIGPIPE, SIG_IGN);
  return camserve::Serve(argc, argv, stop_signals);
}
