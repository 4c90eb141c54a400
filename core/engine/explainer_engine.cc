#include "core/engine/explainer_engine.h"

#include <ATen/Parallel.h>
#include <dlfcn.h>
#include <spdlog/spdlog.h>
#include <torch/csrc/autograd/autograd.h>
#include <torch/cuda.h>

#include <chrono>
#include <map>
#include <thread>

#include "absl/synchronization/mutex.h"

#include "core/cam/cam_method.h"
#include "core/engine/cam_model.h"
#include "core/engine/explanation_quality.h"
#include "core/engine/perturbation_cam.h"

namespace camserve {
namespace {

using Clock = std::chrono::steady_clock;

int64_t MicrosSince(Clock::time_point start) {
  return std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - start).count();
}

int AllCores() { return std::max(1u, std::thread::hardware_concurrency()); }

}  // namespace

bool SetIntraOpThreadsOfThisThread(int threads) {
  // dlsym rather than <omp.h>: a pip LibTorch carries its own renamed
  // libgomp, and only its symbol reaches the runtime LibTorch uses.
  using SetNumThreads = void (*)(int);
  static const auto set_num_threads = reinterpret_cast<SetNumThreads>(dlsym(RTLD_DEFAULT, "omp_set_num_threads"));
  if (set_num_threads == nullptr) return false;
  // LibTorch sets each thread's team size from the process setting at the
  // thread's first parallel op; that must happen before, not after, ours.
  thread_local const int process_threads = at::get_num_threads();
  thread_local int current = process_threads;
  if (threads != current) {
    set_num_threads(threads);
    current = threads;
  }
  return true;
}

bool DeviceIsCuda(const std::string& device) {
  if (device == "auto") return torch::cuda::is_available();
  return device.rfind("cuda", 0) == 0;
}

int ConfigureTorchProcess(const TorchProcessOptions& options) {
  static std::once_flag inter_op_once;
  std::call_once(inter_op_once, [&] {
    try {
      at::set_num_interop_threads(options.inter_op_threads > 0 ? options.inter_op_threads : AllCores());
    } catch (const c10::Error& e) {
      spdlog::warn("inter-op threads already fixed by LibTorch: {}", e.what_without_backtrace());
    }
  });
  at::set_num_threads(options.intra_op_threads > 0 ? options.intra_op_threads : AllCores());
  if (options.cudnn_benchmark) at::globalContext().setBenchmarkCuDNN(true);
  return at::get_num_threads();
}

class ExplainerEngine::Impl {
 public:
  Impl(std::unique_ptr<CamModel> model, ModelSidecar sidecar, ModelInfo info, Preprocessor preprocessor,
       const PerturbationOptions& perturbation_options, const QualityOptions& quality_options)
      : model_(std::move(model)),
        sidecar_(std::move(sidecar)),
        info_(std::move(info)),
        preprocessor_(std::move(preprocessor)),
        perturbation_options_(perturbation_options),
        quality_options_(quality_options) {
    for (CamMethodKind kind : AllCamMethods()) methods_.push_back(CreateCamMethod(kind));
  }

  const ModelInfo& info() const { return info_; }
  const Preprocessor& preprocessor() const { return preprocessor_; }
  CamModel& model() { return *model_; }

  StatusOr<BatchResult> Explain(const ExplainBatchSpec& spec, const std::vector<ExplainItem>& items);
  StatusOr<std::vector<std::vector<ClassScore>>> Classify(const std::vector<const PreparedInput*>& inputs, int top_k);

