// AblationCAM, ScoreCAM and Recipro-CAM against pytorch-grad-cam 1.5.7 and a
// Recipro-CAM reference written from the paper, and the quality scores
// against RISE's, pytorch-grad-cam's and torch-cam's definitions: the
// references are computed by tests/reference/make_perturbation_reference.py
// on ResNet-18 with the TorchScript file's weights.
#include <yaml-cpp/yaml.h>

#include <atomic>

#include "core/engine/cam_model.h"
#include "core/engine/explanation_quality.h"
#include "tests/core/engine/cam_reference_check.h"

namespace camserve {
namespace {

using Catch::Matchers::Contains;
using testing::CheckReferenceCase;
using testing::Item;
using testing::MakeEngine;
using testing::ModelDir;
using testing::TestDataDir;

std::string ReferenceDir() { return TestDataDir() + "/perturbation_reference"; }

YAML::Node Manifest() { return YAML::LoadFile(ReferenceDir() + "/manifest.yaml"); }

std::vector<PreparedInput> ReferenceInputs(const YAML::Node& c) {
  const auto shape = c["input_shape"].as<std::vector<int>>();
  return testing::LoadReferenceInputs(ReferenceDir() + "/" + c["inputs"].as<std::string>(), shape[2], shape[3]);
}

TEST_CASE("ablationcam, scorecam and reciprocam match their references on ResNet-18, mixed targets") {
  const YAML::Node manifest = Manifest();
  REQUIRE(manifest["cases"].size() == 6);
  auto engine = MakeEngine(ModelDir() + "/resnet18.pt");
  const std::vector<PreparedInput> images = ReferenceInputs(manifest["cases"][0]);
  for (const YAML::Node& c : manifest["cases"]) {
    DYNAMIC_SECTION(c["method"].as<std::string>() << " at " << c["layer"].as<std::string>()) {
      const double worst = CheckReferenceCase(*engine, images, c, ReferenceDir());
      WARN("largest map difference " << worst);
    }
  }
}

// The quality case of the manifest, its images and the reference maps.
struct QualityReference {
  YAML::Node c;
  std::vector<PreparedInput> images;
  std::vector<float> maps;  // [N, H, W]
};

QualityReference LoadQualityReference() {
  QualityReference reference;
  const YAML::Node manifest = Manifest();
  REQUIRE(manifest["quality"].size() == 1);
  reference.c = manifest["quality"][0];
  reference.images = ReferenceInputs(reference.c);
  reference.maps = testing::ReadFloats(ReferenceDir() + "/" + reference.c["maps"].as<std::string>());
  return reference;
}

void CheckQuality(const ExplanationQuality& quality, const YAML::Node& expected, double tolerance,
                  double curve_tolerance) {
  CHECK(quality.target_probability == Approx(expected["target_probability"].as<double>()).margin(tolerance));
  CHECK(quality.masked_probability == Approx(expected["masked_probability"].as<double>()).margin(tolerance));
  CHECK(quality.confidence_change == Approx(expected["confidence_change"].as<double>()).margin(tolerance));
  CHECK(quality.average_drop == Approx(expected["average_drop"].as<double>()).margin(tolerance * 100));
  CHECK(quality.confidence_increase == expected["confidence_increase"].as<bool>());
  CHECK(quality.steps == expected["steps"].as<int>());
  CHECK(quality.deletion_auc == Approx(expected["deletion_auc"].as<double>()).margin(curve_tolerance));
  CHECK(quality.insertion_auc == Approx(expected["insertion_auc"].as<double>()).margin(curve_tolerance));
  const auto deletion = expected["deletion_curve"].as<std::vector<double>>();
  const auto insertion = expected["insertion_curve"].as<std::vector<double>>();
  REQUIRE(quality.deletion_curve.size() == deletion.size());
  REQUIRE(quality.insertion_curve.size() == insertion.size());
  for (size_t i = 0; i < deletion.size(); ++i) {
    INFO("point " << i);
    CHECK(quality.deletion_curve[i] == Approx(deletion[i]).margin(curve_tolerance));
    CHECK(quality.insertion_curve[i] == Approx(insertion[i]).margin(curve_tolerance));
  }
}

TEST_CASE("quality scores of the reference maps match RISE, pytorch-grad-cam and torch-cam") {
  // The reference maps themselves, so the saliency order (and its ties) is
  // the reference's: only the scoring is under test.
  const QualityReference reference = LoadQualityReference();
  testing::ConfigureTorchForTests();
  CamModelOptions options;
  options.device = testing::TestDevice();
  StatusOr<std::unique_ptr<CamModel>> model = CamModel::Load(ModelDir() + "/resnet18.pt", options);
  REQUIRE(model.ok());
  const auto shape = reference.c["input_shape"].as<std::vector<int64_t>>();
  const int64_t n = shape[0];
  at::Tensor inputs = at::empty(shape, at::kFloat);
  for (int64_t i = 0; i < n; ++i) {
    std::memcpy(inputs[i].data_ptr<float>(), reference.images[i].data.data(), reference.images[i].data.size() * 4);
  }
  inputs = (*model)->ToModelInput(inputs);
  StatusOr<at::Tensor> logits = (*model)->Forward(inputs);
  REQUIRE(logits.ok());
  const auto targets = reference.c["resolved_targets"].as<std::vector<int64_t>>();
  QualityInput input;
  input.inputs = inputs;
  input.maps = at::from_blob(const_cast<float*>(reference.maps.data()), {n, shape[2], shape[3]}, at::kFloat)
                   .clone()
                   .to(inputs.device());
  input.targets = at::tensor(targets, at::kLong).to(inputs.device());
  input.target_probabilities = at::softmax(*logits, 1).gather(1, input.targets.unsqueeze(1)).squeeze(1);
  int forwards = 0;
  input.run_forward = [&](const at::Tensor& batch) {
    forwards += static_cast<int>(batch.size(0));
    return (*model)->Forward(batch);
  };
  QualityOptions quality_options;
  quality_options.batch_size = 7;  // chunks that straddle images
  StatusOr<std::vector<ExplanationQuality>> qualities = EvaluateExplanations(input, quality_options);
  REQUIRE(qualities.ok());
  REQUIRE(qualities->size() == 2);
  CHECK(forwards == n * QualityForwardsPerImage(shape[2], shape[3], 16));
  CHECK(forwards == n * 33);
  for (int64_t i = 0; i < n; ++i) {
    INFO("image " << i);
    CheckQuality((*qualities)[i], reference.c["images"][i], 1e-6, 1e-5);
  }
}

TEST_CASE("the engine returns quality scores for the items that ask, batched with the explanation") {
  const QualityReference reference = LoadQualityReference();
  auto engine = MakeEngine(ModelDir() + "/resnet18.pt");
  const auto targets = reference.c["targets"].as<std::vector<int>>();
  std::vector<ExplainItem> items;
  for (size_t i = 0; i < reference.images.size(); ++i) {
    items.push_back(Item(reference.images[i], targets[i] >= 0 ? std::optional<int>(targets[i]) : std::nullopt));
    items.back().evaluate = true;
  }
  // A third item without quality scores, in the same batch.
  items.push_back(Item(reference.images[1]));
  StatusOr<BatchResult> result = engine->Explain({CamMethodKind::kGradCam, "layer4"}, items);
  INFO(result.status().ToString());
  REQUIRE(result.ok());
  CHECK_FALSE(result->items[2].quality.has_value());
  CHECK(result->timings.Has(Stage::kEvaluate));
  for (size_t i = 0; i < 2; ++i) {
    INFO("image " << i);
    REQUIRE(result->items[i].quality.has_value());
    // The engine's own maps differ from the reference by ~1e-6, which may
    // reorder the pixels of equal saliency (the 5x5 map's upsampling has
    // many): the curves are compared more loosely than above.
    CheckQuality(*result->items[i].quality, reference.c["images"][i], 1e-5, 2e-4);
  }
}

TEST_CASE("the scorecam cap refuses the work before doing it, with the option's name") {
  EngineOptions options;
  options.model_path = ModelDir() + "/resnet18.pt";
  options.perturbation.max_scorecam_forwards = 256;   // layer4 has 512 channels
  options.perturbation.max_head_runs_per_image = 64;  // layer3 at 160 px has 100 positions
  auto engine = MakeEngine(options);
  const std::vector<PreparedInput> images = ReferenceInputs(Manifest()["cases"][0]);
  for (int attempt = 0; attempt < 2; ++attempt) {
    INFO("attempt " << attempt << " (the second is refused before its forward)");
    StatusOr<BatchResult> score = engine->Explain({CamMethodKind::kScoreCam, "layer4"}, {Item(images[0])});
    CHECK(score.status().code() == StatusCode::kResourceExhausted);
    CHECK_THAT(score.status().message(), Contains("512 full forwards") && Contains("engine.max_scorecam_forwards"));
    StatusOr<BatchResult> recipro = engine->Explain({CamMethodKind::kReciproCam, "layer3"}, {Item(images[0])});
    CHECK(recipro.status().code() == StatusCode::kResourceExhausted);
    CHECK_THAT(recipro.status().message(), Contains("100 runs") && Contains("engine.max_head_runs_per_image"));
  }
  // Within the caps: Recipro-CAM at layer4 (25 positions), and at layer3 for
  // a smaller input (64 px: 16 positions), though 160 px was refused there.
  CHECK(engine->Explain({CamMethodKind::kReciproCam, "layer4"}, {Item(images[0])}).ok());
  PreparedInput small;
  small.shape = {3, 64, 64};
  small.data.assign(3 * 64 * 64, 0.5f);
  small.original_width_px = small.original_height_px = 64;
  StatusOr<BatchResult> small_recipro = engine->Explain({CamMethodKind::kReciproCam, "layer3"}, {Item(small)});
  INFO(small_recipro.status().ToString());
  CHECK(small_recipro.ok());
}

TEST_CASE("perturbation runs and quality forwards stop between chunks when nobody waits") {
  EngineOptions options;
  options.model_path = ModelDir() + "/resnet18.pt";
  options.perturbation.batch_size = 16;
  auto engine = MakeEngine(options);
  const std::vector<PreparedInput> images = ReferenceInputs(Manifest()["cases"][0]);
  std::atomic<int> polls{0};
  ExplainBatchSpec spec(CamMethodKind::kAblationCam, "layer4");
  spec.should_stop = [&polls] { return ++polls > 2; };
  StatusOr<BatchResult> ablation = engine->Explain(spec, {Item(images[0])});
  CHECK(ablation.status().code() == StatusCode::kCancelled);
  // Head runs may go to several threads: the third poll stops the work, a
  // fourth may have come from the other thread meanwhile.
  CHECK_THAT(ablation.status().message(), Contains("stopped after") && Contains(" of 512 perturbed inputs"));
  CHECK(polls >= 3);
  CHECK(polls <= 4);

  polls = 0;
  spec.should_stop = [&polls] { return ++polls > 1; };
  ExplainItem evaluated = Item(images[0]);
  evaluated.evaluate = true;
  spec.method = CamMethodKind::kGradCam;
  StatusOr<BatchResult> quality = engine->Explain(spec, {evaluated});
  CHECK(quality.status().code() == StatusCode::kCancelled);
  CHECK_THAT(quality.status().message(), Contains("stopped after 32 of 33"));
}

TEST_CASE("RISE's blur kernel is scipy's gaussian_filter of a delta") {
  const at::Tensor kernel = RiseBlurKernel();
  REQUIRE(kernel.sizes() == at::IntArrayRef({11, 11}));
  // Values printed by scipy.ndimage.gaussian_filter(delta, 5) (reflect mode).
  CHECK(kernel[5][5].item<float>() == Approx(0.008832628216191647).epsilon(1e-6));
  CHECK(kernel[0][0].item<float>() == Approx(0.007736635408576913).epsilon(1e-6));
  CHECK(kernel[0][5].item<float>() == Approx(0.008266488021414163).epsilon(1e-6));
  CHECK(kernel.sum().item<double>() == Approx(1.0).epsilon(1e-6));
}

TEST_CASE("a layer whose output the model then changes in place keeps its own output") {
  // torchvision's BasicBlock adds the residual into bn2's output in place and
  // applies an in-place ReLU: the activation must be bn2's output (it has
  // negative values), and the head must take it as it was.
  testing::ConfigureTorchForTests();
  CamModelOptions options;
  options.device = testing::TestDevice();
  StatusOr<std::unique_ptr<CamModel>> model = CamModel::Load(ModelDir() + "/resnet18.pt", options);
  REQUIRE(model.ok());
  at::manual_seed(0);
  const at::Tensor images = (*model)->ToModelInput(at::randn({2, 3, 160, 160}));
  StatusOr<CamModel::HeadInput> split = (*model)->SplitAt(images, "layer4.1.bn2");
  REQUIRE(split.ok());
  CHECK(split->activation.min().item<float>() < -1.f);
  StatusOr<at::Tensor> head = (*model)->RunHead("layer4.1.bn2", split->activation, split->side_values);
  REQUIRE(head.ok());
  CHECK((*head - split->logits).abs().max().item<float>() <= 1e-5f);
  StatusOr<CamModel::LayerOutput> tracked = (*model)->ForwardWithActivation(images, "layer4.1.bn2", true);
  REQUIRE(tracked.ok());
  CHECK((tracked->activation.detach() - split->activation).abs().max().item<float>() <= 1e-4f);
  CHECK((tracked->logits.detach() - split->logits).abs().max().item<float>() <= 1e-4f);
}

}  // namespace
}  // namespace camserve
