#include "core/engine/cam_model.h"

#include <torch/cuda.h>

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

Status ModelError(const char* what, const c10::Error& e) {
  return InvalidArgumentError(std::string(what) + ": " + e.what_without_backtrace());
}

}  // namespace

StatusOr<std::unique_ptr<CamModel>> CamModel::Load(const std::string& path, const CamModelOptions& options) {
  StatusOr<at::Device> device = ResolveDevice(options.device);
  if (!device.ok()) return device.status();
  StatusOr<at::ScalarType> dtype = ResolvePrecision(options.precision, *device);
  if (!dtype.ok()) return dtype.status();
  torch::jit::Module module;
  try {
    module = torch::jit::load(path, *device);
    module.eval();
    module.to(*device, *dtype);
    for (at::Tensor parameter : module.parameters()) parameter.set_requires_grad(false);
  } catch (const c10::Error& e) {
    return InvalidArgumentError("cannot load TorchScript model '" + path + "': " +
                                e.what_without_backtrace());
  }
  if (!module.find_method("forward")) {
    return InvalidArgumentError("model '" + path + "' has no forward method");
  }
  return std::unique_ptr<CamModel>(
      new CamModel(std::move(module), *device, *dtype, options.channels_last && device->is_cuda()));
}

CamModel::CamModel(torch::jit::Module module, at::Device device, at::ScalarType dtype, bool channels_last)
    : device_(device), dtype_(dtype), channels_last_(channels_last), module_(std::move(module)) {}

at::Tensor CamModel::ToModelInput(const at::Tensor& host_batch) const {
  at::Tensor batch = host_batch.to(device_, dtype_, /*non_blocking=*/false, /*copy=*/false);
  return channels_last_ ? batch.contiguous(at::MemoryFormat::ChannelsLast) : batch;
}

StatusOr<at::Tensor> CamModel::Forward(const at::Tensor& batch) {
  std::shared_lock<std::shared_mutex> lock(module_mutex_);
  try {
    at::NoGradGuard no_grad;
    at::IValue output = module_.forward({batch});
    if (!output.isTensor()) return InvalidArgumentError("the model's forward did not return a Tensor");
    return output.toTensor();
  } catch (const c10::Error& e) {
    return ModelError("model forward failed", e);
  }
}

Status CamModel::PrepareLayer(const std::string& layer) {
  {
    std::shared_lock<std::shared_mutex> lock(module_mutex_);
    if (instrumented_layers_.count(layer)) return Status::Ok();
  }
  std::unique_lock<std::shared_mutex> lock(module_mutex_);
  if (instrumented_layers_.count(layer)) return Status::Ok();
  StatusOr<std::string> method = AddActivationMethod(module_, layer);
  if (!method.ok()) return method.status();
  instrumented_layers_.insert(layer);
  return Status::Ok();
}

StatusOr<CamModel::LayerOutput> CamModel::ForwardWithActivation(const at::Tensor& batch,
                                                                const std::string& layer,
                                                                bool track_gradients) {
  CAMSERVE_RETURN_IF_ERROR(PrepareLayer(layer));
  std::shared_lock<std::shared_mutex> lock(module_mutex_);
  try {
    at::AutoGradMode grad_mode(track_gradients);
    at::IValue output = module_.get_method(ActivationMethodName(layer))({batch});
    const auto& pair = output.toTupleRef().elements();
    LayerOutput result{pair[0].toTensor(), pair[1].toTensor()};
    if (result.activation.dim() != 4) {
      return InvalidArgumentError("layer '" + layer + "' output has " +
                                  std::to_string(result.activation.dim()) +
                                  " dimensions; CAM methods need [N, C, H, W]");
    }
    return result;
  } catch (const c10::Error& e) {
    return ModelError("model forward failed", e);
  }
}

std::vector<std::string> CamModel::UsableLayers() {
  std::call_once(usable_layers_once_, [this] {
    std::shared_lock<std::shared_mutex> lock(module_mutex_);
    usable_layers_ = ListUsableLayers(module_);
  });
  return usable_layers_;
}

}  // namespace camserve