 private:
  // A batch's maps at feature resolution [N, h, w], the forward's logits
  // (no autograd history) and the explained classes.
  struct LayerMaps {
    at::Tensor logits;
    at::Tensor maps;
    std::vector<int64_t> targets;
  };
  // Gradient methods and EigenCAM: one instrumented forward (and backward).
  StatusOr<LayerMaps> ActivationMaps(const ExplainBatchSpec& spec, const std::vector<ExplainItem>& items,
                                     const at::Tensor& batch, const std::string& layer, StageTimings* timings);
  // AblationCAM, ScoreCAM, Recipro-CAM: a split forward, then perturbation
  // runs of the head (or the whole model).
  StatusOr<LayerMaps> PerturbationMaps(const ExplainBatchSpec& spec, const std::vector<ExplainItem>& items,
                                       const at::Tensor& batch, const std::string& layer, StageTimings* timings);
  // Runs per image of a method at a layer for an input size, once measured
  // (0: not yet), so that a request above the cap is refused before its
  // forward.
  int64_t KnownPerturbationRuns(const std::string& key) const;
  void RememberPerturbationRuns(const std::string& key, int64_t runs);
  // The quality scores of the items that asked for them.
  Status Evaluate(const ExplainBatchSpec& spec, const std::vector<ExplainItem>& items, const at::Tensor& batch,
                  const LayerMaps& maps, const at::Tensor& target_probabilities, std::vector<ExplainResult>* results);
  static std::vector<int64_t> Targets(const at::Tensor& logits, const std::vector<ExplainItem>& items);
  static Status CheckLogits(const at::Tensor& logits, size_t items);

  StatusOr<at::Tensor> StackInputs(const std::vector<const PreparedInput*>& inputs) const;
  Status ValidateItems(const std::vector<ExplainItem>& items) const;
  std::vector<ClassScore> TopK(const at::Tensor& probabilities_row, const at::Tensor& indices_row, int k) const;
  ClassScore Score(int class_index, float probability) const {
    return ClassScore{class_index, sidecar_.LabelFor(class_index), probability};
  }
  void SynchronizeDevice() const {
    if (model_->device().is_cuda()) torch::cuda::synchronize();
  }
  // Fills each item's heatmap at its requested resolution from [N, h, w] maps.
  void FillHeatmaps(const at::Tensor& maps, const std::vector<ExplainItem>& items,
                    std::vector<ExplainResult>* results) const;

  std::unique_ptr<CamModel> model_;
  ModelSidecar sidecar_;
  ModelInfo info_;
  Preprocessor preprocessor_;
  std::vector<std::unique_ptr<CamMethod>> methods_;  // indexed by CamMethodKind; null: perturbation methods
  PerturbationOptions perturbation_options_;
  QualityOptions quality_options_;
  mutable absl::Mutex perturbation_runs_mutex_;
  std::map<std::string, int64_t> perturbation_runs_ ABSL_GUARDED_BY(perturbation_runs_mutex_);
};

StatusOr<at::Tensor> ExplainerEngine::Impl::StackInputs(const std::vector<const PreparedInput*>& inputs) const {
  if (inputs.empty()) return InvalidArgumentError("empty batch");
  const std::vector<int64_t>& shape = inputs[0]->shape;
  if (shape.size() != 3) return InvalidArgumentError("prepared input must be [C, H, W]");
  const int64_t n = static_cast<int64_t>(inputs.size());
  at::Tensor batch = at::empty({n, shape[0], shape[1], shape[2]}, at::kFloat);
  const size_t per_item = static_cast<size_t>(shape[0] * shape[1] * shape[2]);
  for (int64_t i = 0; i < n; ++i) {
    const PreparedInput& input = *inputs[i];
    if (input.shape != shape || input.data.size() != per_item) {
      return InvalidArgumentError("all inputs of a batch must have the same shape");
    }
    std::memcpy(batch[i].data_ptr<float>(), input.data.data(), per_item * sizeof(float));
  }
  return model_->ToModelInput(batch);
}

Status ExplainerEngine::Impl::ValidateItems(const std::vector<ExplainItem>& items) const {
  for (size_t i = 0; i < items.size(); ++i) {
    const ExplainItem& item = items[i];
    if (item.input == nullptr) return InvalidArgumentError("item " + std::to_string(i) + " has no input");
    if (item.target_class && (*item.target_class < 0 || *item.target_class >= info_.num_classes)) {
      return InvalidArgumentError("target_class " + std::to_string(*item.target_class) +
                                  " is out of range; the model has " + std::to_string(info_.num_classes) +
                                  " classes (0.." + std::to_string(info_.num_classes - 1) + ")");
    }
    if (item.top_k < 0) return InvalidArgumentError("top_k must be >= 0; was " + std::to_string(item.top_k));
  }
  return Status::Ok();
}

