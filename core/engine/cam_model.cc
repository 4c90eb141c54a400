#include "core/engine/cam_model.h"

#include <torch/csrc/jit/runtime/jit_exception.h>

#include <spdlog/spdlog.h>
#include <torch/csrc/autograd/autograd.h>
#include <torch/csrc/jit/passes/frozen_graph_optimizations.h>
#include <torch/cuda.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <sstream>
#include <stdexcept>

#include "core/cam/cam_method.h"
#include "core/engine/layer_instrumenter.h"

namespace camserve {
namespace {

StatusOr<at::Device> ResolveDevice(const std::string& name) {
  const bool cuda_available = torch::cuda::is_available();
  if (name == "auto") return cuda_available ? at::Device("cuda:0") : at::Device(at::kCPU);
  try {
    at::Device device(name);
    if (device.is_cuda() && !cuda_available) {
      return FailedPreconditionError("device '" + name + "' requested but CUDA is not available");
    }
    if (!device.is_cpu() && !device.is_cuda()) {
      return InvalidArgumentError("device '" + name + "' is not supported; use auto, cpu or cuda[:N]");
    }
    return device.is_cuda() && !device.has_index() ? at::Device("cuda:0") : device;
  } catch (const c10::Error&) {
    return InvalidArgumentError("device '" + name + "' is not a device name; use auto, cpu or cuda[:N]");
  }
}

// TorchScript puts the interpreter's traceback before the model's own
// message; the last non-empty line is that message ("builtins.ValueError:
// ...").
std::string ConciseMessage(const std::string& text) {
  size_t end = text.find_last_not_of(" \n\r\t");
  if (end == std::string::npos) return text;
  const size_t start = text.find_last_of('\n', end);
  return text.substr(start == std::string::npos ? 0 : start + 1,
                     end - (start == std::string::npos ? 0 : start + 1) + 1);
}

// The status of a failed model call from its error message: out of memory
// (LibTorch's allocators: CPU "can't allocate memory", CUDA "CUDA out of
// memory", or `out_of_memory` when the error's type says so), a device fault
// (CUDA errors other than out of memory are sticky: the context is
// unusable), or a model fault.
Status StatusFromModelMessage(const std::string& what, const std::string& full_message, bool out_of_memory) {
  const std::string message = ConciseMessage(full_message);
  if (out_of_memory || full_message.find("can't allocate memory") != std::string::npos ||
      full_message.find("out of memory") != std::string::npos) {
    return ResourceExhaustedError(what + ": out of memory: " + message);
  }
  if (full_message.find("CUDA error") != std::string::npos ||
      full_message.find("CUDA driver error") != std::string::npos) {
    return UnavailableError(what + ": the device failed: " + message);
  }
  return InternalError(what + ": " + message);
}

// LibTorch's load errors may span lines (a TorchScript compile error quotes
// the source); the first says what is wrong, and a startup error is one line.
std::string FirstLine(const std::string& text) {
  const size_t start = text.find_first_not_of(" \n\r\t");
  if (start == std::string::npos) return text;
  const size_t end = text.find('\n', start);
  return text.substr(start, end == std::string::npos ? std::string::npos : end - start);
}

// What torch::jit::load would report less clearly: a missing or unreadable
// file, a directory, a file that is not a zip archive (TorchScript files are).
Status CheckTorchScriptFile(const std::string& path) {
  std::error_code error;
  const std::filesystem::file_status status = std::filesystem::status(path, error);
  if (!std::filesystem::exists(status)) return InvalidArgumentError("no such file");
  if (std::filesystem::is_directory(status)) return InvalidArgumentError("a directory, not a file");
  std::ifstream file(path, std::ios::binary);
  if (!file) return InvalidArgumentError(std::string("cannot read it: ") + std::strerror(errno));
  char magic[4] = {};
  file.read(magic, sizeof(magic));
  if (file.gcount() != sizeof(magic) || std::memcmp(magic, "PK\x03\x04", sizeof(magic)) != 0) {
    return InvalidArgumentError("not a TorchScript archive (not a zip file; save the model with torch.jit.save)");
  }
  return Status::Ok();
}

}  // namespace

Status StatusFromModelException(const std::string& what) {
  try {
    throw;
  } catch (const c10::Error& e) {
    return StatusFromModelMessage(what, e.what_without_backtrace(),
                                  dynamic_cast<const c10::OutOfMemoryError*>(&e) != nullptr);
  } catch (const std::bad_alloc&) {
    return ResourceExhaustedError(what + ": out of memory (std::bad_alloc)");
  } catch (const torch::jit::JITException& e) {
    // A TorchScript `raise`: the model's own error, whatever its words.
    return InternalError(what + ": " + ConciseMessage(e.what()));
  } catch (const std::exception& e) {
    // An operator's c10::Error inside the TorchScript interpreter (the
    // model's forward) arrives rethrown as std::runtime_error, its message
    // kept: out of memory and device faults are told by it, as above.
    return StatusFromModelMessage(what, e.what(), /*out_of_memory=*/false);
  } catch (...) {
    return InternalError(what + ": an exception of unknown type");
  }
}

namespace {

// Seeded, so every load of a model measures the same thing.
constexpr uint64_t kProbeSeed = 20261129;
constexpr int kProbeImages = 4;
// The probe sees four inputs; others move more. In the parity suite an
// optimized ResNeXt copy measured 9.0e-5 on the probe and 2.5e-4 on the
// suite's inputs, so an optimized fp32 copy must stay this many times below
// its tolerance on the probe (docs/numerics.md). A reduced precision is
// judged on the probe as measured: its tolerance is an accuracy budget, not
// a parity bound.
constexpr double kOptimizedProbeMargin = 10;

// Two images of seeded Gaussian noise and two smooth ones (noise at 1/16 of
// the size, upsampled): normalised inputs of both kinds a model meets.
at::Tensor ProbeBatch(int height_px, int width_px) {
  at::Generator generator = at::detail::createCPUGenerator(kProbeSeed);
  at::Tensor noise = at::randn({kProbeImages / 2, 3, height_px, width_px}, generator);
  at::Tensor coarse =
      at::randn({kProbeImages / 2, 3, std::max(1, height_px / 16), std::max(1, width_px / 16)}, generator);
  at::Tensor smooth = at::upsample_bilinear2d(coarse, {height_px, width_px}, /*align_corners=*/false) * 1.5;
  return at::cat({noise, smooth});
}

// Targets of the probe: the top-1 class for even images, explicit classes at
// both ends of the range for odd ones (requests ask for either).
// `scores`: the reference's logits or probabilities, [N, classes].
at::Tensor ProbeTargets(const at::Tensor& scores) {
  const int64_t classes = scores.size(1);
  at::Tensor targets = scores.argmax(1).to(at::kCPU);
  for (int64_t i = 1; i < targets.size(0); i += 2) targets[i] = (i / 2) % 2 == 0 ? classes - 1 : classes / 2;
  return targets;
}

// What one runner gives on the probe: class probabilities [N, classes] and
// the normalised maps of every CAM method at feature resolution [M, N, h, w].
struct ProbeOutput {
  at::Tensor probabilities;
  at::Tensor maps;
};

// `retain_graph`: keep the autograd graph for maps of other targets.
ProbeOutput MapsOfEveryMethod(const CamModel::LayerOutput& output, const at::Tensor& targets, bool retain_graph) {
  at::Tensor logits = output.logits;
  at::Tensor score = logits.gather(1, targets.to(logits.device()).unsqueeze(1)).sum();
  at::Tensor gradients = torch::autograd::grad({score}, {output.activation}, /*grad_outputs=*/{}, retain_graph,
                                               /*create_graph=*/false, /*allow_unused=*/true)[0];
  at::NoGradGuard no_grad;
  const at::Tensor activation = ToNchw(output.activation.detach(), output.layout);
  if (gradients.defined()) gradients = ToNchw(gradients, output.layout);
  std::vector<at::Tensor> maps;
  for (CamMethodKind kind : AllCamMethods()) {
    std::unique_ptr<CamMethod> method = CreateCamMethod(kind);
    if (method == nullptr) continue;  // perturbation methods run the plain module's head
    if (method->UsesGradients() && !gradients.defined()) continue;
    maps.push_back(method->Compute(activation, method->UsesGradients() ? gradients : at::Tensor()));
  }
  return ProbeOutput{at::softmax(logits.detach().to(at::kFloat), 1).to(at::kCPU), at::stack(maps).to(at::kCPU)};
}

double MaxAbsDifference(const at::Tensor& a, const at::Tensor& b) {
  if (a.sizes() != b.sizes()) return std::numeric_limits<double>::infinity();
  return (a.to(at::kDouble) - b.to(at::kDouble)).abs().max().item<double>();
}

std::string FormatDifference(double value) {
  std::ostringstream text;
  text.precision(2);
  text << std::scientific << value;
  return text.str();
}

std::string RunnerName(const std::string& layer, bool optimized, Precision precision) {
  std::string name = precision == Precision::kFp32 ? "the optimized copy" : std::string(PrecisionName(precision));
  if (precision != Precision::kFp32 && optimized) name += " (frozen copy)";
  return name + (layer.empty() ? " of forward" : " of layer '" + layer + "'");
}

}  // namespace

StatusOr<std::unique_ptr<CamModel>> CamModel::Load(const std::string& path, const CamModelOptions& options) {
  StatusOr<at::Device> device = ResolveDevice(options.device);
  if (!device.ok()) return device.status();
  StatusOr<Precision> precision = ParsePrecision(options.precision);
  if (!precision.ok()) return precision.status();
  CAMSERVE_RETURN_IF_ERROR(CheckPrecisionSupported(*precision, device->is_cuda(), CpuHasNativeBf16()));
  if (options.max_optimized_layers < 0) {
    return InvalidArgumentError("max_optimized_layers must be >= 0; was " +
                                std::to_string(options.max_optimized_layers));
  }
  if (!(options.optimize_tolerance >= 0) || !(options.precision_tolerance >= 0)) {
    return InvalidArgumentError("optimize_tolerance and precision_tolerance must be >= 0");
  }
  const std::string cannot_load = "cannot load TorchScript model '" + path + "': ";
  if (Status readable = CheckTorchScriptFile(path); !readable.ok()) {
    return InvalidArgumentError(cannot_load + readable.message());
  }
  torch::jit::Module module;
  try {
    module = torch::jit::load(path, *device);
  } catch (const c10::Error& e) {
    return InvalidArgumentError(cannot_load +
                                "not a TorchScript archive (truncated, or not written by "
                                "torch.jit.save): " +
                                FirstLine(e.what_without_backtrace()));
  }
  try {
    module.eval();
    // The weights stay as saved (float32) in every mode: a reduced precision
    // is autocast's. Module::to(device, dtype) would also turn integer
    // buffers (Swin's relative position index) into floats.
    module.to(*device);
    for (at::Tensor parameter : module.parameters()) parameter.set_requires_grad(false);
  } catch (const c10::Error& e) {
    return InvalidArgumentError(cannot_load + "cannot move it to " + device->str() + ": " +
                                FirstLine(e.what_without_backtrace()));
  }
  if (!module.find_method("forward")) {
    return InvalidArgumentError("model '" + path + "' has no forward method");
  }
  std::unique_ptr<CamModel> model(new CamModel(std::move(module), *device, *precision, options));
  if (!options.first_layer.empty()) {
    if (Status prepared = model->PrepareLayer(options.first_layer); !prepared.ok()) {
      return InvalidArgumentError("default layer of model '" + path + "': " + prepared.message());
    }
  }
  absl::WriterMutexLock lock(&model->module_mutex_);
  model->precision_decided_ = true;
  model->ChooseForwardRunnerLocked();
  // channels_last pays where convolutions have kernels for it: cuDNN, and
  // oneDNN's bf16 ones (docs/benchmarks.md).
  model->channels_last_ = options.channels_last && (device->is_cuda() || model->precision_ == Precision::kBf16);
  return model;
}

CamModel::CamModel(torch::jit::Module module, at::Device device, Precision precision, const CamModelOptions& options)
    : device_(device),
      optimize_(options.optimize_for_inference),
      max_optimized_layers_(options.max_optimized_layers),
      probe_height_px_(options.probe_height_px),
      probe_width_px_(options.probe_width_px),
      optimize_tolerance_(options.optimize_tolerance),
      precision_tolerance_(options.precision_tolerance),
      layer_layouts_(options.layer_layouts),
      precision_(precision),
      module_(std::move(module)) {
  forward_runner_ = LayerRunner{module_, "forward", Precision::kFp32, LayerExecution{}};
}

Precision CamModel::precision() const {
  absl::ReaderMutexLock lock(&module_mutex_);
  return precision_;
}

at::Tensor CamModel::ToModelInput(const at::Tensor& host_batch) const {
  at::Tensor batch = host_batch.to(device_, at::kFloat, /*non_blocking=*/false, /*copy=*/false);
  return channels_last_ ? batch.contiguous(at::MemoryFormat::ChannelsLast) : batch;
}

StatusOr<at::Tensor> CamModel::Forward(const at::Tensor& batch) {
  absl::ReaderMutexLock lock(&module_mutex_);
  try {
    at::NoGradGuard no_grad;
    AutocastScope autocast(device_.type(), forward_runner_.precision);
    at::IValue output = forward_runner_.module.forward({batch});
    if (!output.isTensor()) return InternalError("the model's forward did not return a Tensor");
    return output.toTensor().to(at::kFloat);
  } catch (...) {
    return StatusFromModelException("model forward failed");
  }
}

const CamModel::LayerRunner* CamModel::FindRunner(const std::string& layer) const {
  auto it = layer_runners_.find(layer);
  return it == layer_runners_.end() ? nullptr : &it->second;
}

Status CamModel::PrepareLayer(const std::string& layer) {
  {
    absl::ReaderMutexLock lock(&module_mutex_);
    if (FindRunner(layer)) return Status::Ok();
  }
  Status added;
  {
    absl::WriterMutexLock lock(&module_mutex_);
    added = AddLayerRunnerLocked(layer);
  }
  // Outside the lock: UsableLayers() takes it.
  if (!added.ok()) return InvalidArgumentError(added.message() + "; " + DescribeUsableLayers(UsableLayers()));
  return Status::Ok();
}

std::vector<CamModel::Candidate> CamModel::CandidatesLocked(const std::string& layer, const std::string& method) {
  const bool forward = layer.empty();
  int copies = 0;
  for (const auto& [name, existing] : layer_runners_) copies += existing.execution.optimized ? 1 : 0;
  const bool may_copy = optimize_ && (forward || copies < max_optimized_layers_);
  if (optimize_ && !may_copy) {
    spdlog::info("layer '{}' runs on the plain module: {} layers already have a copy of their own (the most allowed)",
                 layer, copies);
  }
  // Frozen with the method preserved (freeze keeps only forward otherwise);
  // freeze folds batch norms into convolutions in forward's graph only, so
  // the method's graph is optimized here.
  // A handle to the same module, for the lambdas (the lock analysis does
  // not see into them).
  const torch::jit::Module plain = module_;
  auto frozen_copy = [&]() {
    torch::jit::Module frozen =
        forward ? torch::jit::freeze(plain) : torch::jit::freeze(plain, std::vector<std::string>{method});
    if (!forward) {
      std::shared_ptr<torch::jit::Graph> graph = frozen.get_method(method).graph();
      torch::jit::OptimizeFrozenGraph(graph, /*optimize_numerics=*/true);
    }
    return frozen;
  };
  auto runner_on = [&](torch::jit::Module module, bool optimized, Precision precision) {
    LayerExecution execution;
    execution.layer = layer;
    execution.optimized = optimized;
    execution.precision = PrecisionName(precision);
    return LayerRunner{std::move(module), method, precision, std::move(execution)};
  };
  std::vector<Candidate> candidates;
  if (precision_ != Precision::kFp32) {
    // Autocast does not reach oneDNN's pre-packed convolutions, so a reduced
    // precision runs on a frozen copy without them, or on the plain module.
    torch::jit::Module module = plain;
    bool copied = false;
    if (may_copy) {
      try {
        module = frozen_copy();
        copied = true;
      } catch (const c10::Error& e) {
        spdlog::warn("cannot freeze a copy for {}: {}", RunnerName(layer, true, precision_),
                     e.what_without_backtrace());
      }
    }
    candidates.push_back(Candidate{runner_on(module, copied, precision_), precision_tolerance_});
  }
  if (may_copy) {
    try {
      torch::jit::Module frozen = frozen_copy();
      torch::jit::Module optimized =
          forward ? torch::jit::optimize_for_inference(frozen) : torch::jit::optimize_for_inference(frozen, {method});
      candidates.push_back(Candidate{runner_on(optimized, true, Precision::kFp32), optimize_tolerance_});
    } catch (const c10::Error& e) {
      spdlog::warn("optimize_for_inference failed for {}, using the plain module: {}",
                   RunnerName(layer, true, Precision::kFp32), e.what_without_backtrace());
    }
  }
  return candidates;
}

CamModel::LayerRunner CamModel::ChooseRunnerLocked(const std::string& layer, LayerRunner reference,
                                                   std::vector<Candidate> candidates) {
  reference.execution.layer = layer;
  if (candidates.empty()) return reference;
  if (probe_height_px_ <= 0 || probe_width_px_ <= 0) return std::move(candidates.front().runner);
  const bool forward = layer.empty();
  const at::Tensor probe = ToModelInput(ProbeBatch(probe_height_px_, probe_width_px_));
  // What a runner gives on the probe for `targets`; maps only for layers.
  auto run_probe = [&](const LayerRunner& runner, const at::Tensor& targets) -> StatusOr<ProbeOutput> {
    try {
      if (forward) {
        at::NoGradGuard no_grad;
        AutocastScope autocast(device_.type(), runner.precision);
        torch::jit::Module module = runner.module;
        at::Tensor logits = module.forward({probe}).toTensor().to(at::kFloat);
        return ProbeOutput{at::softmax(logits, 1).to(at::kCPU), at::Tensor()};
      }
      StatusOr<LayerOutput> output = RunLayer(runner, probe, layer, /*track_gradients=*/true);
      if (!output.ok()) return output.status();
      return MapsOfEveryMethod(*output, targets, /*retain_graph=*/false);
    } catch (...) {
      return StatusFromModelException("probe failed");
    }
  };
  // The plain module's answers, for the two target sets: an optimized fp32
  // copy must match every request (mixed targets) within its tolerance; a
  // reduced precision is judged on the top-1 maps, what a request without a
  // target class gets (explicit low-probability classes move more: see
  // docs/numerics.md).
  // One run of the plain module answers both target sets.
  StatusOr<ProbeOutput> top1_expected = InternalError("not run");
  StatusOr<ProbeOutput> mixed_expected = InternalError("not run");
  at::Tensor top1_targets, mixed_targets;
  if (forward) {
    top1_expected = run_probe(reference, at::Tensor());
  } else {
    try {
      // A layer that cannot be explained (not [N, C, H, W]) fails here, and
      // its requests get the same error from the plain module.
      StatusOr<LayerOutput> output = RunLayer(reference, probe, layer, /*track_gradients=*/true);
      if (!output.ok()) throw std::runtime_error(output.status().message());
      const at::Tensor logits = output->logits.detach().to(at::kFloat);
      top1_targets = logits.argmax(1).to(at::kCPU);
      mixed_targets = ProbeTargets(logits);
      top1_expected = MapsOfEveryMethod(*output, top1_targets, /*retain_graph=*/true);
      mixed_expected = MapsOfEveryMethod(*output, mixed_targets, /*retain_graph=*/false);
    } catch (...) {
      top1_expected = StatusFromModelException("probe failed");
    }
  }
  if (!top1_expected.ok() || (!forward && !mixed_expected.ok())) {
    const Status& failed = top1_expected.ok() ? mixed_expected.status() : top1_expected.status();
    reference.execution.note = "not validated (the plain module fails on the probe batch: " + failed.message() +
                               "), so no faster runner is used";
    spdlog::warn("{}: {}", forward ? std::string("forward") : "layer '" + layer + "'", reference.execution.note);
    return reference;
  }
  std::string refusals;
  for (Candidate& candidate : candidates) {
    LayerRunner& runner = candidate.runner;
    const bool reduced = runner.precision != Precision::kFp32;
    const std::string name = RunnerName(layer, runner.execution.optimized, runner.precision);
    const ProbeOutput& expected = forward || reduced ? *top1_expected : *mixed_expected;
    std::string refusal;
    StatusOr<ProbeOutput> actual = run_probe(runner, forward || reduced ? top1_targets : mixed_targets);
    if (!actual.ok()) {
      refusal = name + " fails on the probe batch: " + actual.status().message();
    } else {
      LayerExecution& execution = runner.execution;
      execution.probability_difference = MaxAbsDifference(actual->probabilities, expected.probabilities);
      execution.map_difference = forward ? 0 : MaxAbsDifference(actual->maps, expected.maps);
      // A reduced precision's probabilities are reported, not judged: its
      // classifier runs in that precision too.
      const double judged = reduced ? (forward ? 0 : execution.map_difference)
                                    : std::max(execution.map_difference, execution.probability_difference);
      const double margin = reduced ? 1 : kOptimizedProbeMargin;
      if (judged * margin <= candidate.tolerance) {
        execution.note = refusals;
        if (!forward) {
          spdlog::info("{}: validated, maps within {} and probabilities within {} of the plain fp32 module", name,
                       FormatDifference(execution.map_difference), FormatDifference(execution.probability_difference));
        }
        return std::move(runner);
      }
      refusal = name + " refused: " +
                (forward ? std::string() : "maps differ by " + FormatDifference(execution.map_difference) + ", ") +
                "probabilities by " + FormatDifference(execution.probability_difference) +
                " from the plain fp32 module on the probe batch (" +
                (reduced ? "tolerance " + FormatDifference(candidate.tolerance)
                         : "at most a tenth of the tolerance " + FormatDifference(candidate.tolerance) +
                               " is accepted on the probe") +
                ")";
    }
    spdlog::warn("{}", refusal);
    refusals += (refusals.empty() ? "" : "; ") + refusal;
  }
  reference.execution.note = refusals;
  return reference;
}

Status CamModel::AddLayerRunnerLocked(const std::string& layer) {
  if (FindRunner(layer)) return Status::Ok();
  StatusOr<std::string> method = AddActivationMethod(module_, layer);
  if (!method.ok()) return method.status();
  LayerRunner plain{module_, *method, Precision::kFp32, LayerExecution{}};
  LayerRunner chosen = ChooseRunnerLocked(layer, std::move(plain), CandidatesLocked(layer, *method));
  if (!precision_decided_) {
    precision_decided_ = true;
    if (precision_ != Precision::kFp32 && chosen.precision == Precision::kFp32) {
      spdlog::warn("precision {} refused for this model, which runs in fp32: {}", PrecisionName(precision_),
                   chosen.execution.note);
      precision_ = Precision::kFp32;
    }
  }
  layer_runners_.emplace(layer, std::move(chosen));
  return Status::Ok();
}

void CamModel::ChooseForwardRunnerLocked() {
  LayerRunner plain{module_, "forward", Precision::kFp32, LayerExecution{}};
  forward_runner_ = ChooseRunnerLocked("", std::move(plain), CandidatesLocked("", "forward"));
}

std::vector<std::string> CamModel::OptimizedLayers() {
  absl::ReaderMutexLock lock(&module_mutex_);
  std::vector<std::string> layers;
  for (const auto& [name, runner] : layer_runners_) {
    if (runner.execution.optimized) layers.push_back(name);
  }
  std::sort(layers.begin(), layers.end());
  return layers;
}

std::vector<LayerExecution> CamModel::Layers() {
  absl::ReaderMutexLock lock(&module_mutex_);
  std::vector<LayerExecution> layers;
  for (const auto& [name, runner] : layer_runners_) layers.push_back(runner.execution);
  std::sort(layers.begin(), layers.end(),
            [](const LayerExecution& a, const LayerExecution& b) { return a.layer < b.layer; });
  return layers;
}

void CamModel::FallBackToPlain(const std::string& layer, const std::string& why) {
  absl::WriterMutexLock lock(&module_mutex_);
  LayerRunner& runner = layer_runners_.at(layer);
  if (!runner.Fast()) return;
  const std::string note = RunnerName(layer, runner.execution.optimized, runner.precision) + " " + why +
                           "; the layer uses the plain fp32 module from now on";
  spdlog::warn("{}", note);
  LayerExecution execution;
  execution.layer = layer;
  execution.note = note;
  runner = LayerRunner{module_, runner.method, Precision::kFp32, std::move(execution)};
}

StatusOr<LayerLayout> CamModel::LayoutOf(const at::Tensor& activation, const std::string& layer) const {
  auto declared = layer_layouts_.find(layer);
  return ResolveLayerLayout(activation, declared == layer_layouts_.end() ? LayerLayout::kAuto : declared->second,
                            layer);
}

StatusOr<CamModel::LayerOutput> CamModel::RunLayer(const LayerRunner& runner, const at::Tensor& batch,
                                                   const std::string& layer, bool track_gradients) {
  at::AutoGradMode grad_mode(track_gradients);
  AutocastScope autocast(device_.type(), runner.precision);
  at::IValue output = runner.module.get_method(runner.method)({batch});
  const auto& pair = output.toTupleRef().elements();
  LayerOutput result{pair[0].toTensor(), pair[1].toTensor()};
  StatusOr<LayerLayout> layout = LayoutOf(result.activation, layer);
  if (!layout.ok()) return layout.status();
  result.layout = *layout;
  return result;
}

StatusOr<CamModel::LayerOutput> CamModel::RunLayerGuarded(const LayerRunner& runner, const at::Tensor& batch,
                                                          const std::string& layer, bool track_gradients) {
  try {
    return RunLayer(runner, batch, layer, track_gradients);
  } catch (...) {
    return StatusFromModelException("model forward failed");
  }
}

StatusOr<CamModel::LayerOutput> CamModel::ForwardWithActivation(const at::Tensor& batch, const std::string& layer,
                                                                bool track_gradients) {
  CAMSERVE_RETURN_IF_ERROR(PrepareLayer(layer));
  std::string fast_failure;
  {
    absl::ReaderMutexLock lock(&module_mutex_);
    const LayerRunner& runner = *FindRunner(layer);
    StatusOr<LayerOutput> output = RunLayerGuarded(runner, batch, layer, track_gradients);
    if (!runner.Fast()) return output;
    if (output.ok()) {
      if (!track_gradients || output->logits.requires_grad()) return output;
      fast_failure = "does not carry gradients to the logits";
    } else if (output.status().code() == StatusCode::kInternal) {
      fast_failure = "failed: " + output.status().message();
    } else {
      // Out of memory or a lost device says nothing about the runner.
      return output;
    }
  }
  // The fast runner failed. The plain module decides whose fault it was:
  // if it fails too, the input is (the runner stays); if it succeeds, the
  // runner is, and the layer uses the plain module from now on.
  StatusOr<LayerOutput> plain = InternalError("unreachable");
  {
    absl::ReaderMutexLock lock(&module_mutex_);
    plain = RunLayerGuarded(LayerRunner{module_, FindRunner(layer)->method, Precision::kFp32, LayerExecution{}}, batch,
                            layer, track_gradients);
  }
  if (plain.ok()) FallBackToPlain(layer, fast_failure);
  return plain;
}

StatusOr<HeadMethods> CamModel::PrepareHead(const std::string& layer) {
  {
    absl::ReaderMutexLock lock(&module_mutex_);
    auto found = head_methods_.find(layer);
    if (found != head_methods_.end()) return found->second;
  }
  absl::WriterMutexLock lock(&module_mutex_);
  auto found = head_methods_.find(layer);
  if (found != head_methods_.end()) return found->second;
  StatusOr<HeadMethods> methods = AddHeadMethods(module_, layer);
  if (!methods.ok()) return methods.status();
  head_methods_.emplace(layer, *methods);
  return methods;
}

StatusOr<CamModel::HeadInput> CamModel::SplitAt(const at::Tensor& batch, const std::string& layer) {
  StatusOr<HeadMethods> methods = PrepareHead(layer);
  if (!methods.ok()) return methods.status();
  if (methods->side_value_count == 0) {
    // Only the activation crosses into the head: the layer's runner gives
    // it, on its validated optimized copy when it has one (ResNet-50's
    // layer4: 36 instead of 52 ms), unless it runs in a reduced precision.
    CAMSERVE_RETURN_IF_ERROR(PrepareLayer(layer));
    bool fp32_runner = false;
    {
      absl::ReaderMutexLock lock(&module_mutex_);
      fp32_runner = FindRunner(layer)->precision == Precision::kFp32;
    }
    if (fp32_runner) {
      StatusOr<LayerOutput> output = ForwardWithActivation(batch, layer, /*track_gradients=*/false);
      if (!output.ok()) return output.status();
      return HeadInput{output->logits.detach(), output->activation.detach(), {}, output->layout};
    }
  }
  absl::ReaderMutexLock lock(&module_mutex_);
  try {
    at::NoGradGuard no_grad;
    at::IValue output = module_.get_method(methods->split)({batch});
    const auto& values = output.toTupleRef().elements();
    HeadInput input;
    input.logits = values[0].toTensor();
    input.activation = values[1].toTensor();
    for (size_t i = 2; i < values.size(); ++i) input.side_values.push_back(values[i].toTensor());
    StatusOr<LayerLayout> layout = LayoutOf(input.activation, layer);
    if (!layout.ok()) return layout.status();
    input.layout = *layout;
    return input;
  } catch (...) {
    return StatusFromModelException("model forward failed");
  }
}

namespace {

Status CheckSideValues(const std::string& layer, const HeadMethods& methods,
                       const std::vector<at::Tensor>& side_values) {
  if (static_cast<int>(side_values.size()) == methods.side_value_count) return Status::Ok();
  return InvalidArgumentError("the head of layer '" + layer + "' takes " + std::to_string(methods.side_value_count) +
                              " side values; got " + std::to_string(side_values.size()));
}

std::vector<at::IValue> HeadArguments(const at::Tensor& activation, const std::vector<at::Tensor>& side_values) {
  std::vector<at::IValue> inputs = {activation};
  for (const at::Tensor& value : side_values) inputs.emplace_back(value);
  return inputs;
}

}  // namespace

StatusOr<at::Tensor> CamModel::RunHead(const std::string& layer, const at::Tensor& activation,
                                       const std::vector<at::Tensor>& side_values) {
  StatusOr<HeadMethods> methods = PrepareHead(layer);
  if (!methods.ok()) return methods.status();
  CAMSERVE_RETURN_IF_ERROR(CheckSideValues(layer, *methods, side_values));
  absl::ReaderMutexLock lock(&module_mutex_);
  try {
    at::NoGradGuard no_grad;
    return module_.get_method(methods->head)(HeadArguments(activation, side_values)).toTensor().to(at::kFloat);
  } catch (...) {
    return StatusFromModelException("model head failed");
  }
}

StatusOr<at::Tensor> CamModel::RunHeadScores(const std::string& layer, const at::Tensor& activation,
                                             const std::vector<at::Tensor>& side_values, const at::Tensor& classes) {
  StatusOr<HeadMethods> methods = PrepareHead(layer);
  if (!methods.ok()) return methods.status();
  if (methods->features.empty()) {
    StatusOr<at::Tensor> logits = RunHead(layer, activation, side_values);
    if (!logits.ok()) return logits.status();
    return logits->gather(1, classes.to(logits->device()).view({-1, 1})).squeeze(1);
  }
  CAMSERVE_RETURN_IF_ERROR(CheckSideValues(layer, *methods, side_values));
  absl::ReaderMutexLock lock(&module_mutex_);
  try {
    at::NoGradGuard no_grad;
    const at::IValue output = module_.get_method(methods->features)(HeadArguments(activation, side_values));
    const auto& values = output.toTupleRef().elements();
    const at::Tensor features = values[0].toTensor().to(at::kFloat);
    const at::Tensor weight = values[1].toTensor().to(at::kFloat);
    const at::Tensor rows = classes.to(weight.device());
    if (features.dim() != 2) {
      return InternalError("the head of layer '" + layer + "' returned logits of " + std::to_string(features.dim()) +
                           " dimensions; a classifier's are [N, classes]");
    }
    at::Tensor scores = (features * weight.index_select(0, rows)).sum(1);
    if (!values[2].isNone()) scores += values[2].toTensor().to(at::kFloat).index_select(0, rows);
    return scores;
  } catch (...) {
    return StatusFromModelException("model head failed");
  }
}

bool CamModel::HeadScoresSkipFinalLinear(const std::string& layer) {
  absl::ReaderMutexLock lock(&module_mutex_);
  auto found = head_methods_.find(layer);
  return found != head_methods_.end() && !found->second.features.empty();
}

std::vector<std::string> CamModel::UsableLayers() {
  std::call_once(usable_layers_once_, [this] {
    absl::ReaderMutexLock lock(&module_mutex_);
    usable_layers_ = ListUsableLayers(module_);
  });
  return usable_layers_;
}

}  // namespace camserve
