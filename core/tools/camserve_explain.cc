// camserve-explain: explains one image with the engine, no server involved.
// Prints the top-k classes and writes the heatmap (jet colormap) and an
// overlay on the image as PNG files at the image's own resolution.
//
//   camserve-explain --model build/models/digits_cnn.pt
//       --image build/models/digits_sample.png --out heatmap.png
#include <spdlog/spdlog.h>

#include <cstdio>
#include <iostream>

#include "core/engine/explainer_engine.h"
#include "core/image/heatmap_png.h"
#include "core/util/command_line.h"
#include "core/util/file_io.h"

namespace camserve {
namespace {

struct ExplainToolOptions {
  // --model (required), --device.
  EngineOptions engine;
  // --threads.
  TorchProcessOptions torch;
  // --image: the JPEG or PNG to explain. Required.
  std::string image_path;
  // --method, --layer.
  ExplainBatchSpec spec;
  // --class, --top-k.
  ExplainItem item;
  // --out, --overlay: the PNG files written.
  std::string heatmap_path = "heatmap.png";
  std::string overlay_path = "overlay.png";
};

void AddFlags(CLI::App& app, ExplainToolOptions* options) {
  app.add_option("--model", options->engine.model_path,
                 "TorchScript model (.pt); its NAME.yaml sidecar is read if present")
      ->required();
  app.add_option("--image", options->image_path, "JPEG or PNG image to explain")->required();
  std::vector<std::pair<std::string, CamMethodKind>> methods;
  for (CamMethodKind kind : AllCamMethods()) methods.emplace_back(CamMethodName(kind), kind);
  AddChoiceOption(app, "--method", &options->spec.method, methods, "CAM method");
  app.add_option("--layer", options->spec.target_layer, "target layer path (default: the model's default layer)");
  app.add_option("--class", options->item.target_class, "class to explain (default: the top-1 prediction)");
  app.add_option("--top-k", options->item.top_k, "classes to print")->check(NonNegative())->capture_default_str();
  app.add_option("--threads", options->torch.intra_op_threads, "LibTorch intra-op threads; 0: all cores")
      ->check(NonNegative())
      ->capture_default_str();
  app.add_option("--device", options->engine.device, "auto (CUDA when available), cpu, cuda, cuda:N")
      ->capture_default_str();
  app.add_option("--out", options->heatmap_path, "heatmap PNG to write")->capture_default_str();
  app.add_option("--overlay", options->overlay_path, "overlay PNG to write")->capture_default_str();
}

Status Run(const ExplainToolOptions& options) {
  ConfigureTorchProcess(options.torch);
  StatusOr<std::unique_ptr<ExplainerEngine>> engine = ExplainerEngine::Create(options.engine);
  if (!engine.ok()) return engine.status();
  StatusOr<std::string> encoded = ReadFileBytes(options.image_path);
  if (!encoded.ok()) return encoded.status();
  StatusOr<DecodedImage> image = DecodeImage(*encoded);
  if (!image.ok()) return image.status();
  StatusOr<PreparedInput> input = (*engine)->preprocessor().FromDecodedImage(*image);
  if (!input.ok()) return input.status();

  ExplainItem item = options.item;
  item.input = &*input;
  item.resolution = HeatmapResolution::kOriginal;
  StatusOr<BatchResult> result = (*engine)->Explain(options.spec, {item});
  if (!result.ok()) return result.status();
  const ExplainResult& explained = result->items[0];
  std::printf("model %s, method %s: explained class %d (%s), p=%.4f\n", (*engine)->info().name.c_str(),
              CamMethodName(options.spec.method), explained.target.class_index, explained.target.label.c_str(),
              explained.target.probability);
  for (const ClassScore& score : explained.top_k) {
    std::printf("  %-12s %6.4f\n", score.label.c_str(), score.probability);
  }
  std::printf("forward %.1f ms, backward %.1f ms, cam %.1f ms\n", result->timings.Micros(Stage::kForward) / 1e3,
              result->timings.Micros(Stage::kBackward) / 1e3, result->timings.Micros(Stage::kCam) / 1e3);

  const Heatmap& heatmap = explained.heatmap;
  for (const auto& [path, png] :
       {std::make_pair(options.heatmap_path, EncodeJetPng(heatmap.values, heatmap.width_px, heatmap.height_px)),
        std::make_pair(options.overlay_path,
                       EncodeJetOverlayPng(heatmap.values, image->rgb.data(), heatmap.width_px, heatmap.height_px))}) {
    if (!png.ok()) return png.status();
    CAMSERVE_RETURN_IF_ERROR(WriteFileBytes(path, *png));
    std::printf("wrote %s (%dx%d)\n", path.c_str(), heatmap.width_px, heatmap.height_px);
  }
  return Status::Ok();
}

}  // namespace
}  // namespace camserve

int main(int argc, char** argv) {
  return camserve::RunCommandLineTool<camserve::ExplainToolOptions>(
      "camserve-explain", "camserve-explain: explains one image with the engine, no server", camserve::AddFlags, argc,
      argv, camserve::Run);
}