std::vector<ClassScore> ExplainerEngine::Impl::TopK(const at::Tensor& probabilities_row, const at::Tensor& indices_row,
                                                    int k) const {
  std::vector<ClassScore> scores;
  const float* probabilities = probabilities_row.data_ptr<float>();
  const int64_t* indices = indices_row.data_ptr<int64_t>();
  for (int i = 0; i < k; ++i) scores.push_back(Score(static_cast<int>(indices[i]), probabilities[i]));
  return scores;
}

void ExplainerEngine::Impl::FillHeatmaps(const at::Tensor& maps, const std::vector<ExplainItem>& items,
                                         std::vector<ExplainResult>* results) const {
  const int64_t n = maps.size(0);
  const at::Tensor maps4 = maps.unsqueeze(1);  // [N, 1, h, w]
  at::Tensor at_input;                         // computed once, for all items that want it
  for (int64_t i = 0; i < n; ++i) {
    const ExplainItem& item = items[i];
    at::Tensor map;
    switch (item.resolution) {
      case HeatmapResolution::kFeature: map = maps4[i][0]; break;
      case HeatmapResolution::kInput:
        if (!at_input.defined()) {
          at_input = at::upsample_bilinear2d(maps4, {item.input->shape[1], item.input->shape[2]},
                                             /*align_corners=*/false);
        }
        map = at_input[i][0];
        break;
      case HeatmapResolution::kOriginal:
        map = at::upsample_bilinear2d(maps4.narrow(0, i, 1),
                                      {item.input->original_height_px, item.input->original_width_px},
                                      /*align_corners=*/false)[0][0];
        break;
    }
    map = map.to(at::kCPU).contiguous();
    Heatmap& heatmap = (*results)[i].heatmap;
    heatmap.height_px = static_cast<int>(map.size(0));
    heatmap.width_px = static_cast<int>(map.size(1));
    heatmap.values.assign(map.data_ptr<float>(), map.data_ptr<float>() + map.numel());
  }
}

std::vector<int64_t> ExplainerEngine::Impl::Targets(const at::Tensor& logits, const std::vector<ExplainItem>& items) {
  at::Tensor predicted = logits.detach().to(at::kFloat).argmax(1).to(at::kCPU);
  std::vector<int64_t> targets(items.size());
  for (size_t i = 0; i < items.size(); ++i) {
    targets[i] = items[i].target_class ? *items[i].target_class : predicted[static_cast<int64_t>(i)].item<int64_t>();
  }
  return targets;
}

