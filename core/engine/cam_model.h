// CamModel: one TorchScript classifier loaded on one device, in eval mode, with
// its parameters frozen (requires_grad = false), able to return the activation
// of any usable layer next to the logits (see layer_instrumenter.h).
//
// Faster runners, validated: each instrumented layer (and the plain forward)
// may run on a faster variant of the module: a copy optimized by
// torch::jit::optimize_for_inference (weights as constants, batch norms
// folded, oneDNN convolutions on CPU), or, in a reduced precision mode
// (precision.h), under autocast on a frozen copy. Such variants change the
// arithmetic, and on some graphs (hardswish with squeeze-excitation, for one)
// the maps move by more than the rounding of the plain module. So when a
// layer is prepared, every candidate is compared with the plain float32
// module on a probe batch (seeded noise and smooth images, top-1 and explicit
// targets): the class probabilities and the maps of every CAM method at
// feature resolution. An optimized fp32 copy must stay within a tenth of
// optimize_tolerance there (the probe sees four inputs, others move more); a
// reduced precision within precision_tolerance on the top-1 maps. A refused
// candidate gets a log line saying by how much; the layer then uses the next
// one (reduced precision -> optimized fp32 -> plain fp32). Layers() reports
// the outcome.
// In a reduced precision mode, the first layer prepared (the engine's default
// layer, at load) decides for the whole model: if its maps are too far from
// fp32, the model falls back to fp32 (warning).
//
// Thread-safety: Forward and ForwardWithActivation may run concurrently from
// many threads. Instrumenting a new layer takes an exclusive lock for the
// time the graph surgery, the copies and their validation need (a few hundred
// milliseconds on ResNet-50); calls wait meanwhile.
// Errors: Load returns INVALID_ARGUMENT for unreadable or non-TorchScript
// files, unsupported precisions and bad options, FAILED_PRECONDITION for an
// unavailable device. Calls turn every exception into a Status
// (StatusFromModelException): INTERNAL for a model fault (a TorchScript
// `raise`, an op that rejects the input), with the model's message;
// RESOURCE_EXHAUSTED for out of memory; UNAVAILABLE for a CUDA error that
// leaves the device unusable. An operator's error inside the model's
// TorchScript code reaches us rethrown by the interpreter as
// std::runtime_error; it is classified by its message like a c10::Error.
// A TorchScript `raise` is always INTERNAL.
//
// A faster runner that fails where the plain fp32 module succeeds is replaced
// by the plain module from then on (logged). Out of memory, a lost device or
// an input that fails on both keep it.
#pragma once

#include <ATen/ATen.h>
#include <torch/script.h>

#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "core/engine/explain_types.h"
#include "core/engine/layer_instrumenter.h"
#include "core/engine/layer_layout.h"
#include "core/engine/precision.h"
#include "core/util/status.h"

namespace camserve {

struct CamModelOptions {
  // "auto" (CUDA when available, else CPU), "cpu", "cuda" or "cuda:N".
  std::string device = "auto";
  // "fp32", "bf16" (CUDA, or a CPU with native bf16) or "fp16" (CUDA): see
  // precision.h. Scores, softmax and the CAM arithmetic stay float32.
  std::string precision = "fp32";
  // Feed inputs in channels_last memory format where that helps: on CUDA,
  // and on CPU in bf16.
  bool channels_last = true;
  // Try an optimized copy per instrumented layer (and for the plain forward);
  // each is validated as above. A layer whose optimized copy cannot give
  // gradients falls back to the plain module.
  bool optimize_for_inference = true;
  // Most layers with a copy of their own (optimized or frozen for reduced
  // precision; each holds a copy of the weights); further layers run on the
  // plain module. >= 0. Default: 4.
  int max_optimized_layers = 4;
  // The probe batch's image size (the model's input size); 0: no validation,
  // every candidate is used untested (unit tests of the mechanics).
  int probe_height_px = 0;
  int probe_width_px = 0;
  // Largest difference an optimized fp32 copy may show from the plain module
  // on the probe batch: in normalised map units for the maps, and in
  // probability for the softmax. >= 0.
  double optimize_tolerance = 1e-4;
  // The same for a reduced precision against fp32. >= 0.
  double precision_tolerance = 2e-2;
  // Declared output layouts by layer (the sidecar's layer_layouts); other
  // layers: LayerLayout::kAuto.
  std::map<std::string, LayerLayout> layer_layouts;
  // The layer to prepare at load (its outcome decides a reduced precision;
  // INVALID_ARGUMENT "default layer of model ..." when it cannot be); empty:
  // none.
  std::string first_layer;
};

// The Status for the exception being handled (call it only inside a catch
// block), as the errors above say; `what` prefixes the message.
Status StatusFromModelException(const std::string& what);

class CamModel {
 public:
  static StatusOr<std::unique_ptr<CamModel>> Load(const std::string& path, const CamModelOptions& options);

