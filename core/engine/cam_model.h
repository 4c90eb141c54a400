// CamModel: one TorchScript classifier loaded on one device, in eval mode, with
// its parameters frozen (requires_grad = false), able to return the activation
// of any usable layer next to the logits (see layer_instrumenter.h).
//
// Thread-safety: Forward and ForwardWithActivation may run concurrently from
// many threads. Instrumenting a new layer takes an exclusive lock for the
// few milliseconds the graph surgery needs; calls wait meanwhile.
// Errors: Load returns INVALID_ARGUMENT for unreadable or non-TorchScript
// files, FAILED_PRECONDITION for an unavailable device. Calls turn every
// exception into a Status (StatusFromModelException): INTERNAL for a model
// fault (a TorchScript `raise`, an op that rejects the input), with the
// model's message; RESOURCE_EXHAUSTED for out of memory; UNAVAILABLE for a
// CUDA error that leaves the device unusable.
//
// Optimized copies: a layer whose optimized copy fails where the plain
// module succeeds uses the plain module from then on (logged). Out of memory,
// a lost device or an input that fails on both keep the copy.
#pragma once

#include <ATen/ATen.h>
#include <torch/script.h>

#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "core/util/status.h"

namespace camserve {

struct CamModelOptions {
  // "auto" (CUDA when available, else CPU), "cpu", "cuda" or "cuda:N".
  std::string device = "auto";
  // "fp32", or on CUDA "fp16" / "bf16" (weights and activations; CAM math and
  // outputs stay float32).
  std::string precision = "fp32";
  // CUDA only: feed inputs in channels_last memory format.
  bool channels_last = true;
  // Run each instrumented layer (and the plain forward) through a frozen copy
  // made by torch::jit::optimize_for_inference: weights become constants,
  // batch norms fold into convolutions and, on CPU, convolutions run on
  // oneDNN with pre-packed weights. The gradient path stays exact; a layer
  // whose optimized copy cannot give gradients falls back to the plain module.
  bool optimize_for_inference = true;
  // Most layers with an optimized copy (each holds a copy of the weights);
  // further layers run on the plain module. >= 0. Default: 4.
  int max_optimized_layers = 4;
};

// The Status for the exception being handled (call it only inside a catch
// block), as the errors above say; `what` prefixes the message.
Status StatusFromModelException(const std::string& what);

class CamModel {
 public:
  static StatusOr<std::unique_ptr<CamModel>> Load(const std::string& path, const CamModelOptions& options);

  const at::Device& device() const { return device_; }
  at::ScalarType dtype() const { return dtype_; }

  // Moves a float32 NCHW host batch to the model's device, dtype and layout.
  at::Tensor ToModelInput(const at::Tensor& host_batch) const;

  // Logits of a no-grad forward: [N, classes].
  StatusOr<at::Tensor> Forward(const at::Tensor& batch) ABSL_LOCKS_EXCLUDED(module_mutex_);

  struct LayerOutput {
    at::Tensor logits;      // [N, classes]; part of an autograd graph if tracked
    at::Tensor activation;  // the layer's output; requires grad if tracked
  };
  // Runs the instrumented forward for `layer`. With track_gradients, only the
  // part after the layer records autograd history.
  StatusOr<LayerOutput> ForwardWithActivation(const at::Tensor& batch, const std::string& layer, bool track_gradients)
      ABSL_LOCKS_EXCLUDED(module_mutex_);

  // Instruments `layer` now (a no-op if done); INVALID_ARGUMENT if it cannot be.
  Status PrepareLayer(const std::string& layer) ABSL_LOCKS_EXCLUDED(module_mutex_);

  // Every layer that PrepareLayer accepts (computed once, then cached).
  std::vector<std::string> UsableLayers() ABSL_LOCKS_EXCLUDED(module_mutex_);

  // The instrumented layers that run on an optimized copy, sorted; at most
  // max_optimized_layers of them.
  std::vector<std::string> OptimizedLayers() ABSL_LOCKS_EXCLUDED(module_mutex_);

 private:
  CamModel(torch::jit::Module module, at::Device device, at::ScalarType dtype, bool channels_last, bool optimize,
           int max_optimized_layers);

  // The module and method that compute one layer's activation.
  struct LayerRunner {
    torch::jit::Module module;  // an optimized frozen copy, or module_ itself
    std::string method;
    bool optimized = false;
  };
  // Returns the runner for an instrumented layer, or null.
  const LayerRunner* FindRunner(const std::string& layer) const ABSL_SHARED_LOCKS_REQUIRED(module_mutex_);
  // Instruments `layer` (and optimizes a copy for it) unless it already is.
  Status AddLayerRunnerLocked(const std::string& layer) ABSL_EXCLUSIVE_LOCKS_REQUIRED(module_mutex_);
  StatusOr<LayerOutput> RunLayer(const LayerRunner& runner, const at::Tensor& batch, const std::string& layer,
                                 bool track_gradients);
  // RunLayer with every exception turned into a Status.
  StatusOr<LayerOutput> RunLayerGuarded(const LayerRunner& runner, const at::Tensor& batch, const std::string& layer,
                                        bool track_gradients);
  // Replaces an optimized runner that failed by the plain module.
  void FallBackToPlain(const std::string& layer, const std::string& why) ABSL_LOCKS_EXCLUDED(module_mutex_);

  at::Device device_;
  at::ScalarType dtype_;
  bool channels_last_;
  bool optimize_;
  int max_optimized_layers_;
  // Guards adding methods to module_'s class and changing runners (exclusive)
  // against calls (shared).
  absl::Mutex module_mutex_;
  torch::jit::Module module_ ABSL_GUARDED_BY(module_mutex_);
  torch::jit::Module forward_module_ ABSL_GUARDED_BY(module_mutex_);
  std::unordered_map<std::string, LayerRunner> layer_runners_ ABSL_GUARDED_BY(module_mutex_);
  std::once_flag usable_layers_once_;
  std::vector<std::string> usable_layers_;  // written once under usable_layers_once_
};

}  // namespace camserve
