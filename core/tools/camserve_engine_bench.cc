// camserve-engine-bench: what an explanation costs next to a plain forward.
// For each batch size and method it times, interleaved, the engine's no-grad
// forward (Classify) and its explanation (Explain) of the same random inputs
// on the same loaded module and thread count, and prints the median ms per
// image of each and their ratio. A tool, not a test: results go to
// docs/benchmarks.md with the command that produced them.
#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <numeric>
#include <random>
#include <sstream>
#include <thread>

#include "core/engine/blas_library.h"
#include "core/engine/explainer_engine.h"
#include "core/util/file_io.h"
#include "core/util/flag_parser.h"

namespace camserve {
namespace {

using Clock = std::chrono::steady_clock;

double MedianMs(std::vector<double> samples) {
  std::sort(samples.begin(), samples.end());
  return samples[samples.size() / 2];
}

template <typename Fn>
StatusOr<double> TimeMs(Fn&& fn) {
  const auto start = Clock::now();
  Status status = fn();
  if (!status.ok()) return status;
  return std::chrono::duration<double, std::milli>(Clock::now() - start).count();
}

Status Run(int argc, char** argv) {
  FlagParser flags({{"model", "TorchScript model (.pt)"},
                    {"batch-sizes", "comma-separated batch sizes (default 1,2,4,8,16,32)"},
                    {"methods", "comma-separated methods or 'all' (default all)"},
                    {"layer", "target layer (default: the model's default layer)"},
                    {"iterations", "timed runs per cell (default 10)"},
                    {"warmup", "untimed runs per cell (default 3)"},
                    {"threads", "LibTorch intra-op threads (default 0 = all cores)"},
                    {"device", "auto (default), cpu, cuda[:N]"},
                    {"precision", "fp32 (default), fp16, bf16 (CUDA)"},
                    {"channels-last", "1 (default): channels_last inputs on CUDA; 0: contiguous"},
                    {"image", "JPEG or PNG used for every input (default: random normal values)"},
                    {"optimize", "1 (default): optimize_for_inference copies; 0: plain module"},
                    {"idle-ms",
                     "pause before every timed forward and explanation, as between a lone "
                     "client's requests (default 0)"}});
  CAMSERVE_RETURN_IF_ERROR(flags.Parse(argc, argv));
  if (flags.help_requested() || !flags.Has("model")) {
    std::printf("%s", flags.Usage("camserve-engine-bench").c_str());
    return flags.help_requested() ? Status::Ok() : InvalidArgumentError("--model is required");
  }
  StatusOr<std::vector<int>> batch_sizes = flags.GetIntList("batch-sizes", {1, 2, 4, 8, 16, 32});
  StatusOr<int> iterations = flags.GetInt("iterations", 10);
  StatusOr<int> warmup = flags.GetInt("warmup", 3);
  StatusOr<int> threads = flags.GetInt("threads", 0);
  StatusOr<int> idle_ms = flags.GetInt("idle-ms", 0);
  for (const Status& s :
       {batch_sizes.status(), iterations.status(), warmup.status(), threads.status(), idle_ms.status()}) {
    CAMSERVE_RETURN_IF_ERROR(s);
  }
  if (*iterations < 1) return InvalidArgumentError("--iterations must be >= 1");
  if (*idle_ms < 0) return InvalidArgumentError("--idle-ms must be >= 0");
  const auto idle = [&] {
    if (*idle_ms > 0) std::this_thread::sleep_for(std::chrono::milliseconds(*idle_ms));
  };
  std::vector<CamMethodKind> methods;
  const std::string method_list = flags.GetString("methods", "all");
  if (method_list == "all") {
    methods = AllCamMethods();
  } else {
    std::stringstream stream(method_list);
    for (std::string name; std::getline(stream, name, ',');) {
      StatusOr<CamMethodKind> kind = ParseCamMethod(name);
      if (!kind.ok()) return kind.status();
      methods.push_back(*kind);
    }
  }

  EngineOptions options;
  options.model_path = flags.GetString("model", "");
  options.intra_op_threads = *threads;
  options.device = flags.GetString("device", "auto");
  options.precision = flags.GetString("precision", "fp32");
  options.optimize_for_inference = flags.GetString("optimize", "1") != "0";
  options.channels_last = flags.GetString("channels-last", "1") != "0";
  StatusOr<std::unique_ptr<ExplainerEngine>> engine = ExplainerEngine::Create(options);
  if (!engine.ok()) return engine.status();
  const ModelInfo& info = (*engine)->info();
  const int thread_count = ConfigureTorchThreads(*threads, 0);
  const std::string layer = flags.GetString("layer", info.default_layer);
  std::printf(
      "model %s on %s (%s), input %dx%d, layer %s, %d intra-op threads, optimize %d, "
      "median of %d runs after %d warm-up, idle %d ms before each\n",
      info.name.c_str(), info.device.c_str(), options.precision.c_str(), info.input_height_px, info.input_width_px,
      layer.c_str(), thread_count, options.optimize_for_inference ? 1 : 0, *iterations, *warmup, *idle_ms);
  std::printf("BLAS: %s\n", DetectBlasLibrary().description.c_str());
  // Per image. The last three split explain_ms: forward with the layer tap,
  // backward over the head, CAM math with upsampling and copies.
  // fwd_mean_ms: the forward's mean instead of its median, for throughput
  // comparisons (a server's throughput is a mean; the median hides stalls).
  std::printf("%-6s %-10s %12s %12s %8s %10s %10s %10s %12s\n", "batch", "method", "forward_ms", "explain_ms", "ratio",
              "x_fwd_ms", "x_bwd_ms", "x_cam_ms", "fwd_mean_ms");

  std::mt19937 rng(1234);
  std::normal_distribution<float> normal;
  const int max_batch = *std::max_element(batch_sizes->begin(), batch_sizes->end());
  std::vector<PreparedInput> inputs(max_batch);
  for (PreparedInput& input : inputs) {
    if (flags.Has("image")) {
      StatusOr<std::string> encoded = ReadFileBytes(flags.GetString("image", ""));
      if (!encoded.ok()) return encoded.status();
      StatusOr<PreparedInput> prepared = (*engine)->preprocessor().FromEncodedImage(*encoded);
      if (!prepared.ok()) return prepared.status();
      input = std::move(prepared).value();
      continue;
    }
    input.shape = {3, info.input_height_px, info.input_width_px};
    input.data.resize(3 * info.input_height_px * info.input_width_px);
    for (float& v : input.data) v = normal(rng);
    input.original_height_px = info.input_height_px;
    input.original_width_px = info.input_width_px;
  }
  for (int batch_size : *batch_sizes) {
    if (batch_size < 1) return InvalidArgumentError("batch sizes must be >= 1");
    std::vector<const PreparedInput*> batch;
    std::vector<ExplainItem> items;
    for (int i = 0; i < batch_size; ++i) {
      batch.push_back(&inputs[i]);
      ExplainItem item;
      item.input = &inputs[i];
      items.push_back(item);
    }
    for (CamMethodKind method : methods) {
      const ExplainBatchSpec spec{method, layer};
      auto forward = [&]() { return (*engine)->Classify(batch, 5).status(); };
      StageTimings stages;
      auto explain = [&]() {
        StatusOr<BatchResult> result = (*engine)->Explain(spec, items);
        if (result.ok()) stages = result->timings;
        return result.status();
      };
      for (int i = 0; i < *warmup; ++i) {
        CAMSERVE_RETURN_IF_ERROR(forward());
        CAMSERVE_RETURN_IF_ERROR(explain());
      }
      std::vector<double> forward_ms, explain_ms, stage_forward_ms, stage_backward_ms, stage_cam_ms;
      for (int i = 0; i < *iterations; ++i) {
        idle();
        StatusOr<double> f = TimeMs(forward);
        idle();
        StatusOr<double> e = TimeMs(explain);
        if (!f.ok()) return f.status();
        if (!e.ok()) return e.status();
        forward_ms.push_back(*f);
        explain_ms.push_back(*e);
        stage_forward_ms.push_back(stages.Micros(Stage::kForward) / 1e3);
        stage_backward_ms.push_back(stages.Micros(Stage::kBackward) / 1e3);
        stage_cam_ms.push_back(stages.Micros(Stage::kCam) / 1e3);
      }
      const double f = MedianMs(forward_ms) / batch_size, e = MedianMs(explain_ms) / batch_size;
      const double f_mean = std::accumulate(forward_ms.begin(), forward_ms.end(), 0.0) / forward_ms.size() / batch_size;
      std::printf("%-6d %-10s %12.3f %12.3f %8.3f %10.3f %10.3f %10.3f %12.3f\n", batch_size, CamMethodName(method), f,
                  e, e / f, MedianMs(stage_forward_ms) / batch_size, MedianMs(stage_backward_ms) / batch_size,
                  MedianMs(stage_cam_ms) / batch_size, f_mean);
      std::fflush(stdout);
    }
  }
  return Status::Ok();
}

}  // namespace
}  // namespace camserve

int main(int argc, char** argv) {
  spdlog::set_level(spdlog::level::warn);
  camserve::Status status = camserve::Run(argc, argv);
  if (!status.ok()) {
    std::fprintf(stderr, "camserve-engine-bench: %s\n", status.ToString().c_str());
    return 1;
  }
  return 0;
}
