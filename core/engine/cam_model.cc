#include "core/engine/cam_model.h"

#include <spdlog/spdlog.h>
#include <torch/csrc/jit/passes/frozen_graph_optimizations.h>
#include <torch/cuda.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>

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

StatusOr<at::ScalarType> ResolvePrecision(const std::string& name, const at::Device& device) {
  if (name == "fp32") return at::kFloat;
  if (name != "fp16" && name != "bf16") {
    return InvalidArgumentError("precision '" + name + "' is not one of fp32, fp16, bf16");
  }
  if (!device.is_cuda()) {
    return InvalidArgumentError("precision '" + name + "' needs a CUDA device; this one is " + device.str());
  }
  return name == "fp16" ? at::kHalf : at::kBFloat16;
}

bool IsOutOfMemory(const c10::Error& e) {
  if (dynamic_cast<const c10::OutOfMemoryError*>(&e) != nullptr) return true;
  const std::string message = e.what_without_backtrace();
  return message.find("can't allocate memory") != std::string::npos ||
         message.find("out of memory") != std::string::npos;
}

// CUDA errors other than out of memory are sticky: the context is unusable.
bool IsDeviceFault(const c10::Error& e) {
  const std::string message = e.what_without_backtrace();
  return message.find("CUDA error") != std::string::npos || message.find("CUDA driver error") != std::string::npos;
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
    const std::string message = ConciseMessage(e.what_without_backtrace());
    if (IsOutOfMemory(e)) return ResourceExhaustedError(what + ": out of memory: " + message);
    if (IsDeviceFault(e)) return UnavailableError(what + ": the device failed: " + message);
    return InternalError(what + ": " + message);
  } catch (const std::bad_alloc&) {
    return ResourceExhaustedError(what + ": out of memory (std::bad_alloc)");
  } catch (const std::exception& e) {
    // torch::jit::JITException (a TorchScript `raise`) among others.
    return InternalError(what + ": " + ConciseMessage(e.what()));
  } catch (...) {
    return InternalError(what + ": an exception of unknown type");
  }
}

StatusOr<std::unique_ptr<CamModel>> CamModel::Load(const std::string& path, const CamModelOptions& options) {
  StatusOr<at::Device> device = ResolveDevice(options.device);
  if (!device.ok()) return device.status();
  StatusOr<at::ScalarType> dtype = ResolvePrecision(options.precision, *device);
  if (!dtype.ok()) return dtype.status();
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
    module.to(*device, *dtype);
    for (at::Tensor parameter : module.parameters()) parameter.set_requires_grad(false);
  } catch (const c10::Error& e) {
    return InvalidArgumentError(cannot_load + "cannot move it to " + device->str() + ": " +
                                FirstLine(e.what_without_backtrace()));
  }
  if (!module.find_method("forward")) {
    return InvalidArgumentError("model '" + path + "' has no forward method");
  }
  if (options.max_optimized_layers < 0) {
    return InvalidArgumentError("max_optimized_layers must be >= 0; was " +
                                std::to_string(options.max_optimized_layers));
  }
  return std::unique_ptr<CamModel>(new CamModel(std::move(module), *device, *dtype,
                                                options.channels_last && device->is_cuda(),
                                                options.optimize_for_inference, options.max_optimized_layers));
}

CamModel::CamModel(torch::jit::Module module, at::Device device, at::ScalarType dtype, bool channels_last,
                   bool optimize, int max_optimized_layers)
    : device_(device),
      dtype_(dtype),
      channels_last_(channels_last),
      optimize_(optimize),
      max_optimized_layers_(max_optimized_layers),
      module_(std::move(module)),
      forward_module_(module_) {
  if (!optimize_) return;
  try {
    torch::jit::Module frozen = torch::jit::freeze(module_);
    forward_module_ = torch::jit::optimize_for_inference(frozen);
  } catch (const c10::Error& e) {
    spdlog::warn("optimize_for_inference failed for forward, using the plain module: {}", e.what_without_backtrace());
  }
}

at::Tensor CamModel::ToModelInput(const at::Tensor& host_batch) const {
  at::Tensor batch = host_batch.to(device_, dtype_, /*non_blocking=*/false, /*copy=*/false);
  return channels_last_ ? batch.contiguous(at::MemoryFormat::ChannelsLast) : batch;
}

