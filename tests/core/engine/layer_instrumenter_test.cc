#include "core/engine/layer_instrumenter.h"

#include <algorithm>

#include "tests/core/engine/engine_test_util.h"

namespace camserve {
namespace {

using testing::EngineFixture;
using testing::MakeEngine;
using testing::ModelDir;

bool Contains(const std::vector<std::string>& v, const std::string& s) {
  return std::find(v.begin(), v.end(), s) != v.end();
}

TEST_CASE("usable layers of ResNet-18 are its called submodules") {
  torch::jit::Module module = torch::jit::load(ModelDir() + "/resnet18.pt");
  std::vector<std::string> layers = ListUsableLayers(module);
  for (const char* layer : {"conv1", "layer1", "layer3.1", "layer4", "layer4.1.conv2", "avgpool", "fc"}) {
    INFO(layer);
    CHECK(Contains(layers, layer));
  }
  CHECK_FALSE(Contains(layers, ""));
}

TEST_CASE("instrumented method returns logits equal to forward and the layer's activation") {
  torch::jit::Module module = torch::jit::load(ModelDir() + "/resnet18.pt");
  module.eval();
  StatusOr<std::string> method = AddActivationMethod(module, "layer4");
  REQUIRE(method.ok());
  CHECK(*method == ActivationMethodName("layer4"));
  at::manual_seed(7);
  at::Tensor input = at::randn({2, 3, 224, 224});
  at::NoGradGuard no_grad;
  at::Tensor logits = module.forward({input}).toTensor();
  auto pair = module.get_method(*method)({input}).toTupleRef().elements();
  CHECK(at::allclose(pair[0].toTensor(), logits, 0, 0));
  CHECK(pair[1].toTensor().sizes() == at::IntArrayRef({2, 512, 7, 7}));
  // Adding the same layer again is a no-op returning the same name.
  CHECK(AddActivationMethod(module, "layer4").value() == *method);
}

TEST_CASE("bad layer paths are INVALID_ARGUMENT with the reason") {
  torch::jit::Module module = torch::jit::load(ModelDir() + "/resnet18.pt");
  struct Case {
    const char* path;
    const char* reason;
  };
  for (const Case& c :
       {Case{"layer9", "'layer9' is not a submodule"}, Case{"layer4.7", "'layer4.7' is not a submodule"},
        Case{"layer4.1.conv9", "'layer4.1.conv9' is not a submodule"}, Case{"", "empty target layer"},
        Case{"layer4..conv1", "'layer4.' is not a submodule"}}) {
    INFO(c.path);
    StatusOr<std::string> method = AddActivationMethod(module, c.path);
    REQUIRE_FALSE(method.ok());
    CHECK(method.status().code() == StatusCode::kInvalidArgument);
    CHECK_THAT(method.status().message(), Catch::Contains(c.reason));
  }
  CHECK_THAT(DescribeUsableLayers(ListUsableLayers(module)),
             Catch::StartsWith("usable layers: conv1 ") && Catch::Contains("layer4.1.conv2"));
  CHECK(DescribeUsableLayers({}) == "no layer of this model can be instrumented");
}

TEST_CASE("layers called twice, in a branch or in a loop are refused with a reason") {
  struct Case {
    const char* model;
    const char* layer;
    const char* reason;
  };
  for (const Case& c :
       {Case{"called_twice.pt", "conv", "called 2 times"}, Case{"in_branch.pt", "head_conv", "inside a loop or branch"},
        Case{"in_loop.pt", "conv", "inside a loop or branch"}}) {
    INFO(c.model);
    torch::jit::Module module = torch::jit::load(EngineFixture(c.model));
    StatusOr<std::string> method = AddActivationMethod(module, c.layer);
    REQUIRE_FALSE(method.ok());
    CHECK(method.status().code() == StatusCode::kInvalidArgument);
    CHECK_THAT(method.status().message(), Catch::Contains(c.reason));
  }
  // The branch model's other layer stays usable.
  torch::jit::Module branch = torch::jit::load(EngineFixture("in_branch.pt"));
  CHECK(AddActivationMethod(branch, "stem").ok());
}

TEST_CASE("a model whose forward returns a tuple is refused clearly") {
  torch::jit::Module module = torch::jit::load(EngineFixture("tuple_output.pt"));
  StatusOr<std::string> method = AddActivationMethod(module, "conv");
  REQUIRE_FALSE(method.ok());
  CHECK_THAT(method.status().message(), Catch::Contains("must return one Tensor of logits"));
}

}  // namespace
}  // namespace camserve
