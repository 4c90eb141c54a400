#include "core/engine/cam_model.h"

#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include "tests/core/engine/engine_test_util.h"
#include "tests/core/engine/head_check.h"

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

// ResNet-18 with validation on (the probe at its 224x224 input size).
std::unique_ptr<CamModel> LoadValidatedResNet18(CamModelOptions options) {
  options.device = "cpu";
  options.probe_height_px = options.probe_width_px = 224;
  options.first_layer = "layer4";
  StatusOr<std::unique_ptr<CamModel>> model = CamModel::Load(ModelDir() + "/resnet18.pt", options);
  INFO(model.status().ToString());
  REQUIRE(model.ok());
  return std::move(model).value();
}

TEST_CASE("an optimized copy is validated against the plain module, and refused above the tolerance") {
  CamModelOptions options;
  SECTION("within the tolerance: used, with the measured differences") {
    options.optimize_tolerance = 1.0;
    std::unique_ptr<CamModel> model = LoadValidatedResNet18(options);
    const std::vector<LayerExecution> layers = model->Layers();
    REQUIRE(layers.size() == 1);
    CHECK(layers[0].layer == "layer4");
    CHECK(layers[0].optimized);
    CHECK(layers[0].precision == "fp32");
    // Folded batch norms and oneDNN round differently, but not by much.
    CHECK(layers[0].map_difference > 0);
    CHECK(layers[0].map_difference < 1e-3);
    CHECK(layers[0].probability_difference >= 0);
    CHECK(layers[0].probability_difference < 1e-4);
    CHECK(layers[0].note.empty());
  }
  SECTION("above it (0: only an exact copy would pass): the plain module, with the reason") {
    options.optimize_tolerance = 0;
    std::unique_ptr<CamModel> model = LoadValidatedResNet18(options);
    const std::vector<LayerExecution> layers = model->Layers();
    REQUIRE(layers.size() == 1);
    CHECK_FALSE(layers[0].optimized);
    CHECK(layers[0].map_difference < 0);  // the plain module is the reference
    CHECK_THAT(layers[0].note, Catch::Contains("the optimized copy of layer 'layer4' refused: maps differ by"));
    CHECK(model->OptimizedLayers().empty());
    // A layer prepared later is validated the same way.
    REQUIRE(model->PrepareLayer("layer3").ok());
    CHECK(model->OptimizedLayers().empty());
  }
  SECTION("optimize off: the plain module, nothing to measure") {
    options.optimize_for_inference = false;
    std::unique_ptr<CamModel> model = LoadValidatedResNet18(options);
    const std::vector<LayerExecution> layers = model->Layers();
    REQUIRE(layers.size() == 1);
    CHECK_FALSE(layers[0].optimized);
    CHECK(layers[0].map_difference < 0);
    CHECK(layers[0].note.empty());
  }
}

TEST_CASE("precisions are parsed and checked against the device") {
  CHECK(ParsePrecision("bf16").value() == Precision::kBf16);
  CHECK(ParsePrecision("int8").status().message() == "precision 'int8' is not one of fp32, bf16, fp16");
  CHECK(CheckPrecisionSupported(Precision::kFp32, false, false).ok());
  CHECK(CheckPrecisionSupported(Precision::kBf16, false, true).ok());
  CHECK(CheckPrecisionSupported(Precision::kBf16, true, false).ok());
  CHECK(CheckPrecisionSupported(Precision::kFp16, true, false).ok());
  const Status no_native_bf16 = CheckPrecisionSupported(Precision::kBf16, false, false);
  CHECK(no_native_bf16.code() == StatusCode::kInvalidArgument);
  CHECK_THAT(no_native_bf16.message(), Catch::Contains("AVX512-BF16 or AMX-BF16"));
  const Status fp16_on_cpu = CheckPrecisionSupported(Precision::kFp16, false, true);
  CHECK(fp16_on_cpu.code() == StatusCode::kInvalidArgument);
  CHECK_THAT(fp16_on_cpu.message(), Catch::Contains("fp16 needs a CUDA device"));
}