StatusOr<ExplainerEngine::Impl::LayerMaps> ExplainerEngine::Impl::ActivationMaps(const ExplainBatchSpec& spec,
                                                                                 const std::vector<ExplainItem>& items,
                                                                                 const at::Tensor& batch,
                                                                                 const std::string& layer,
                                                                                 StageTimings* timings) {
  const CamMethod& method = *methods_[static_cast<size_t>(spec.method)];
  StageTimer forward_timer(timings, Stage::kForward);
  StatusOr<CamModel::LayerOutput> output = model_->ForwardWithActivation(batch, layer, method.UsesGradients());
  if (!output.ok()) return output.status();
  CAMSERVE_RETURN_IF_ERROR(CheckLogits(output->logits, items.size()));
  LayerMaps result;
  result.logits = output->logits.detach();
  result.targets = Targets(output->logits, items);
  const at::Tensor target_index = at::tensor(result.targets, at::kLong).to(output->logits.device()).unsqueeze(1);
  // Synchronised only to time the stages apart; the copy to the host at the
  // end waits for the device anyway.
  if (spec.profile_stages) SynchronizeDevice();
  forward_timer.Stop();

  StageTimer backward_timer(timings, Stage::kBackward);
  at::Tensor gradients;
  if (method.UsesGradients()) {
    try {
      at::Tensor score = output->logits.gather(1, target_index).sum();
      gradients = torch::autograd::grad({score}, {output->activation}, /*grad_outputs=*/{},
                                        /*retain_graph=*/false, /*create_graph=*/false,
                                        /*allow_unused=*/true)[0];
    } catch (...) {
      return StatusFromModelException("backward pass failed");
    }
    if (!gradients.defined()) {
      return InvalidArgumentError("the logits do not depend on layer '" + layer + "'");
    }
    if (spec.profile_stages) SynchronizeDevice();
  }
  backward_timer.Stop();

  StageTimer cam_timer(timings, Stage::kCam);
  at::NoGradGuard no_grad;
  // Transformer layers: tokens or channels-last grids become [N, C, h, w],
  // and their gradients alike.
  result.maps = method.Compute(ToNchw(output->activation.detach(), output->layout),
                               gradients.defined() ? ToNchw(gradients, output->layout) : gradients);
  return result;
}

StatusOr<ExplainerEngine::Impl::LayerMaps> ExplainerEngine::Impl::PerturbationMaps(
    const ExplainBatchSpec& spec, const std::vector<ExplainItem>& items, const at::Tensor& batch,
    const std::string& layer, StageTimings* timings) {
  // The runs per image follow the method, the layer and the input size.
  const std::string cost_key = std::string(CamMethodName(spec.method)) + "|" + layer + "|" +
                               std::to_string(batch.size(2)) + "x" + std::to_string(batch.size(3));
  const int64_t known_runs = KnownPerturbationRuns(cost_key);
  if (known_runs > 0) {
    CAMSERVE_RETURN_IF_ERROR(CheckPerturbationCost(spec.method, known_runs, perturbation_options_));
  }

  StageTimer forward_timer(timings, Stage::kForward);
  StatusOr<CamModel::HeadInput> split = model_->SplitAt(batch, layer);
  if (!split.ok()) return split.status();
  CAMSERVE_RETURN_IF_ERROR(CheckLogits(split->logits, items.size()));
  LayerMaps result;
  result.logits = split->logits;
  result.targets = Targets(split->logits, items);
  if (spec.profile_stages) SynchronizeDevice();
  forward_timer.Stop();

  const int64_t runs = PerturbationRunsPerImage(spec.method, split->activation, split->layout);
  RememberPerturbationRuns(cost_key, runs);
  CAMSERVE_RETURN_IF_ERROR(CheckPerturbationCost(spec.method, runs, perturbation_options_));

  StageTimer perturb_timer(timings, Stage::kPerturb);
  PerturbationInput input;
  input.activation = split->activation;
  input.layout = split->layout;
  input.logits = split->logits;
  input.targets = at::tensor(result.targets, at::kLong).to(split->logits.device());
  input.inputs = batch;
  const std::vector<at::Tensor>& side_values = split->side_values;
  auto sides_of = [&side_values](const at::Tensor& images) {
    std::vector<at::Tensor> sides;
    for (const at::Tensor& value : side_values) sides.push_back(value.index_select(0, images));
    return sides;
  };
  input.run_head = [&](const at::Tensor& activation, const at::Tensor& images) {
    return model_->RunHead(layer, activation, sides_of(images));
  };
  input.run_head_scores = [&](const at::Tensor& activation, const at::Tensor& images, const at::Tensor& classes) {
    return model_->RunHeadScores(layer, activation, sides_of(images), classes);
  };
  input.run_forward = [&](const at::Tensor& inputs) { return model_->Forward(inputs); };
  input.should_stop = spec.should_stop;
  StatusOr<at::Tensor> maps = ComputePerturbationCam(spec.method, input, perturbation_options_);
  if (!maps.ok()) return maps.status();
  result.maps = *maps;
  if (spec.profile_stages) SynchronizeDevice();
  return result;
}

