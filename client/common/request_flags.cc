#include "client/common/request_flags.h"

#include "core/util/command_line.h"

namespace camserve {
namespace {

CLI::Validator NotEmpty() {
  return CLI::Validator([](std::string& text) { return text.empty() ? "must not be empty" : std::string(); }, "");
}

}  // namespace

void AddRequestFlags(CLI::App& app, RequestFlags* flags) {
  app.add_option("--addr", flags->address, "camserve's gRPC address HOST:PORT")
      ->check(NotEmpty())
      ->capture_default_str();
  app.add_option("--deadline-ms", flags->deadline_ms, "deadline of each RPC, milliseconds")
      ->check(Positive())
      ->capture_default_str();
  app.add_option("--model", flags->model, "model name (default: the server's default model)");
  app.add_option("--method", flags->method,
                 "gradcam, gradcam++, xgradcam, hirescam, layercam, eigencam, ablationcam, scorecam, reciprocam "
                 "(default: the server's)");
  app.add_option("--layer", flags->layer, "target layer path (default: the model's default layer)");
  app.add_option("--class", flags->target_class, "class to explain (default: the top-1 prediction)");
  app.add_option("--top-k", flags->top_k, "top classes to return; 0: the server's default")
      ->check(NonNegative())
      ->capture_default_str();
  AddChoiceOption<v1::HeatmapResolution>(app, "--resolution", &flags->resolution,
                                         {{"input", v1::HEATMAP_RESOLUTION_INPUT},
                                          {"feature", v1::HEATMAP_RESOLUTION_FEATURE},
                                          {"original", v1::HEATMAP_RESOLUTION_ORIGINAL}},
                                         "heatmap size: the model input's, the target layer's or the image's");
  app.add_option("--bypass-cache", flags->bypass_cache, "skip the server's cache lookup and store")
      ->default_str(BoolText(flags->bypass_cache));
  app.add_option("--evaluate", flags->evaluate,
                 "also score the explanation (confidence drop, deletion and insertion AUC; docs/quality.md)")
      ->default_str(BoolText(flags->evaluate));
  AddConnectionFlags(app, &flags->connection);
}

v1::ExplainRequest RequestTemplateFromFlags(const RequestFlags& flags) {
  v1::ExplainRequest request;
  request.set_model(flags.model);
  request.set_method(flags.method);
  request.set_target_layer(flags.layer);
  if (flags.target_class.has_value()) request.set_target_class(*flags.target_class);
  request.set_top_k(flags.top_k);
  request.set_resolution(flags.resolution);
  request.set_bypass_cache(flags.bypass_cache);
  request.set_evaluate(flags.evaluate);
  return request;
}

}  // namespace camserve