TEST_CASE("bf16 is validated against fp32 at load and refused above precision_tolerance") {
  if (!CpuHasNativeBf16()) {
    WARN("this CPU has no native bf16; CamModel::Load refuses bf16 here (checked above)");
    return;
  }
  CamModelOptions options;
  options.precision = "bf16";
  SECTION("within the tolerance: the model runs in bf16") {
    std::unique_ptr<CamModel> model = LoadValidatedResNet18(options);
    CHECK(model->precision() == Precision::kBf16);
    const std::vector<LayerExecution> layers = model->Layers();
    REQUIRE(layers.size() == 1);
    CHECK(layers[0].precision == "bf16");
    CHECK(layers[0].optimized);  // a frozen copy
    CHECK(layers[0].map_difference > 0);
    CHECK(layers[0].map_difference <= options.precision_tolerance);
    // Logits of a bf16 forward come back as float32.
    StatusOr<at::Tensor> logits = model->Forward(model->ToModelInput(at::rand({1, 3, 224, 224})));
    REQUIRE(logits.ok());
    CHECK(logits->scalar_type() == at::kFloat);
  }
  SECTION("above it: the whole model falls back to fp32, saying why") {
    options.precision_tolerance = 0;
    std::unique_ptr<CamModel> model = LoadValidatedResNet18(options);
    CHECK(model->precision() == Precision::kFp32);
    const std::vector<LayerExecution> layers = model->Layers();
    REQUIRE(layers.size() == 1);
    CHECK(layers[0].precision == "fp32");
    CHECK_THAT(layers[0].note, Catch::Contains("bf16 (frozen copy) of layer 'layer4' refused: maps differ by"));
    REQUIRE(model->PrepareLayer("layer3").ok());
    CHECK(model->Layers()[0].precision == "fp32");
  }
}

TEST_CASE("a layer's head, run alone on its activation, gives the model's logits") {
  CamModelOptions options;
  options.device = "cpu";
  options.optimize_for_inference = false;  // Forward on the plain module, as the head
  StatusOr<std::unique_ptr<CamModel>> resnet = CamModel::Load(ModelDir() + "/resnet18.pt", options);
  REQUIRE(resnet.ok());
  const at::Tensor images = at::randn({2, 3, 224, 224});
  // layer4.1.conv2's head needs the block's identity path: a side value.
  for (const std::string layer : {"layer4", "layer3", "layer4.1.conv2", "layer1.0.bn1"}) {
    testing::CheckHeadReproducesForward(**resnet, layer, images);
  }
  StatusOr<CamModel::HeadInput> inside_block = (*resnet)->SplitAt(images, "layer4.1.conv2");
  REQUIRE(inside_block.ok());
  CHECK(inside_block->side_values.size() == 1);
  StatusOr<CamModel::HeadInput> stage = (*resnet)->SplitAt(images, "layer4");
  REQUIRE(stage.ok());
  CHECK(stage->side_values.empty());
  CHECK((*resnet)->RunHead("layer4", stage->activation, {stage->activation}).status().code() ==
        StatusCode::kInvalidArgument);

  StatusOr<std::unique_ptr<CamModel>> digits = CamModel::Load(ModelDir() + "/digits_cnn.pt", options);
  REQUIRE(digits.ok());
  testing::CheckHeadReproducesForward(**digits, "block3", at::randn({4, 3, 32, 32}));
}

TEST_CASE("one class per row: the head's final linear layer runs for that class alone, when the head ends in one") {
  CamModelOptions options;
  options.device = "cpu";
  options.optimize_for_inference = false;
  StatusOr<std::unique_ptr<CamModel>> resnet = CamModel::Load(ModelDir() + "/resnet18.pt", options);
  REQUIRE(resnet.ok());
  CHECK_FALSE((*resnet)->HeadScoresSkipFinalLinear("layer4"));  // not prepared yet
  testing::CheckHeadReproducesForward(**resnet, "layer4", at::randn({3, 3, 224, 224}));
  CHECK((*resnet)->HeadScoresSkipFinalLinear("layer4"));
  // fc's own head is the linear layer: its features are its input.
  testing::CheckHeadReproducesForward(**resnet, "avgpool", at::randn({2, 3, 224, 224}));
  CHECK((*resnet)->HeadScoresSkipFinalLinear("avgpool"));

  struct Case {
    const char* model;
    bool skips;
  };
  for (const Case& fixture :
       {Case{"tiny_cnn.pt", true}, Case{"unbiased_cnn.pt", true}, Case{"scaled_logits.pt", false}}) {
    INFO(fixture.model);
    StatusOr<std::unique_ptr<CamModel>> model = CamModel::Load(testing::EngineFixture(fixture.model), options);
    REQUIRE(model.ok());
    testing::CheckHeadReproducesForward(**model, "conv2", at::randn({5, 3, 16, 16}));
    CHECK((*model)->HeadScoresSkipFinalLinear("conv2") == fixture.skips);
  }
}

}  // namespace
}  // namespace camserve
