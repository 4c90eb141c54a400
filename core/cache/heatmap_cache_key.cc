#include "core/cache/heatmap_cache_key.h"

#include "core/util/sha256.h"

namespace camserve {

HeatmapCacheKey MakeHeatmapCacheKey(const HeatmapCacheKeyFields& fields) {
  Sha256 sha;
  sha.UpdateField("camserve-heatmap-cache/" + std::to_string(kHeatmapCacheFormatVersion));
  sha.UpdateField(fields.model_fingerprint);
  sha.UpdateField(fields.method);
  sha.UpdateField(fields.target_layer);
  sha.UpdateField(fields.target_class ? std::to_string(*fields.target_class) : "top-1");
  sha.UpdateField(std::to_string(fields.top_k));
  sha.UpdateField(std::to_string(fields.resolution));
  sha.UpdateField(std::to_string(fields.encoding));
  sha.UpdateField("quality:" + std::to_string(fields.quality_steps));
  if (fields.tensor_shape.empty()) {
    sha.UpdateField("image");
    sha.UpdateField(fields.image_bytes);
  } else {
    std::string shape = "tensor";
    for (int64_t side : fields.tensor_shape) shape += ":" + std::to_string(side);
    sha.UpdateField(shape);
    sha.UpdateField(fields.tensor_bytes);
  }
  return sha.Finish();
}

}  // namespace camserve
