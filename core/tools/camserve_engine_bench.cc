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
#include <thread>

#include "core/engine/blas_library.h"
#include "core/engine/explainer_engine.h"
#include "core/util/command_line.h"
#include "core/util/file_io.h"

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

struct EngineBenchOptions {
  // --model (required), --device, --precision, --channels-last, --optimize.
  EngineOptions engine;
  // --threads.
  TorchProcessOptions torch;
  // --batch-sizes: each timed separately, in the order given.
  std::vector<int> batch_sizes = {1, 2, 4, 8, 16, 32};
  // --methods: method names, or "all".
  std::vector<std::string> methods = {"all"};
  // --layer: empty: the model's default layer.
  std::string layer;
  // --iterations: timed runs per cell; --warmup: untimed runs before them.
  int iterations = 10;
  int warmup = 3;
  // --image: used for every input; empty: random normal values.
  std::string image_path;
  // --idle-ms: pause before every timed forward and explanation.
  int idle_ms = 0;
  // --evaluate: every item also asks for the quality scores.
  bool evaluate = false;
};

void AddFlags(CLI::App& app, EngineBenchOptions* options) {
  EngineOptions& engine = options->engine;
  app.add_option("--model", engine.model_path, "TorchScript model (.pt)")->required();
  app.add_option("--batch-sizes", options->batch_sizes, "comma-separated batch sizes")
      ->delimiter(',')
      ->check(Positive())
      ->capture_default_str();
  std::vector<std::string> method_names = {"all"};
  for (CamMethodKind kind : AllCamMethods()) method_names.push_back(CamMethodName(kind));
  app.add_option("--methods", options->methods, "comma-separated methods, or all")
      ->delimiter(',')
      ->check(CLI::IsMember(method_names))
      ->capture_default_str();
  app.add_option("--layer", options->layer, "target layer (default: the model's default layer)");
  app.add_option("--iterations", options->iterations, "timed runs per cell")->check(Positive())->capture_default_str();
  app.add_option("--warmup", options->warmup, "untimed runs per cell")->check(NonNegative())->capture_default_str();
  app.add_option("--threads", options->torch.intra_op_threads, "LibTorch intra-op threads; 0: all cores")
      ->check(NonNegative())
      ->capture_default_str();
  app.add_option("--device", engine.device, "auto (CUDA when available), cpu, cuda, cuda:N")->capture_default_str();
  app.add_option("--precision", engine.precision, "fp32; bf16 (CUDA, or a CPU with native bf16); fp16 (CUDA)")
      ->check(CLI::IsMember({"fp32", "fp16", "bf16"}))
      ->capture_default_str();
  app.add_option("--channels-last", engine.channels_last,
                 "channels_last inputs where they help (CUDA; CPU in bf16), else contiguous")
      ->default_str(BoolText(engine.channels_last));
  app.add_option("--optimize", engine.optimize_for_inference,
                 "optimized copies of the module, validated at load (else the plain module)")
      ->default_str(BoolText(engine.optimize_for_inference));
  app.add_option("--optimize-tolerance", engine.optimize_tolerance,
                 "largest map/probability difference an optimized copy may show")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  app.add_option("--precision-tolerance", engine.precision_tolerance,
                 "largest top-1 map difference bf16/fp16 may show (1: accept any, to time it)")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  app.add_option("--perturbation-batch-size", engine.perturbation.batch_size,
                 "perturbed inputs per model call (ablationcam, scorecam, reciprocam, quality scores)")
      ->check(Positive())
      ->capture_default_str();
  app.add_option("--max-scorecam-forwards", engine.perturbation.max_scorecam_forwards,
                 "most scorecam forwards per image")
      ->check(Positive())
      ->capture_default_str();
  app.add_option("--max-head-runs", engine.perturbation.max_head_runs_per_image,
                 "most head runs per image (ablationcam, reciprocam)")
      ->check(Positive())
      ->capture_default_str();
  app.add_option("--evaluate", options->evaluate, "also compute the quality scores of every explanation")
      ->capture_default_str();
  app.add_option("--quality-steps", engine.quality.steps, "deletion and insertion steps of the quality scores")
      ->check(Positive())
      ->capture_default_str();
  app.add_option("--image", options->image_path, "JPEG or PNG used for every input (default: random normal values)");
  app.add_option("--idle-ms", options->idle_ms,
                 "pause before every timed forward and explanation, as between a lone client's requests")
      ->check(NonNegative())
      ->capture_default_str();
}

// The methods --methods names, in its order; "all" stands for every method.
std::vector<CamMethodKind> MethodsToTime(const std::vector<std::string>& names) {
  std::vector<CamMethodKind> methods;
  for (const std::string& name : names) {
    if (name == "all") {
      methods.insert(methods.end(), AllCamMethods().begin(), AllCamMethods().end());
    } else {
      methods.push_back(ParseCamMethod(name).value());
    }
  }
  return methods;
}

