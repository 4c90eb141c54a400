// camserve-explain: explains one image with the engine, no server involved.
// Prints the top-k classes and writes the heatmap (jet colormap) and an
// overlay on the image as PNG files at the image's own resolution.
//
//   camserve-explain --model build/models/digits_cnn.pt
//       --image build/models/digits_sample.png --out heatmap.png
#include <spdlog/spdlog.h>

#include <cstdio>
#include <fstream>
#include <iostream>
#include <sstream>

#include "core/engine/explainer_engine.h"
#include "core/image/heatmap_png.h"
#include "core/util/file_io.h"
#include "core/util/flag_parser.h"

namespace camserve {
namespace {

Status Run(int argc, char** argv) {
  FlagParser flags({{"model", "TorchScript model (.pt); its NAME.yaml sidecar is read if present"},
                    {"image", "JPEG or PNG image to explain"},
                    {"method", "gradcam (default), gradcam++, xgradcam, hirescam, layercam, eigencam"},
                    {"layer", "target layer path (default: the model's default layer)"},
                    {"class", "class to explain (default: the top-1 prediction)"},
                    {"top-k", "classes to print (default 5)"},
                    {"threads", "LibTorch intra-op threads (default 0 = all cores)"},
                    {"device", "auto (default), cpu, cuda[:N]"},
                    {"out", "heatmap PNG to write (default heatmap.png)"},
                    {"overlay", "overlay PNG to write (default overlay.png)"}});
  CAMSERVE_RETURN_IF_ERROR(flags.Parse(argc, argv));
  if (flags.help_requested() || !flags.Has("model") || !flags.Has("image")) {
    std::cout << flags.Usage("camserve-explain");
    return flags.help_requested() ? Status::Ok() : InvalidArgumentError("--model and --image are required");
  }
  EngineOptions options;
  options.model_path = flags.GetString("model", "");
  options.device = flags.GetString("device", "auto");
  StatusOr<int> threads = flags.GetInt("threads", 0);
  StatusOr<int> top_k = flags.GetInt("top-k", 5);
  if (!threads.ok()) return threads.status();
  if (!top_k.ok()) return top_k.status();
  options.intra_op_threads = *threads;
  StatusOr<CamMethodKind> method = ParseCamMethod(flags.GetString("method", "gradcam"));
  if (!method.ok()) return method.status();

  StatusOr<std::unique_ptr<ExplainerEngine>> engine = ExplainerEngine::Create(options);
  if (!engine.ok()) return engine.status();
  StatusOr<std::string> encoded = ReadFileBytes(flags.GetString("image", ""));
  if (!encoded.ok()) return encoded.status();
  StatusOr<DecodedImage> image = DecodeImage(*encoded);
  if (!image.ok()) return image.status();
  StatusOr<PreparedInput> input = (*engine)->preprocessor().FromDecodedImage(*image);
  if (!input.ok()) return input.status();

  ExplainItem item;
  item.input = &*input;
  item.top_k = *top_k;
  item.resolution = HeatmapResolution::kOriginal;
  if (flags.Has("class")) {
    StatusOr<int> target = flags.GetInt("class", 0);
    if (!target.ok()) return target.status();
    item.target_class = *target;
  }
  StatusOr<BatchResult> result = (*engine)->Explain(ExplainBatchSpec{*method, flags.GetString("layer", "")}, {item});
  if (!result.ok()) return result.status();
  const ExplainResult& explained = result->items[0];
  std::printf("model %s, method %s: explained class %d (%s), p=%.4f\n", (*engine)->info().name.c_str(),
              CamMethodName(*method), explained.target.class_index, explained.target.label.c_str(),
              explained.target.probability);
  for (const ClassScore& score : explained.top_k) {
    std::printf("  %-12s %6.4f\n", score.label.c_str(), score.probability);
  }
  std::printf("forward %.1f ms, backward %.1f ms, cam %.1f ms\n", result->timings.Micros(Stage::kForward) / 1e3,
              result->timings.Micros(Stage::kBackward) / 1e3, result->timings.Micros(Stage::kCam) / 1e3);

  const Heatmap& heatmap = explained.heatmap;
  for (const auto& [path, png] :
       {std::make_pair(flags.GetString("out", "heatmap.png"),
                       EncodeJetPng(heatmap.values, heatmap.width_px, heatmap.height_px)),
        std::make_pair(flags.GetString("overlay", "overlay.png"),
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
  camserve::Status status = camserve::Run(argc, argv);
  if (!status.ok()) {
    std::fprintf(stderr, "camserve-explain: %s\n", status.ToString().c_str());
    return 1;
  }
  return 0;
}