int64_t ExplainerEngine::Impl::KnownPerturbationRuns(const std::string& key) const {
  absl::MutexLock lock(&perturbation_runs_mutex_);
  auto found = perturbation_runs_.find(key);
  return found == perturbation_runs_.end() ? 0 : found->second;
}

void ExplainerEngine::Impl::RememberPerturbationRuns(const std::string& key, int64_t runs) {
  absl::MutexLock lock(&perturbation_runs_mutex_);
  perturbation_runs_[key] = runs;
}

Status ExplainerEngine::Impl::CheckLogits(const at::Tensor& logits, size_t items) {
  if (logits.dim() != 2 || logits.size(0) != static_cast<int64_t>(items)) {
    return InvalidArgumentError("the model's output is not [N, classes] logits");
  }
  return Status::Ok();
}

Status ExplainerEngine::Impl::Evaluate(const ExplainBatchSpec& spec, const std::vector<ExplainItem>& items,
                                       const at::Tensor& batch, const LayerMaps& maps,
                                       const at::Tensor& target_probabilities, std::vector<ExplainResult>* results) {
  std::vector<int64_t> evaluated;
  for (size_t i = 0; i < items.size(); ++i) {
    if (items[i].evaluate) evaluated.push_back(static_cast<int64_t>(i));
  }
  if (evaluated.empty()) return Status::Ok();
  const at::Tensor rows = at::tensor(evaluated, at::kLong).to(batch.device());
  QualityInput input;
  input.inputs = batch.index_select(0, rows);
  // The map at input resolution, as the heatmap of HeatmapResolution::kInput.
  input.maps = at::upsample_bilinear2d(maps.maps.index_select(0, rows).unsqueeze(1), {batch.size(2), batch.size(3)},
                                       /*align_corners=*/false)
                   .squeeze(1);
  input.targets = at::tensor(maps.targets, at::kLong).to(batch.device()).index_select(0, rows);
  input.target_probabilities = target_probabilities.to(batch.device()).index_select(0, rows);
  input.run_forward = [&](const at::Tensor& inputs) { return model_->Forward(inputs); };
  input.should_stop = spec.should_stop;
  StatusOr<std::vector<ExplanationQuality>> qualities = EvaluateExplanations(input, quality_options_);
  if (!qualities.ok()) return qualities.status();
  for (size_t k = 0; k < evaluated.size(); ++k) {
    (*results)[static_cast<size_t>(evaluated[k])].quality = std::move((*qualities)[k]);
  }
  return Status::Ok();
}

StatusOr<BatchResult> ExplainerEngine::Impl::Explain(const ExplainBatchSpec& spec,
                                                     const std::vector<ExplainItem>& items) {
  CAMSERVE_RETURN_IF_ERROR(ValidateItems(items));
  std::vector<const PreparedInput*> inputs;
  for (const ExplainItem& item : items) inputs.push_back(item.input);
  StatusOr<at::Tensor> batch = StackInputs(inputs);
  if (!batch.ok()) return batch.status();
  const std::string& layer = spec.target_layer.empty() ? info_.default_layer : spec.target_layer;
  const int64_t n = static_cast<int64_t>(items.size());

  BatchResult result;
  result.timings = StageTimings(spec.profile_stages);
  StatusOr<LayerMaps> maps = CamMethodPerturbs(spec.method)
                                 ? PerturbationMaps(spec, items, *batch, layer, &result.timings)
                                 : ActivationMaps(spec, items, *batch, layer, &result.timings);
  if (!maps.ok()) return maps.status();

  StageTimer cam_timer(&result.timings, Stage::kCam);
  at::NoGradGuard no_grad;
  const at::Tensor target_index = at::tensor(maps->targets, at::kLong).to(maps->logits.device()).unsqueeze(1);
  at::Tensor probabilities = at::softmax(maps->logits.to(at::kFloat), 1);
  int max_k = 0;
  for (const ExplainItem& item : items) max_k = std::max(max_k, std::min(item.top_k, info_.num_classes));
  auto top = probabilities.topk(std::max(max_k, 1), 1);
  at::Tensor top_probabilities = std::get<0>(top).to(at::kCPU).contiguous();
  at::Tensor top_indices = std::get<1>(top).to(at::kCPU).contiguous();
  at::Tensor target_probabilities = probabilities.gather(1, target_index).squeeze(1);
  const at::Tensor host_target_probabilities = target_probabilities.to(at::kCPU).contiguous();

  result.items.resize(n);
  FillHeatmaps(maps->maps, items, &result.items);
  for (int64_t i = 0; i < n; ++i) {
    ExplainResult& item_result = result.items[i];
    item_result.target = Score(static_cast<int>(maps->targets[i]), host_target_probabilities[i].item<float>());
    item_result.top_k = TopK(top_probabilities[i], top_indices[i], std::min(items[i].top_k, info_.num_classes));
  }
  cam_timer.Stop();

  StageTimer evaluate_timer(&result.timings, Stage::kEvaluate);
  CAMSERVE_RETURN_IF_ERROR(Evaluate(spec, items, *batch, *maps, target_probabilities, &result.items));
  evaluate_timer.Stop();
  return result;
}

