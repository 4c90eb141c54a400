#include "client/common/request_flags.h"

namespace camserve {

std::map<std::string, std::string> RequestFlagHelp() {
  return {{"model", "model name (default: the server's default model)"},
          {"method", "gradcam (default), gradcam++, xgradcam, hirescam, layercam, eigencam"},
          {"layer", "target layer path (default: the model's default layer)"},
          {"class", "class to explain (default: the top-1 prediction)"},
          {"top-k", "top classes to return (default: the server's, 5)"},
          {"resolution", "heatmap size: input (default), feature, original"},
          {"bypass-cache", "true: skip the server's cache (default false)"}};
}

namespace {

StatusOr<v1::HeatmapResolution> ParseResolution(const std::string& name) {
  if (name == "input") return v1::HEATMAP_RESOLUTION_INPUT;
  if (name == "feature") return v1::HEATMAP_RESOLUTION_FEATURE;
  if (name == "original") return v1::HEATMAP_RESOLUTION_ORIGINAL;
  return InvalidArgumentError("--resolution: '" + name + "' is not one of input, feature, original");
}

StatusOr<bool> ParseBool(const std::string& flag, const std::string& value) {
  if (value == "true" || value == "1") return true;
  if (value == "false" || value == "0") return false;
  return InvalidArgumentError("--" + flag + ": '" + value + "' is not true or false");
}

}  // namespace

StatusOr<v1::ExplainRequest> RequestTemplateFromFlags(const FlagParser& flags) {
  v1::ExplainRequest request;
  request.set_model(flags.GetString("model", ""));
  request.set_method(flags.GetString("method", ""));
  request.set_target_layer(flags.GetString("layer", ""));
  if (flags.Has("class")) {
    StatusOr<int> target = flags.GetInt("class", 0);
    if (!target.ok()) return target.status();
    request.set_target_class(*target);
  }
  StatusOr<int> top_k = flags.GetInt("top-k", 0);
  if (!top_k.ok()) return top_k.status();
  if (*top_k < 0) return InvalidArgumentError("--top-k: must be >= 0; was " + std::to_string(*top_k));
  request.set_top_k(*top_k);
  StatusOr<v1::HeatmapResolution> resolution = ParseResolution(flags.GetString("resolution", "input"));
  if (!resolution.ok()) return resolution.status();
  request.set_resolution(*resolution);
  StatusOr<bool> bypass = ParseBool("bypass-cache", flags.GetString("bypass-cache", "false"));
  if (!bypass.ok()) return bypass.status();
  request.set_bypass_cache(*bypass);
  return request;
}

}  // namespace camserve
