#include "core/engine/cam_model.h"

#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include "tests/core/engine/engine_test_util.h"

namespace camserve {
namespace {

using testing::ModelDir;

std::unique_ptr<CamModel> LoadResNet18(int max_optimized_layers) {
  CamModelOptions options;
  options.device = "cpu";
  options.max_optimized_layers = max_optimized_layers;
  StatusOr<std::unique_ptr<CamModel>> model = CamModel::Load(ModelDir() + "/resnet18.pt", options);
  INFO(model.status().ToString());
  REQUIRE(model.ok());
  return std::move(model).value();
}

TEST_CASE("at most max_optimized_layers layers get an optimized copy; the others run on the plain module") {
  std::unique_ptr<CamModel> model = LoadResNet18(/*max_optimized_layers=*/1);
  REQUIRE(model->PrepareLayer("layer4").ok());
  REQUIRE(model->PrepareLayer("layer3").ok());
  REQUIRE(model->PrepareLayer("layer2").ok());
  CHECK(model->OptimizedLayers() == std::vector<std::string>{"layer4"});

  // A layer on the plain module gives the same logits as the optimized copy.
  const at::Tensor batch = at::rand({2, 3, 224, 224});
  StatusOr<CamModel::LayerOutput> optimized = model->ForwardWithActivation(batch, "layer4", false);
  StatusOr<CamModel::LayerOutput> plain = model->ForwardWithActivation(batch, "layer3", false);
  REQUIRE(optimized.ok());
  REQUIRE(plain.ok());
  CHECK(at::allclose(optimized->logits, plain->logits, /*rtol=*/1e-4, /*atol=*/1e-4));
  CHECK(plain->activation.sizes() == at::IntArrayRef({2, 256, 14, 14}));

  std::unique_ptr<CamModel> none = LoadResNet18(/*max_optimized_layers=*/0);
  REQUIRE(none->PrepareLayer("layer4").ok());
  CHECK(none->OptimizedLayers().empty());
}

}  // namespace
}  // namespace camserve