  const at::Device& device() const { return device_; }
  // The model's precision: the configured one, or fp32 after a refusal.
  Precision precision() const ABSL_LOCKS_EXCLUDED(module_mutex_);

  // Moves a float32 NCHW host batch to the model's device and layout.
  at::Tensor ToModelInput(const at::Tensor& host_batch) const;

  // Logits of a no-grad forward: [N, classes], float32.
  StatusOr<at::Tensor> Forward(const at::Tensor& batch) ABSL_LOCKS_EXCLUDED(module_mutex_);

  struct LayerOutput {
    at::Tensor logits;      // [N, classes]; part of an autograd graph if tracked
    at::Tensor activation;  // the layer's output; requires grad if tracked
    // How `activation` holds its grid (never kAuto): ToNchw(activation,
    // layout) and ToNchw(its gradient, layout) are what CAM methods take.
    LayerLayout layout = LayerLayout::kNchw;
  };
  // Runs the instrumented forward for `layer`. With track_gradients, only the
  // part after the layer records autograd history. In a reduced precision,
  // logits and activation may be in that type.
  StatusOr<LayerOutput> ForwardWithActivation(const at::Tensor& batch, const std::string& layer, bool track_gradients)
      ABSL_LOCKS_EXCLUDED(module_mutex_);

  // What the part of the model after a layer (its head) needs: the layer's
  // output and the values computed before it that the head reads (a
  // residual identity path, say), all batch-first, and the full forward's
  // logits.
  struct HeadInput {
    at::Tensor logits;      // [N, classes]
    at::Tensor activation;  // the layer's output, as the head takes it
    std::vector<at::Tensor> side_values;
    LayerLayout layout = LayerLayout::kNchw;
  };
  // Runs the plain fp32 module on `batch`, keeping what the head of `layer`
  // needs; when that is the activation alone, the layer's validated fp32
  // runner (its optimized copy) instead. No gradients. INVALID_ARGUMENT when
  // the model cannot be cut there (layer_instrumenter.h, BuildHeadGraphs).
  StatusOr<HeadInput> SplitAt(const at::Tensor& batch, const std::string& layer) ABSL_LOCKS_EXCLUDED(module_mutex_);
  // Runs only the head of `layer`: logits [K, classes] for K activations
  // (shaped as HeadInput::activation) and side values with the same K first.
  // No gradients; the plain fp32 module.
  StatusOr<at::Tensor> RunHead(const std::string& layer, const at::Tensor& activation,
                               const std::vector<at::Tensor>& side_values) ABSL_LOCKS_EXCLUDED(module_mutex_);
  // RunHead's logit of one class per row: [K] float32, row k's column
  // classes[k] (long, [K]). When the head ends in a linear layer, that layer
  // is applied to each row's class alone (layer_instrumenter.h,
  // HeadGraphs::features): AblationCAM at ResNet-50's layer4 then skips
  // 2048 x 1000 of each row's 2048 x 1001 multiply-adds.
  StatusOr<at::Tensor> RunHeadScores(const std::string& layer, const at::Tensor& activation,
                                     const std::vector<at::Tensor>& side_values, const at::Tensor& classes)
      ABSL_LOCKS_EXCLUDED(module_mutex_);
  // Whether RunHeadScores of `layer` skips the head's final linear layer
  // (false until the head is prepared by SplitAt or a head run).
  bool HeadScoresSkipFinalLinear(const std::string& layer) ABSL_LOCKS_EXCLUDED(module_mutex_);

  // Instruments `layer` now (a no-op if done); INVALID_ARGUMENT if it cannot be.
  Status PrepareLayer(const std::string& layer) ABSL_LOCKS_EXCLUDED(module_mutex_);

