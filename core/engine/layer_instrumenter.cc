#include "core/engine/layer_instrumenter.h"

#include <torch/csrc/jit/api/function_impl.h>
#include <torch/csrc/jit/ir/alias_analysis.h>
#include <torch/csrc/jit/ir/ir.h>
#include <torch/csrc/jit/passes/dead_code_elimination.h>
#include <torch/csrc/jit/passes/inliner.h>
#include <torch/csrc/jit/runtime/graph_iterator.h>

#include <algorithm>
#include <functional>
#include <iterator>
#include <sstream>
#include <unordered_map>
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

// Whether a node after `value`'s definer (inside a loop or branch after it,
// or inside a method it calls) writes into `value` or a view of it.
// REQUIRES: `value` is defined in `graph`'s top-level block.
bool WrittenAfter(const std::shared_ptr<Graph>& graph, Value* value) {
  // Alias analysis takes a call of another method (a submodule's forward)
  // as writing into anything it is given, so it looks at a copy with every
  // call inlined: ResNet's avgpool does not write into layer4's output, an
  // in-place ReLU submodule does.
  const auto& nodes = graph->nodes();
  const auto position = std::distance(nodes.begin(), std::find(nodes.begin(), nodes.end(), value->node()));
  std::shared_ptr<Graph> inlined = graph->copy();
  Value* copied = (*std::next(inlined->nodes().begin(), position))->output(value->offset());
  torch::jit::Inline(*inlined);
  torch::jit::AliasDb alias_db(inlined);
  for (torch::jit::DepthFirstGraphNodeIterator it(inlined); Node* node = it.next();) {
    Node* top = node;
    while (top->owningBlock() != inlined->block()) top = top->owningBlock()->owningNode();
    if (top->isAfter(copied->node()) && alias_db.writesToAlias(node, {copied})) return true;
  }
  return false;
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
  // The part after the layer may write into its output (torchvision's
  // BasicBlock adds the residual into bn2's output in place, then applies an
  // in-place ReLU): it then works on a copy, so the activation returned (and
  // differentiated) is the layer's own output.
  if (WrittenAfter(graph, tracked)) {
    torch::jit::WithInsertPoint guard(tracked->node()->next());
    Value* working = graph->insert(c10::aten::clone, {tracked});
    tracked->replaceAllUsesAfterNodeWith(working->node(), working);
  }
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

// The node of `graph`'s top-level block that holds `node` (itself, or the
// loop or branch it sits in; for a block's parameters, that block's node).
Node* TopLevelAncestor(Graph& graph, Node* node) {
  while (node->owningBlock() != graph.block()) node = node->owningBlock()->owningNode();
  return node;
}

// Whether `value` is computed after `split` (by a top-level node after it,
// or inside one): the head computes it itself.
bool IsHeadValue(Graph& graph, Value* value, Node* split) {
  Node* definer = value->node();
  if (definer == graph.param_node()) return false;
  return TopLevelAncestor(graph, definer)->isAfter(split);
}

// Every value `block`'s nodes (and nested blocks') use that the head does
// not compute, in first-use order.
void CollectFreeValues(Graph& graph, Block* block, Node* split, std::vector<Value*>* free,
                       std::unordered_set<Value*>* seen) {
  auto note = [&](Value* value) {
    if (!IsHeadValue(graph, value, split) && seen->insert(value).second) free->push_back(value);
  };
  for (Node* node : block->nodes()) {
    for (Value* input : node->inputs()) note(input);
    for (Block* sub : node->blocks()) CollectFreeValues(graph, sub, split, free, seen);
  }
  for (Value* output : block->outputs()) note(output);
}

// Whether `value` can be recomputed in the head from `self` alone: a
// constant, or an attribute chain of self.
bool IsRecomputable(Value* value, Value* self) {
  Node* node = value->node();
  if (node->kind() == c10::prim::Constant) return true;
  return node->kind() == c10::prim::GetAttr && (node->input(0) == self || IsRecomputable(node->input(0), self));
}

// The head without its final linear layer (HeadGraphs::features), or null
// when the head's output is not an aten::linear whose weight and bias the
// module holds (an attribute chain of self, or no bias).
std::shared_ptr<Graph> BuildFeaturesGraph(Graph& head) {
  std::shared_ptr<Graph> graph = head.copy();
  torch::jit::Inline(*graph);
  Value* self = graph->inputs()[0];
  Node* linear = graph->outputs()[0]->node();
  if (linear->kind() != c10::aten::linear || linear->inputs().size() != 3) return nullptr;
  Value* weight = linear->input(1);
  Value* bias = linear->input(2);
  const bool no_bias = bias->type()->kind() == c10::TypeKind::NoneType;
  if (!IsRecomputable(weight, self) || !weight->type()->cast<c10::TensorType>()) return nullptr;
  if (!no_bias && (!IsRecomputable(bias, self) || !bias->type()->cast<c10::TensorType>())) return nullptr;
  torch::jit::WithInsertPoint guard(graph->return_node());
  Value* tuple = graph->insertNode(graph->createTuple({linear->input(0), weight, bias}))->output();
  graph->eraseOutput(0);
  graph->registerOutput(tuple);
  torch::jit::EliminateDeadCode(graph);
  return graph;
}

}  // namespace