StatusOr<std::vector<std::vector<ClassScore>>> ExplainerEngine::Impl::Classify(
    const std::vector<const PreparedInput*>& inputs, int top_k) {
  StatusOr<at::Tensor> batch = StackInputs(inputs);
  if (!batch.ok()) return batch.status();
  StatusOr<at::Tensor> logits = model_->Forward(*batch);
  if (!logits.ok()) return logits.status();
  at::NoGradGuard no_grad;
  const int k = std::max(1, std::min(top_k, info_.num_classes));
  auto top = at::softmax(logits->to(at::kFloat), 1).topk(k, 1);
  at::Tensor probabilities = std::get<0>(top).to(at::kCPU).contiguous();
  at::Tensor indices = std::get<1>(top).to(at::kCPU).contiguous();
  std::vector<std::vector<ClassScore>> scores;
  for (size_t i = 0; i < inputs.size(); ++i) scores.push_back(TopK(probabilities[i], indices[i], k));
  return scores;
}

StatusOr<std::unique_ptr<ExplainerEngine>> ExplainerEngine::Create(const EngineOptions& options) {
  if (options.model_path.empty()) return InvalidArgumentError("model path is empty");
  if (options.perturbation.batch_size < 1 || options.perturbation.max_head_runs_per_image < 1 ||
      options.perturbation.max_scorecam_forwards < 1 || options.quality.steps < 1 || options.quality.batch_size < 1) {
    return InvalidArgumentError(
        "perturbation batch size, caps and quality steps must be >= 1 (engine.perturbation_batch_size, "
        "engine.max_head_runs_per_image, engine.max_scorecam_forwards, engine.quality_steps)");
  }

  const std::string sidecar_path =
      options.sidecar_path.empty() ? SidecarPathFor(options.model_path) : options.sidecar_path;
  StatusOr<ModelSidecar> sidecar = LoadModelSidecar(options.model_path, sidecar_path, options.sidecar_defaults);
  if (!sidecar.ok()) return sidecar.status();

  CamModelOptions model_options;
  model_options.device = options.device;
  model_options.precision = options.precision;
  model_options.channels_last = options.channels_last;
  model_options.optimize_for_inference = options.optimize_for_inference;
  model_options.max_optimized_layers = options.max_optimized_layers;
  model_options.optimize_tolerance = options.optimize_tolerance;
  model_options.precision_tolerance = options.precision_tolerance;
  model_options.probe_height_px = sidecar->input_height_px;
  model_options.probe_width_px = sidecar->input_width_px;
  model_options.first_layer = sidecar->default_layer;
  model_options.layer_layouts = sidecar->layer_layouts;
  StatusOr<std::unique_ptr<CamModel>> model = CamModel::Load(options.model_path, model_options);
  if (!model.ok()) return model.status();

  ModelInfo info;
  info.name = sidecar->name;
  info.path = options.model_path;
  info.device = (*model)->device().str();
  info.input_height_px = sidecar->input_height_px;
  info.input_width_px = sidecar->input_width_px;
  info.labels = sidecar->labels;
  info.default_layer = sidecar->default_layer;
  info.precision = PrecisionName((*model)->precision());

  // One forward tells the class count, and doubles as the first warm-up.
  at::Tensor blank = (*model)->ToModelInput(at::zeros({1, 3, info.input_height_px, info.input_width_px}));
  StatusOr<at::Tensor> logits = (*model)->Forward(blank);
  if (!logits.ok()) {
    return InvalidArgumentError("model '" + info.name + "' fails on a blank " + std::to_string(info.input_height_px) +
                                "x" + std::to_string(info.input_width_px) + " input: " + logits.status().message());
  }
  if (logits->dim() != 2 || logits->size(0) != 1) {
    return InvalidArgumentError("model '" + info.name + "' must return [N, classes] logits");
  }
  info.num_classes = static_cast<int>(logits->size(1));
  if (!info.labels.empty() && static_cast<int>(info.labels.size()) != info.num_classes) {
    return InvalidArgumentError("sidecar of model '" + info.name + "' has " + std::to_string(info.labels.size()) +
                                " labels but the model outputs " + std::to_string(info.num_classes) + " classes");
  }

  Preprocessor preprocessor(*sidecar, options.decode, options.tensor_limits);
  auto impl = std::make_unique<Impl>(std::move(model).value(), std::move(sidecar).value(), info,
                                     std::move(preprocessor), options.perturbation, options.quality);
  PreparedInput warmup_input{{3, info.input_height_px, info.input_width_px},
                             std::vector<float>(3 * info.input_height_px * info.input_width_px, 0.f),
                             info.input_width_px,
                             info.input_height_px};
  const auto warmup_start = Clock::now();
  for (int i = 0; i < options.warmup_iterations; ++i) {
    ExplainItem warmup_item;
    warmup_item.input = &warmup_input;
    StatusOr<BatchResult> warm = impl->Explain(ExplainBatchSpec{}, {warmup_item});
    if (!warm.ok()) return warm.status();
    auto classified = impl->Classify({&warmup_input}, 1);
    if (!classified.ok()) return classified.status();
  }
  spdlog::info(
      "loaded model '{}' from {} on {} ({} classes, input {}x{}, default layer {}, {}, "
      "{} intra-op threads, warm-up {} ms)",
      info.name, info.path, info.device, info.num_classes, info.input_height_px, info.input_width_px,
      info.default_layer, info.precision, at::get_num_threads(), MicrosSince(warmup_start) / 1000);
  return std::unique_ptr<ExplainerEngine>(new ExplainerEngine(std::move(impl)));
}

ExplainerEngine::ExplainerEngine(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
ExplainerEngine::~ExplainerEngine() = default;

const ModelInfo& ExplainerEngine::info() const { return impl_->info(); }
const Preprocessor& ExplainerEngine::preprocessor() const { return impl_->preprocessor(); }
std::vector<std::string> ExplainerEngine::UsableLayers() { return impl_->model().UsableLayers(); }
std::vector<LayerExecution> ExplainerEngine::PreparedLayers() { return impl_->model().Layers(); }

StatusOr<BatchResult> ExplainerEngine::Explain(const ExplainBatchSpec& spec, const std::vector<ExplainItem>& items) {
  try {
    return impl_->Explain(spec, items);
  } catch (...) {
    return StatusFromModelException("explanation failed");
  }
}

StatusOr<std::vector<std::vector<ClassScore>>> ExplainerEngine::Classify(
    const std::vector<const PreparedInput*>& inputs, int top_k) {
  try {
    return impl_->Classify(inputs, top_k);
  } catch (...) {
    return StatusFromModelException("classification failed");
  }
}

}  // namespace camserve
