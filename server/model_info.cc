#include "server/model_info.h"

#include <vector>

namespace camserve {

Status FillModelInfo(const ModelRegistry& registry, const std::string& model, v1::GetModelInfoResponse* response) {
  if (!model.empty()) {
    StatusOr<ModelRunner*> found = registry.Find(model);
    if (!found.ok()) return found.status();
  }
  const std::vector<ModelRunner*> runners = registry.runners();
  const std::vector<std::string>& names = registry.names();
  for (size_t i = 0; i < runners.size(); ++i) {
    if (!model.empty() && names[i] != model) continue;
    const ModelInfo& info = runners[i]->info();
    v1::ModelInfo* out = response->add_models();
    out->set_name(names[i]);
    out->set_version(runners[i]->version());
    out->set_device(info.device);
    out->set_input_height(info.input_height_px);
    out->set_input_width(info.input_width_px);
    out->set_num_classes(info.num_classes);
    for (const std::string& layer : runners[i]->usable_layers()) out->add_target_layers(layer);
    out->set_default_layer(info.default_layer);
    for (CamMethodKind method : AllCamMethods()) out->add_methods(CamMethodName(method));
    out->set_is_default(names[i] == registry.default_model());
    out->set_precision(info.precision);
    for (const LayerExecution& layer : runners[i]->prepared_layers()) {
      v1::PreparedLayer* prepared = out->add_prepared_layers();
      prepared->set_layer(layer.layer);
      prepared->set_optimized(layer.optimized);
      prepared->set_precision(layer.precision);
      prepared->set_map_difference(layer.map_difference);
      prepared->set_probability_difference(layer.probability_difference);
      prepared->set_note(layer.note);
    }
  }
  return Status::Ok();
}

}  // namespace camserve