StatusOr<HeadGraphs> BuildHeadGraphs(const Module& module, const std::string& layer_path) {
  StatusOr<std::shared_ptr<Graph>> activation_graph = BuildActivationGraph(module, layer_path);
  if (!activation_graph.ok()) return activation_graph.status();
  std::shared_ptr<Graph> graph = *activation_graph;
  Node* pair = graph->outputs()[0]->node();
  Value* logits = pair->input(0);
  Value* tracked = pair->input(1);
  Node* split = tracked->node();  // aten::requires_grad_, right after the layer
  Value* self = graph->inputs()[0];

  // What the nodes after the split (up to the output tuple) use from before it.
  std::vector<Value*> free;
  std::unordered_set<Value*> seen;
  for (Node* node = split->next(); node != pair; node = node->next()) {
    for (Value* input : node->inputs()) {
      if (!IsHeadValue(*graph, input, split) && seen.insert(input).second) free.push_back(input);
    }
    for (Block* sub : node->blocks()) CollectFreeValues(*graph, sub, split, &free, &seen);
  }
  if (!IsHeadValue(*graph, logits, split)) {
    return InvalidArgumentError("layer '" + layer_path + "': the logits do not depend on the part after it");
  }
  HeadGraphs result;
  std::vector<Value*> side_values;  // of `graph`, crossing into the head
  result.head = std::make_shared<Graph>();
  std::unordered_map<Value*, Value*> env;
  env[self] = result.head->addInput("self")->setType(self->type());
  env[tracked] = result.head->addInput("activation")->setType(tracked->type());
  std::vector<Value*> recomputed;
  for (Value* value : free) {
    if (value == self || value == tracked) continue;
    if (IsRecomputable(value, self)) {
      recomputed.push_back(value);
      continue;
    }
    if (!value->type()->cast<c10::TensorType>()) {
      return InvalidArgumentError("layer '" + layer_path + "': the part after it uses a " + value->type()->str() +
                                  " computed before it (" + value->debugName() +
                                  "); only tensors can cross into the head");
    }
    env[value] = result.head->addInput("side" + std::to_string(side_values.size()))->setType(value->type());
    side_values.push_back(value);
  }
  auto lookup = [&](Value* value) -> Value* {
    auto it = env.find(value);
    if (it == env.end()) throw c10::Error("camserve: head graph lost value " + value->debugName(), "");
    return it->second;
  };
  // Constants and attribute chains first, each after what it reads.
  std::function<void(Value*)> recompute = [&](Value* value) {
    if (env.count(value)) return;
    Node* node = value->node();
    for (Value* input : node->inputs()) recompute(input);
    Node* copy = result.head->insertNode(result.head->createClone(node, lookup));
    for (size_t i = 0; i < node->outputs().size(); ++i) env[node->outputs()[i]] = copy->outputs()[i];
  };
  for (Value* value : recomputed) recompute(value);
  for (Node* node = split->next(); node != pair; node = node->next()) {
    Node* copy = result.head->insertNode(result.head->createClone(node, lookup));
    for (size_t i = 0; i < node->outputs().size(); ++i) env[node->outputs()[i]] = copy->outputs()[i];
  }
  result.head->registerOutput(lookup(logits));
  torch::jit::EliminateDeadCode(result.head);
  result.features = BuildFeaturesGraph(*result.head);

  // The split graph: the instrumented forward, returning the side values too.
  {
    torch::jit::WithInsertPoint guard(graph->return_node());
    std::vector<Value*> outputs = {logits, tracked};
    outputs.insert(outputs.end(), side_values.begin(), side_values.end());
    Value* tuple = graph->insertNode(graph->createTuple(outputs))->output();
    graph->eraseOutput(0);
    graph->registerOutput(tuple);
  }
  torch::jit::EliminateDeadCode(graph);
  result.split = graph;
  result.side_value_count = static_cast<int>(side_values.size());
  return result;
}

namespace {

void AddMethod(Module& module, const std::string& name, const std::shared_ptr<Graph>& graph) {
  auto compilation_unit = module._ivalue()->compilation_unit();
  torch::jit::Function* function =
      compilation_unit->create_function(c10::QualifiedName(*module.type()->name(), name), graph);
  module.type()->addMethod(function);
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
  AddMethod(module, method_name, *graph);
  return method_name;
}

StatusOr<HeadMethods> AddHeadMethods(Module& module, const std::string& layer_path) {
  HeadMethods names;
  const std::string suffix = ActivationMethodName(layer_path).substr(std::string("__camserve_activation__").size());
  names.split = "__camserve_split__" + suffix;
  names.head = "__camserve_head__" + suffix;
  const std::string features = "__camserve_features__" + suffix;
  if (torch::jit::Function* head = module.type()->findMethod(names.head)) {
    names.side_value_count = static_cast<int>(head->getSchema().arguments().size()) - 2;
    if (module.type()->findMethod(features)) names.features = features;
    return names;
  }
  StatusOr<HeadGraphs> graphs = [&]() -> StatusOr<HeadGraphs> {
    try {
      return BuildHeadGraphs(module, layer_path);
    } catch (const c10::Error& e) {
      return InvalidArgumentError("the model cannot be cut at layer '" + layer_path +
                                  "': " + e.what_without_backtrace());
    }
  }();
  if (!graphs.ok()) return graphs.status();
  AddMethod(module, names.split, graphs->split);
  AddMethod(module, names.head, graphs->head);
  if (graphs->features) {
    AddMethod(module, features, graphs->features);
    names.features = features;
  }
  names.side_value_count = graphs->side_value_count;
  return names;
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
