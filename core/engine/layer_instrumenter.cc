#include "core/engine/layer_instrumenter.h"

#include <torch/csrc/jit/api/function_impl.h>
#include <torch/csrc/jit/ir/ir.h>
#include <torch/csrc/jit/passes/dead_code_elimination.h>

#include <functional>
#include <sstream>
#include <unordered_set>

namespace camserve {
namespace {

using torch::jit::Block;
using torch::jit::Graph;
using torch::jit::Module;
using torch::jit::Node;
using torch::jit::Value;

std::vector<std::string> SplitPath(const std::string& path) {
  std::vector<std::string> parts;
  std::stringstream stream(path);
  for (std::string part; std::getline(stream, part, '.');) parts.push_back(part);
  return parts;
}

// Nodes of `block` and all nested blocks, in program order.
void CollectNodes(Block* block, const std::function<bool(Node*)>& keep, std::vector<Node*>* out) {
  for (Node* node : block->nodes()) {
    if (keep(node)) out->push_back(node);
    for (Block* sub : node->blocks()) CollectNodes(sub, keep, out);
  }
}

std::vector<Node*> CallsOn(Graph& graph, const std::unordered_set<Value*>& modules) {
  std::vector<Node*> calls;
  CollectNodes(
      graph.block(), [&](Node* n) { return n->kind() == c10::prim::CallMethod && modules.count(n->input(0)) > 0; },
      &calls);
  return calls;
}

bool IsForward(Node* call) { return call->s(c10::attr::name) == "forward"; }

void Inline(Node* call, const Module& owner) {
  auto& callee = torch::jit::toGraphFunction(owner.get_method(call->s(c10::attr::name)).function());
  torch::jit::inlineCallTo(call, &callee, callee.graph().get());
}

// Inlines helper methods (anything but forward) called on `modules`, until none
// is left: helpers may call helpers.
void InlineHelperCalls(Graph& graph, const std::unordered_set<Value*>& modules, const Module& owner) {
  for (;;) {
    std::vector<Node*> helpers;
    for (Node* call : CallsOn(graph, modules)) {
      if (!IsForward(call)) helpers.push_back(call);
    }
    if (helpers.empty()) return;
    for (Node* call : helpers) Inline(call, owner);
  }
}

// Values holding submodule `name` of the module held by `parents`.
std::unordered_set<Value*> ChildValues(Graph& graph, const std::unordered_set<Value*>& parents,
                                       const std::string& name) {
  std::vector<Node*> getattrs;
  CollectNodes(
      graph.block(),
      [&](Node* n) {
        return n->kind() == c10::prim::GetAttr && parents.count(n->input(0)) > 0 && n->s(c10::attr::name) == name;
      },
      &getattrs);
  std::unordered_set<Value*> values;
  for (Node* n : getattrs) values.insert(n->output());
  return values;
}

// The single forward call of the module held by `modules`, called once and
// outside any loop or branch.
StatusOr<Node*> SingleTopLevelForward(Graph& graph, const std::unordered_set<Value*>& modules,
                                      const std::string& path) {
  std::vector<Node*> forwards;
  for (Node* call : CallsOn(graph, modules)) {
    if (IsForward(call)) forwards.push_back(call);
  }
  if (forwards.empty()) {
    return InvalidArgumentError("layer '" + path + "' is never called by the model's forward");
  }
  if (forwards.size() > 1) {
    return InvalidArgumentError("layer '" + path + "' is called " + std::to_string(forwards.size()) +
                                " times in forward; its activation is ambiguous");
  }
  if (forwards[0]->owningBlock() != graph.block()) {
    return InvalidArgumentError("layer '" + path + "' is called inside a loop or branch");
  }
  return forwards[0];
}

// Builds the instrumented graph: outputs (logits, activation).
StatusOr<std::shared_ptr<Graph>> BuildActivationGraph(const Module& module, const std::string& layer_path) {
  const std::vector<std::string> parts = SplitPath(layer_path);
  if (parts.empty()) return InvalidArgumentError("empty target layer");
  auto& forward = torch::jit::toGraphFunction(module.get_method("forward").function());
  std::shared_ptr<Graph> graph = forward.graph()->copy();
  if (graph->outputs().size() != 1 || !graph->outputs()[0]->type()->cast<c10::TensorType>()) {
    return InvalidArgumentError("the model's forward must return one Tensor of logits");
  }

  Module owner = module;
  std::unordered_set<Value*> owner_values = {graph->inputs()[0]};
  std::string prefix;
  Node* target = nullptr;
  for (size_t i = 0; i < parts.size(); ++i) {
    InlineHelperCalls(*graph, owner_values, owner);
    prefix += (i ? "." : "") + parts[i];
    if (!owner.hasattr(parts[i]) || !owner.attr(parts[i]).isModule()) {
      return InvalidArgumentError("layer '" + layer_path + "': '" + prefix + "' is not a submodule");
    }
    Module child = owner.attr(parts[i]).toModule();
    std::unordered_set<Value*> child_values = ChildValues(*graph, owner_values, parts[i]);
    auto call = SingleTopLevelForward(*graph, child_values, prefix);
    if (!call.ok()) return call.status();
    if (i + 1 == parts.size()) {
      target = *call;
      break;
    }
    for (Node* n : CallsOn(*graph, child_values)) Inline(n, child);
    owner = child;
    owner_values = child_values;
  }

  Value* activation = target->output();
  if (target->outputs().size() != 1 || !activation->type()->cast<c10::TensorType>()) {
    return InvalidArgumentError("layer '" + layer_path + "' does not return a single Tensor");
  }
  Value* tracked = nullptr;
  {
    torch::jit::WithInsertPoint guard(target->next());
    Value* detached = graph->insert(c10::aten::detach, {activation});
    tracked = graph->insert(c10::aten::requires_grad_, {detached, true});
  }
  activation->replaceAllUsesAfterNodeWith(tracked->node(), tracked);
  {
    torch::jit::WithInsertPoint guard(graph->return_node());
    Value* logits = graph->outputs()[0];
    Value* pair = graph->insertNode(graph->createTuple({logits, tracked}))->output();
    graph->eraseOutput(0);
    graph->registerOutput(pair);
  }
  torch::jit::EliminateDeadCode(graph);
  return graph;
}

}  // namespace

std::string DescribeUsableLayers(const std::vector<std::string>& usable_layers) {
  if (usable_layers.empty()) return "no layer of this model can be instrumented";
  std::string message = "usable layers:";
  for (const auto& layer : usable_layers) message += " " + layer;
  return message;
}

std::string ActivationMethodName(const std::string& layer_path) {
  std::string name = "__camserve_activation__";
  for (char c : layer_path) name += (std::isalnum(static_cast<unsigned char>(c)) ? c : '_');
  return name;
}

StatusOr<std::string> AddActivationMethod(Module& module, const std::string& layer_path) {
  const std::string method_name = ActivationMethodName(layer_path);
  if (module.type()->findMethod(method_name)) return method_name;
  StatusOr<std::shared_ptr<Graph>> graph = [&]() -> StatusOr<std::shared_ptr<Graph>> {
    try {
      return BuildActivationGraph(module, layer_path);
    } catch (const c10::Error& e) {
      return InvalidArgumentError("layer '" + layer_path + "' cannot be instrumented: " + e.what_without_backtrace());
    }
  }();
  if (!graph.ok()) return graph.status();
  auto compilation_unit = module._ivalue()->compilation_unit();
  torch::jit::Function* function =
      compilation_unit->create_function(c10::QualifiedName(*module.type()->name(), method_name), *graph);
  module.type()->addMethod(function);
  return method_name;
}

std::vector<std::string> ListUsableLayers(const Module& module) {
  std::vector<std::string> usable;
  for (const auto& named : module.named_modules()) {
    if (named.name.empty()) continue;
    try {
      if (BuildActivationGraph(module, named.name).ok()) usable.push_back(named.name);
    } catch (const c10::Error&) {
      // Not instrumentable: left out of the list.
    }
  }
  return usable;
}

}  // namespace camserve
