#include "core/model/model_sidecar.h"

#include <catch2/catch.hpp>

#include <unistd.h>
#include <filesystem>

#include <fstream>

#include "core/cam/cam_method_kind.h"

namespace camserve {
namespace {

namespace fs = std::filesystem;

struct TempDir {
  fs::path path;
  TempDir() : path(fs::temp_directory_path() / ("camserve_sidecar_" + std::to_string(::getpid()))) {
    fs::create_directories(path);
  }
  ~TempDir() { fs::remove_all(path); }
  std::string Write(const std::string& name, const std::string& content) {
    std::ofstream(path / name) << content;
    return (path / name).string();
  }
};

TEST_CASE("a full sidecar is read") {
  TempDir dir;
  dir.Write("labels.txt", "cat\ndog\n");
  const std::string yaml = dir.Write("m.yaml",
                                     "name: pets\ninput_size: [64, 48]\nmean: [0.5, 0.5, 0.5]\n"
                                     "std: [0.25, 0.25, 0.25]\nlabels_file: labels.txt\ndefault_layer: features.3\n"
                                     "layer_layouts: {features.3: nhwc, blocks.1: tokens, blocks.2: class_token}\n");
  StatusOr<ModelSidecar> sidecar = LoadModelSidecar((dir.path / "m.pt").string(), yaml);
  REQUIRE(sidecar.ok());
  CHECK(sidecar->name == "pets");
  CHECK(sidecar->input_height_px == 64);
  CHECK(sidecar->input_width_px == 48);
  CHECK(sidecar->mean[1] == 0.5f);
  CHECK(sidecar->std[2] == 0.25f);
  CHECK(sidecar->labels == std::vector<std::string>{"cat", "dog"});
  CHECK(sidecar->LabelFor(1) == "dog");
  CHECK(sidecar->LabelFor(7) == "7");
  CHECK(sidecar->default_layer == "features.3");
  CHECK(sidecar->layer_layouts == std::map<std::string, LayerLayout>{{"features.3", LayerLayout::kNhwc},
                                                                     {"blocks.1", LayerLayout::kTokens},
                                                                     {"blocks.2", LayerLayout::kClassToken}});
}

TEST_CASE("a missing sidecar gives the documented defaults") {
  ModelSidecarDefaults defaults;
  defaults.input_height_px = 100;
  StatusOr<ModelSidecar> sidecar = LoadModelSidecar("/models/resnet.pt", "/models/resnet.yaml", defaults);
  REQUIRE(sidecar.ok());
  CHECK(sidecar->name == "resnet");
  CHECK(sidecar->input_height_px == 100);
  CHECK(sidecar->input_width_px == 224);
  CHECK(sidecar->mean[0] == Approx(0.485f));
  CHECK(sidecar->std[0] == Approx(0.229f));
  CHECK(sidecar->labels.empty());
  CHECK(sidecar->default_layer == "layer4");
  CHECK(SidecarPathFor("/models/resnet.pt") == "/models/resnet.yaml");
}

TEST_CASE("malformed sidecars name the file and key") {
  TempDir dir;
  struct Case {
    const char* content;
    const char* reason;
  };
  for (const Case& c :
       {Case{"input_size: [0, 5]", "'input_size' must hold sizes"},
        Case{"input_size: 224", "'input_size' must be [H, W]"}, Case{"mean: [1, 2]", "'mean' must be a list of 3"},
        Case{"std: [1, 0, 1]", "'std' has invalid value 0"},
        Case{"labels: [a]\nlabels_file: x.txt", "mutually exclusive"},
        Case{"labels_file: missing.txt", "cannot read labels_file"}, Case{"[not, a, map]", "is not a YAML mapping"},
        Case{"name: [unclosed", "m.yaml"},
        Case{"layer_layouts: {a: nchwc}",
             "'layer_layouts' has 'nchwc' for layer 'a'; use nchw, nhwc, tokens or class_token"},
        Case{"layer_layouts: [a]", "'layer_layouts' must map layer paths to layouts"}}) {
    INFO(c.content);
    const std::string yaml = dir.Write("m.yaml", c.content);
    StatusOr<ModelSidecar> sidecar = LoadModelSidecar((dir.path / "m.pt").string(), yaml);
    REQUIRE_FALSE(sidecar.ok());
    CHECK(sidecar.status().code() == StatusCode::kInvalidArgument);
    CHECK_THAT(sidecar.status().message(), Catch::Contains(c.reason) && Catch::Contains("m.yaml"));
  }
}

TEST_CASE("method names parse case-insensitively; unknown ones list the valid names") {
  CHECK(ParseCamMethod("").value() == CamMethodKind::kGradCam);
  CHECK(ParseCamMethod("GradCAM++").value() == CamMethodKind::kGradCamPlusPlus);
  for (CamMethodKind kind : AllCamMethods()) CHECK(ParseCamMethod(CamMethodName(kind)).value() == kind);
  CHECK(ParseCamMethod("ReciproCAM").value() == CamMethodKind::kReciproCam);
  StatusOr<CamMethodKind> bad = ParseCamMethod("smoothgrad");
  REQUIRE_FALSE(bad.ok());
  CHECK_THAT(bad.status().message(),
             Catch::Contains("valid methods: gradcam, gradcam++") && Catch::Contains("scorecam, reciprocam"));
  CHECK_FALSE(CamMethodUsesGradients(CamMethodKind::kEigenCam));
  for (CamMethodKind kind : {CamMethodKind::kAblationCam, CamMethodKind::kScoreCam, CamMethodKind::kReciproCam}) {
    CHECK(CamMethodPerturbs(kind));
    CHECK_FALSE(CamMethodUsesGradients(kind));
  }
  CHECK_FALSE(CamMethodPerturbs(CamMethodKind::kGradCam));
}

}  // namespace
}  // namespace camserve