StatusOr<at::Tensor> CamModel::Forward(const at::Tensor& batch) {
  absl::ReaderMutexLock lock(&module_mutex_);
  try {
    at::NoGradGuard no_grad;
    at::IValue output = forward_module_.forward({batch});
    if (!output.isTensor()) return InternalError("the model's forward did not return a Tensor");
    return output.toTensor();
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

Status CamModel::AddLayerRunnerLocked(const std::string& layer) {
  if (FindRunner(layer)) return Status::Ok();
  StatusOr<std::string> method = AddActivationMethod(module_, layer);
  if (!method.ok()) return method.status();
  LayerRunner runner{module_, *method, false};
  int optimized_layers = 0;
  for (const auto& [name, existing] : layer_runners_) optimized_layers += existing.optimized ? 1 : 0;
  if (optimize_ && optimized_layers >= max_optimized_layers_) {
    spdlog::info("layer '{}' runs on the plain module: {} layers already have an optimized copy (the most allowed)",
                 layer, optimized_layers);
  } else if (optimize_) {
    try {
      // Frozen first with the method preserved: optimize_for_inference alone
      // freezes with nothing but forward preserved.
      torch::jit::Module frozen = torch::jit::freeze(module_, std::vector<std::string>{*method});
      // freeze folds batch norms into convolutions in forward's graph only.
      std::shared_ptr<torch::jit::Graph> graph = frozen.get_method(*method).graph();
      torch::jit::OptimizeFrozenGraph(graph, /*optimize_numerics=*/true);
      runner = LayerRunner{torch::jit::optimize_for_inference(frozen, {*method}), *method, true};
    } catch (const c10::Error& e) {
      spdlog::warn("optimize_for_inference failed for layer '{}', using the plain module: {}", layer,
                   e.what_without_backtrace());
    }
  }
  layer_runners_.emplace(layer, std::move(runner));
  return Status::Ok();
}

std::vector<std::string> CamModel::OptimizedLayers() {
  absl::ReaderMutexLock lock(&module_mutex_);
  std::vector<std::string> layers;
  for (const auto& [name, runner] : layer_runners_) {
    if (runner.optimized) layers.push_back(name);
  }
  std::sort(layers.begin(), layers.end());
  return layers;
}

void CamModel::FallBackToPlain(const std::string& layer, const std::string& why) {
  absl::WriterMutexLock lock(&module_mutex_);
  LayerRunner& runner = layer_runners_.at(layer);
  if (!runner.optimized) return;
  spdlog::warn("layer '{}': the optimized module {}; using the plain module from now on", layer, why);
  runner = LayerRunner{module_, runner.method, false};
}

StatusOr<CamModel::LayerOutput> CamModel::RunLayer(const LayerRunner& runner, const at::Tensor& batch,
                                                   const std::string& layer, bool track_gradients) {
  at::AutoGradMode grad_mode(track_gradients);
  at::IValue output = runner.module.get_method(runner.method)({batch});
  const auto& pair = output.toTupleRef().elements();
  LayerOutput result{pair[0].toTensor(), pair[1].toTensor()};
  if (result.activation.dim() != 4) {
    return InvalidArgumentError("layer '" + layer + "' output has " + std::to_string(result.activation.dim()) +
                                " dimensions; CAM methods need [N, C, H, W]");
  }
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
  std::string optimized_failure;
  {
    absl::ReaderMutexLock lock(&module_mutex_);
    const LayerRunner& runner = *FindRunner(layer);
    StatusOr<LayerOutput> output = RunLayerGuarded(runner, batch, layer, track_gradients);
    if (!runner.optimized) return output;
    if (output.ok()) {
      if (!track_gradients || output->logits.requires_grad()) return output;
      optimized_failure = "does not carry gradients to the logits";
    } else if (output.status().code() == StatusCode::kInternal) {
      optimized_failure = "failed: " + output.status().message();
    } else {
      // Out of memory or a lost device says nothing about the copy.
      return output;
    }
  }
  // The optimized copy failed. The plain module decides whose fault it was:
  // if it fails too, the input is (the copy stays); if it succeeds, the copy
  // is, and the layer uses the plain module from now on.
  StatusOr<LayerOutput> plain = InternalError("unreachable");
  {
    absl::ReaderMutexLock lock(&module_mutex_);
    plain = RunLayerGuarded(LayerRunner{module_, FindRunner(layer)->method, false}, batch, layer, track_gradients);
  }
  if (plain.ok()) FallBackToPlain(layer, optimized_failure);
  return plain;
}

std::vector<std::string> CamModel::UsableLayers() {
  std::call_once(usable_layers_once_, [this] {
    absl::ReaderMutexLock lock(&module_mutex_);
    usable_layers_ = ListUsableLayers(module_);
  });
  return usable_layers_;
}

}  // namespace camserve