  // Every layer that PrepareLayer accepts (computed once, then cached).
  std::vector<std::string> UsableLayers() ABSL_LOCKS_EXCLUDED(module_mutex_);

  // The instrumented layers that run on a copy of their own, sorted; at most
  // max_optimized_layers of them.
  std::vector<std::string> OptimizedLayers() ABSL_LOCKS_EXCLUDED(module_mutex_);

  // Every instrumented layer, sorted by name, then the plain forward as
  // layer "" (used for classification only).
  std::vector<LayerExecution> Layers() ABSL_LOCKS_EXCLUDED(module_mutex_);

 private:
  CamModel(torch::jit::Module module, at::Device device, Precision precision, const CamModelOptions& options);

  // The module and method that compute one layer's activation.
  struct LayerRunner {
    torch::jit::Module module;  // a copy of its own, or module_ itself
    std::string method;
    Precision precision = Precision::kFp32;
    LayerExecution execution;
    bool Fast() const { return execution.optimized || precision != Precision::kFp32; }
  };
  // A runner to try, and the largest difference it may show.
  struct Candidate {
    LayerRunner runner;
    double tolerance = 0;
  };

  // Returns the runner for an instrumented layer, or null.
  const LayerRunner* FindRunner(const std::string& layer) const ABSL_SHARED_LOCKS_REQUIRED(module_mutex_);
  // Instruments `layer` and chooses its runner unless it already has one.
  Status AddLayerRunnerLocked(const std::string& layer) ABSL_EXCLUSIVE_LOCKS_REQUIRED(module_mutex_);
  // The faster runners for `method` ("forward" for the plain forward), best
  // first; copies that cannot be made are logged and left out.
  std::vector<Candidate> CandidatesLocked(const std::string& layer, const std::string& method)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(module_mutex_);
  // The first candidate within its tolerance of `reference`, else reference.
  LayerRunner ChooseRunnerLocked(const std::string& layer, LayerRunner reference, std::vector<Candidate> candidates)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(module_mutex_);
  // Chooses the plain forward's runner (at load, after the first layer).
  void ChooseForwardRunnerLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(module_mutex_);

  StatusOr<LayerOutput> RunLayer(const LayerRunner& runner, const at::Tensor& batch, const std::string& layer,
                                 bool track_gradients);
  // The layout of `layer`'s output `activation`: declared, or recognised.
  StatusOr<LayerLayout> LayoutOf(const at::Tensor& activation, const std::string& layer) const;
  // RunLayer with every exception turned into a Status.
  StatusOr<LayerOutput> RunLayerGuarded(const LayerRunner& runner, const at::Tensor& batch, const std::string& layer,
                                        bool track_gradients);
  // The split and head methods of `layer`, added on first use.
  StatusOr<HeadMethods> PrepareHead(const std::string& layer) ABSL_LOCKS_EXCLUDED(module_mutex_);
  // Replaces a fast runner that failed by the plain module.
  void FallBackToPlain(const std::string& layer, const std::string& why) ABSL_LOCKS_EXCLUDED(module_mutex_);

  at::Device device_;
  // Set by Load before the model is shared; read-only afterwards.
  bool channels_last_ = false;
  bool optimize_;
  int max_optimized_layers_;
  int probe_height_px_;
  int probe_width_px_;
  double optimize_tolerance_;
  double precision_tolerance_;
  std::map<std::string, LayerLayout> layer_layouts_;
  // Guards adding methods to module_'s class and changing runners (exclusive)
  // against calls (shared).
  mutable absl::Mutex module_mutex_;
  Precision precision_ ABSL_GUARDED_BY(module_mutex_);
  // Whether the precision was decided (by the first prepared layer).
  bool precision_decided_ ABSL_GUARDED_BY(module_mutex_) = false;
  torch::jit::Module module_ ABSL_GUARDED_BY(module_mutex_);
  LayerRunner forward_runner_ ABSL_GUARDED_BY(module_mutex_);
  std::unordered_map<std::string, LayerRunner> layer_runners_ ABSL_GUARDED_BY(module_mutex_);
  std::unordered_map<std::string, HeadMethods> head_methods_ ABSL_GUARDED_BY(module_mutex_);
  std::once_flag usable_layers_once_;
  std::vector<std::string> usable_layers_;  // written once under usable_layers_once_
};

}  // namespace camserve
