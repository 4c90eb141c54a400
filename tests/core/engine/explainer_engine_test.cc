#include "core/engine/explainer_engine.h"
#include "core/engine/precision.h"

#include <numeric>

#include "tests/core/engine/engine_test_util.h"

namespace camserve {
namespace {

using testing::ConfigureTorchForTests;
using testing::EngineFixture;
using testing::Item;
using testing::MakeEngine;
using testing::MaxAbsDiff;
using testing::ModelDir;
using testing::ReadBytes;

PreparedInput RandomInput(int height, int width, unsigned seed) {
  PreparedInput input;
  input.shape = {3, height, width};
  input.data.resize(3 * height * width);
  uint32_t state = seed * 2654435761u + 1;
  for (float& v : input.data) {
    state = state * 1664525u + 1013904223u;
    v = static_cast<float>(state >> 8) / static_cast<float>(1 << 24) * 4.f - 2.f;
  }
  input.original_height_px = height;
  input.original_width_px = width;
  return input;
}

TEST_CASE("the engine reports the sidecar's facts and the model's class count") {
  auto engine = MakeEngine(ModelDir() + "/digits_cnn.pt");
  const ModelInfo& info = engine->info();
  CHECK(info.name == "digits_cnn");
  CHECK(info.device == (testing::TestDevice() == "cpu" ? "cpu" : "cuda:0"));
  CHECK(info.input_height_px == 32);
  CHECK(info.input_width_px == 32);
  CHECK(info.num_classes == 10);
  CHECK(info.labels.size() == 10);
  CHECK(info.default_layer == "block3");
}

TEST_CASE("a model without a sidecar loads with the documented defaults") {
  EngineOptions options;
  options.model_path = EngineFixture("tiny_cnn.pt");
  options.device = "cpu";
  options.sidecar_defaults.input_height_px = 20;
  options.sidecar_defaults.input_width_px = 24;
  options.sidecar_defaults.default_layer = "conv2";
  auto engine = ExplainerEngine::Create(options);
  REQUIRE(engine.ok());
  const ModelInfo& info = (*engine)->info();
  CHECK(info.name == "tiny_cnn");
  CHECK(info.input_height_px == 20);
  CHECK(info.input_width_px == 24);
  CHECK(info.num_classes == 4);
  PreparedInput input = RandomInput(20, 24, 1);
  StatusOr<BatchResult> result = (*engine)->Explain({}, {Item(input, 3)});
  REQUIRE(result.ok());
  CHECK(result->items[0].target.label == "3");
  CHECK(result->items[0].heatmap.width_px == 24);
}

TEST_CASE("bad engine options and models are refused clearly") {
  struct Case {
    std::string model, device, precision, reason;
  };
  const std::string good = ModelDir() + "/digits_cnn.pt";
  for (const Case& c :
       {Case{"/nonexistent/model.pt", "cpu", "fp32", "cannot load TorchScript model"},
        Case{ModelDir() + "/digits_cnn.yaml", "cpu", "fp32", "cannot load TorchScript model"},
        Case{good, "tpu", "fp32", "not a device name"}, Case{good, "cpu", "fp16", "needs a CUDA device"},
        Case{good, "cpu", "int4", "not one of fp32, bf16, fp16"}}) {
    INFO(c.reason);
    EngineOptions options;
    options.model_path = c.model;
    options.device = c.device;
    options.precision = c.precision;
    auto engine = ExplainerEngine::Create(options);
    REQUIRE_FALSE(engine.ok());
    CHECK_THAT(engine.status().message(), Catch::Contains(c.reason));
  }
}

TEST_CASE("explanations of a batch equal the same explanations one by one") {
  auto engine = MakeEngine(ModelDir() + "/resnet18.pt");
  std::vector<PreparedInput> inputs;
  for (unsigned i = 0; i < 4; ++i) inputs.push_back(RandomInput(224, 224, i));
  const std::vector<std::optional<int>> targets = {std::nullopt, 5, 999, std::nullopt};
  for (CamMethodKind method : AllCamMethods()) {
    // ScoreCAM would take 512 forwards per image here; its batches are
    // checked against pytorch-grad-cam's in perturbation_cam_test.cc.
    if (method == CamMethodKind::kScoreCam) continue;
    INFO(CamMethodName(method));
    std::vector<ExplainItem> items;
    for (size_t i = 0; i < inputs.size(); ++i)
      items.push_back(Item(inputs[i], targets[i], HeatmapResolution::kFeature));
    StatusOr<BatchResult> batch = engine->Explain({method, "layer4"}, items);
    REQUIRE(batch.ok());
    for (size_t i = 0; i < inputs.size(); ++i) {
      StatusOr<BatchResult> alone = engine->Explain({method, "layer4"}, {items[i]});
      REQUIRE(alone.ok());
      CHECK(alone->items[0].target.class_index == batch->items[i].target.class_index);
      CHECK(MaxAbsDiff(alone->items[0].heatmap.values, batch->items[i].heatmap.values.data(),
                       batch->items[i].heatmap.values.size()) <= 1e-4);
    }
  }
}

TEST_CASE("heatmaps come at feature, input and original resolution") {
  auto engine = MakeEngine(ModelDir() + "/digits_cnn.pt");
  StatusOr<PreparedInput> input =
      engine->preprocessor().FromEncodedImage(ReadBytes(EngineFixture("preprocess_source.png")));
  REQUIRE(input.ok());
  struct Case {
    HeatmapResolution resolution;
    int width, height;
  };
  for (const Case& c : {Case{HeatmapResolution::kFeature, 8, 8}, Case{HeatmapResolution::kInput, 32, 32},
                        Case{HeatmapResolution::kOriginal, 40, 30}}) {
    StatusOr<BatchResult> result = engine->Explain({}, {Item(*input, std::nullopt, c.resolution)});
    REQUIRE(result.ok());
    const Heatmap& heatmap = result->items[0].heatmap;
    CHECK(heatmap.width_px == c.width);
    CHECK(heatmap.height_px == c.height);
    REQUIRE(heatmap.values.size() == static_cast<size_t>(c.width * c.height));
    const auto [lo, hi] = std::minmax_element(heatmap.values.begin(), heatmap.values.end());
    CHECK(*lo >= 0.f);
    CHECK(*hi <= 1.f);
  }
}

TEST_CASE("top-k is sorted, capped at the class count, and holds the target's probability") {
  auto engine = MakeEngine(ModelDir() + "/digits_cnn.pt");
  PreparedInput input = RandomInput(32, 32, 9);
  StatusOr<BatchResult> result = engine->Explain({}, {Item(input, std::nullopt, HeatmapResolution::kInput, 50)});
  REQUIRE(result.ok());
  const ExplainResult& r = result->items[0];
  REQUIRE(r.top_k.size() == 10);
  double total = 0;
  for (size_t k = 0; k < r.top_k.size(); ++k) {
    total += r.top_k[k].probability;
    if (k > 0) CHECK(r.top_k[k - 1].probability >= r.top_k[k].probability);
  }
  CHECK(total == Approx(1.0).margin(1e-5));
  CHECK(r.target.class_index == r.top_k[0].class_index);
  CHECK(r.target.probability == Approx(r.top_k[0].probability));
  CHECK(r.target.label == engine->info().labels[r.target.class_index]);
}

TEST_CASE("bad requests are INVALID_ARGUMENT and the engine keeps working") {
  auto engine = MakeEngine(ModelDir() + "/digits_cnn.pt");
  PreparedInput input = RandomInput(32, 32, 3);
  PreparedInput other_shape = RandomInput(40, 32, 4);
  struct Case {
    std::vector<ExplainItem> items;
    std::string layer;
    const char* reason;
  };
  for (const Case& c : {Case{{Item(input, 10)}, "", "target_class 10 is out of range"},
                        Case{{Item(input, -1)}, "", "target_class -1 is out of range"},
                        Case{{Item(input, std::nullopt, HeatmapResolution::kInput, -2)}, "", "top_k must be >= 0"},
                        Case{{Item(input), Item(other_shape)}, "", "same shape"}, Case{{}, "", "empty batch"},
                        Case{{Item(input)}, "block9", "usable layers: block1"},
                        Case{{Item(input)}, "fc", "output [1, 10] is not [N, C, H, W] nor [N, 1 + h*w, C]"}}) {
    INFO(c.reason);
    StatusOr<BatchResult> result = engine->Explain({CamMethodKind::kGradCam, c.layer}, c.items);
    REQUIRE_FALSE(result.ok());
    CHECK(result.status().code() == StatusCode::kInvalidArgument);
    CHECK_THAT(result.status().message(), Catch::Contains(c.reason));
  }
  CHECK(engine->Explain({}, {Item(input)}).ok());
}

TEST_CASE("bad layer paths list the usable layers, and the engine keeps working") {
  auto engine = MakeEngine(ModelDir() + "/resnet18.pt");
  PreparedInput input = RandomInput(224, 224, 5);
  for (const char* path : {"layer9", "layer4.7", "layer4.1.conv9", "layer4..conv1"}) {
    INFO(path);
    StatusOr<BatchResult> result = engine->Explain({CamMethodKind::kGradCam, path}, {Item(input)});
    REQUIRE_FALSE(result.ok());
    CHECK(result.status().code() == StatusCode::kInvalidArgument);
    CHECK_THAT(result.status().message(), Catch::Contains("is not a submodule") && Catch::Contains("usable layers:") &&
                                              Catch::Contains("layer4.1.conv2"));
  }
  CHECK(engine->Explain({CamMethodKind::kGradCam, "layer4.1.conv2"}, {Item(input)}).ok());
}

TEST_CASE("usable layers are listed for the model") {
  auto engine = MakeEngine(ModelDir() + "/digits_cnn.pt");
  std::vector<std::string> layers = engine->UsableLayers();
  for (const char* layer : {"block1", "block2", "block3", "block3.0", "pool"}) {
    INFO(layer);
    CHECK(std::find(layers.begin(), layers.end(), layer) != layers.end());
  }
}

TEST_CASE("the engine reports its prepared layers and precision; bf16 maps stay near fp32's") {
  ConfigureTorchForTests();
  auto load = [](const std::string& precision) {
    EngineOptions options;
    options.model_path = ModelDir() + "/resnet18.pt";
    options.device = "cpu";
    options.precision = precision;
    StatusOr<std::unique_ptr<ExplainerEngine>> engine = ExplainerEngine::Create(options);
    INFO(engine.status().ToString());
    REQUIRE(engine.ok());
    return std::move(engine).value();
  };
  auto fp32 = load("fp32");
  CHECK(fp32->info().precision == "fp32");
  const std::vector<LayerExecution> layers = fp32->PreparedLayers();
  REQUIRE(layers.size() == 1);
  CHECK(layers[0].layer == "layer4");
  // Validated at load: either the optimized copy within 1e-4, or the plain
  // module with the reason.
  if (layers[0].optimized) {
    CHECK(layers[0].map_difference >= 0);
    CHECK(layers[0].map_difference <= 1e-4);
  } else {
    CHECK_THAT(layers[0].note, Catch::Contains("refused"));
  }
  if (!CpuHasNativeBf16()) {
    WARN("no native bf16 on this CPU: bf16 is refused at load (cam_model_test)");
    return;
  }
  auto bf16 = load("bf16");
  CHECK(bf16->info().precision == "bf16");
  REQUIRE(bf16->PreparedLayers().size() == 1);
  CHECK(bf16->PreparedLayers()[0].precision == "bf16");
  std::vector<PreparedInput> inputs;
  std::vector<ExplainItem> items;
  for (unsigned i = 0; i < 3; ++i) inputs.push_back(RandomInput(224, 224, 40 + i));
  for (const PreparedInput& input : inputs) items.push_back(Item(input, std::nullopt, HeatmapResolution::kFeature));
  StatusOr<BatchResult> expected = fp32->Explain({}, items);
  StatusOr<BatchResult> actual = bf16->Explain({}, items);
  REQUIRE(expected.ok());
  REQUIRE(actual.ok());
  for (size_t i = 0; i < items.size(); ++i) {
    INFO("image " << i);
    const ExplainResult& a = actual->items[i];
    const ExplainResult& e = expected->items[i];
    CHECK(a.target.class_index == e.target.class_index);
    const double difference = MaxAbsDiff(e.heatmap.values, a.heatmap.values.data(), a.heatmap.values.size());
    WARN("bf16 top-1 map difference from fp32: " << difference);
    CHECK(difference <= 2e-2);
  }
}

}  // namespace
}  // namespace camserve