Status Run(const EngineBenchOptions& bench) {
  const EngineOptions& options = bench.engine;
  const auto idle = [&] {
    if (bench.idle_ms > 0) std::this_thread::sleep_for(std::chrono::milliseconds(bench.idle_ms));
  };
  const std::vector<CamMethodKind> methods = MethodsToTime(bench.methods);

  const int thread_count = ConfigureTorchProcess(bench.torch);
  StatusOr<std::unique_ptr<ExplainerEngine>> engine = ExplainerEngine::Create(options);
  if (!engine.ok()) return engine.status();
  const ModelInfo& info = (*engine)->info();
  const std::string layer = bench.layer.empty() ? info.default_layer : bench.layer;
  std::printf(
      "model %s on %s (%s), input %dx%d, layer %s, %d intra-op threads, optimize %d, "
      "median of %d runs after %d warm-up, idle %d ms before each\n",
      info.name.c_str(), info.device.c_str(), info.precision.c_str(), info.input_height_px, info.input_width_px,
      layer.c_str(), thread_count, options.optimize_for_inference ? 1 : 0, bench.iterations, bench.warmup,
      bench.idle_ms);
  std::printf("BLAS: %s\n", DetectBlasLibrary().description.c_str());
  // Per image. x_* split explain_ms: forward with the layer tap, backward
  // over the head, CAM math with upsampling and copies, perturbation runs
  // (ablationcam, scorecam, reciprocam) and the quality scores' forwards.
  // fwd_mean_ms: the forward's mean instead of its median, for throughput
  // comparisons (a server's throughput is a mean; the median hides stalls).
  std::printf("%-6s %-11s %12s %12s %8s %10s %10s %10s %12s %10s %10s\n", "batch", "method", "forward_ms", "explain_ms",
              "ratio", "x_fwd_ms", "x_bwd_ms", "x_cam_ms", "fwd_mean_ms", "x_ptb_ms", "x_eval_ms");

  std::mt19937 rng(1234);
  std::normal_distribution<float> normal;
  const int max_batch = *std::max_element(bench.batch_sizes.begin(), bench.batch_sizes.end());
  std::vector<PreparedInput> inputs(max_batch);
  for (PreparedInput& input : inputs) {
    if (!bench.image_path.empty()) {
      StatusOr<std::string> encoded = ReadFileBytes(bench.image_path);
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
  for (int batch_size : bench.batch_sizes) {
    std::vector<const PreparedInput*> batch;
    std::vector<ExplainItem> items;
    for (int i = 0; i < batch_size; ++i) {
      batch.push_back(&inputs[i]);
      ExplainItem item;
      item.input = &inputs[i];
      item.evaluate = bench.evaluate;
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
      for (int i = 0; i < bench.warmup; ++i) {
        CAMSERVE_RETURN_IF_ERROR(forward());
        CAMSERVE_RETURN_IF_ERROR(explain());
      }
      std::vector<double> forward_ms, explain_ms, stage_forward_ms, stage_backward_ms, stage_cam_ms, stage_perturb_ms,
          stage_evaluate_ms;
      for (int i = 0; i < bench.iterations; ++i) {
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
        stage_perturb_ms.push_back(stages.Micros(Stage::kPerturb) / 1e3);
        stage_evaluate_ms.push_back(stages.Micros(Stage::kEvaluate) / 1e3);
      }
      const double f = MedianMs(forward_ms) / batch_size, e = MedianMs(explain_ms) / batch_size;
      const double f_mean = std::accumulate(forward_ms.begin(), forward_ms.end(), 0.0) / forward_ms.size() / batch_size;
      std::printf("%-6d %-11s %12.3f %12.3f %8.3f %10.3f %10.3f %10.3f %12.3f %10.3f %10.3f\n", batch_size,
                  CamMethodName(method), f, e, e / f, MedianMs(stage_forward_ms) / batch_size,
                  MedianMs(stage_backward_ms) / batch_size, MedianMs(stage_cam_ms) / batch_size, f_mean,
                  MedianMs(stage_perturb_ms) / batch_size, MedianMs(stage_evaluate_ms) / batch_size);
      std::fflush(stdout);
    }
  }
  // How each layer ran: measured against the plain fp32 module at load.
  for (const LayerExecution& prepared : (*engine)->PreparedLayers()) {
    std::printf("layer %s: %s, %s, map_difference %.3g, probability_difference %.3g%s%s\n", prepared.layer.c_str(),
                prepared.optimized ? "own copy" : "plain module", prepared.precision.c_str(), prepared.map_difference,
                prepared.probability_difference, prepared.note.empty() ? "" : "; ", prepared.note.c_str());
  }
  return Status::Ok();
}

}  // namespace
}  // namespace camserve

int main(int argc, char** argv) {
  spdlog::set_level(spdlog::level::warn);
  return camserve::RunCommandLineTool<camserve::EngineBenchOptions>(
      "camserve-engine-bench", "camserve-engine-bench: what an explanation costs next to a plain forward",
      camserve::AddFlags, argc, argv, camserve::Run);
}
