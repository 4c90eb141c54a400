// Layer instrumentation: makes a TorchScript module hand out the activation of
// one of its layers, ready for a cheap gradient, without Python hooks.
//
// How: the module's forward graph is copied; calls to helper methods of self
// (such as ResNet's _forward_impl) and to the modules along the dotted path are
// inlined (from their unoptimised graphs). Right after the call of the target
// layer's forward, the instrumenter inserts aten::detach and
// aten::requires_grad_(True), and routes every later use of the layer output
// through that value. The new method returns (logits, activation). With all
// parameters frozen (requires_grad = false), the part of the network before the
// layer records no autograd graph, and autograd::grad(score, activation) walks
// only the head: an explanation costs about one forward pass.
//
// The module's own forward is left unchanged; the new method is added to the
// module's class under ActivationMethodName(path).
//
// Thread-safety: AddActivationMethod mutates the module's class and must not
// run concurrently with itself or with calls of the module; callers serialise.
// Errors: INVALID_ARGUMENT when the path names no submodule called by forward,
// a module called more than once, or one called inside a loop or branch; the
// message gives the reason. Listing the usable layers is the caller's job
// (DescribeUsableLayers over a cached ListUsableLayers): it costs one graph
// copy per submodule, too much to repeat for every bad request.
#pragma once

#include <torch/script.h>

#include <string>
#include <vector>

#include "core/util/status.h"

namespace camserve {

// The model cut at a layer, for running the part after it alone (the head)
// on many activations: perturbation methods and quality scores.
struct HeadGraphs {
  // (self, x) -> (logits, activation, side values...): the instrumented
  // forward, also returning the values computed before the layer that the
  // head needs (a residual block's identity path, a transformer block's
  // input); all tensors with the batch first.
  std::shared_ptr<torch::jit::Graph> split;
  // (self, activation, side values...) -> logits: the nodes after the layer;
  // constants and the module's attributes are read again, not passed.
  std::shared_ptr<torch::jit::Graph> head;
  // When the logits are the output of a final linear layer (aten::linear of
  // the module's own weight and bias): the head without that layer,
  // (self, activation, side values...) -> (features [K, F], weight [C, F],
  // bias [C] or None). A method that needs one class per row scores it as
  // features . weight[class] + bias[class], F instead of C x F multiply-adds.
  // Null otherwise.
  std::shared_ptr<torch::jit::Graph> features;
  int side_value_count = 0;
};

// Builds both graphs for `layer_path` (a layer AddActivationMethod accepts).
// INVALID_ARGUMENT when the head would need a non-tensor value computed
// before the layer (a batch size read from the input, say), which a batch of
// another size would get wrong.
StatusOr<HeadGraphs> BuildHeadGraphs(const torch::jit::Module& module, const std::string& layer_path);

// Adds (once) the split and head methods for `layer_path` to the module's
// class; returns their names and the side value count.
struct HeadMethods {
  std::string split;
  std::string head;
  std::string features;  // "" when HeadGraphs::features is null
  int side_value_count = 0;
};
StatusOr<HeadMethods> AddHeadMethods(torch::jit::Module& module, const std::string& layer_path);

// The name of the method AddActivationMethod adds for `layer_path`.
std::string ActivationMethodName(const std::string& layer_path);

// Adds (once) a method returning (logits, activation of `layer_path`) and
// returns its name.
StatusOr<std::string> AddActivationMethod(torch::jit::Module& module, const std::string& layer_path);

// Every submodule path (named_modules order) that AddActivationMethod would
// accept. Cost: one graph copy and inlining per submodule.
std::vector<std::string> ListUsableLayers(const torch::jit::Module& module);

// "usable layers: a b c" (or a note that there are none), for error messages.
std::string DescribeUsableLayers(const std::vector<std::string>& usable_layers);

}  // namespace camserve
