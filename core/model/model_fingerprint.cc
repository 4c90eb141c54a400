#include "core/model/model_fingerprint.h"

#include <fstream>
#include <vector>

#include "core/util/sha256.h"

namespace camserve {

StatusOr<std::string> ModelFingerprint(const std::string& model_path, const ModelSidecar& sidecar,
                                       const std::string& precision) {
  std::ifstream in(model_path, std::ios::binary);
  if (!in) return NotFoundError("cannot read model file " + model_path);
  Sha256 sha;
  std::vector<char> chunk(1 << 20);
  while (in) {
    in.read(chunk.data(), static_cast<std::streamsize>(chunk.size()));
    sha.Update(std::string_view(chunk.data(), static_cast<size_t>(in.gcount())));
  }
  if (in.bad()) return NotFoundError("error reading model file " + model_path);
  std::string preprocessing =
      "input_size=" + std::to_string(sidecar.input_height_px) + "x" + std::to_string(sidecar.input_width_px);
  for (int c = 0; c < 3; ++c) {
    preprocessing += ";mean" + std::to_string(c) + "=" + std::to_string(sidecar.mean[c]) + ";std" + std::to_string(c) +
                     "=" + std::to_string(sidecar.std[c]);
  }
  if (precision != "fp32") preprocessing += ";precision=" + precision;
  // A declared layout changes the maps of its layer.
  for (const auto& [layer, layout] : sidecar.layer_layouts) {
    preprocessing += ";layout:" + layer + "=" + LayerLayoutName(layout);
  }
  sha.UpdateField(preprocessing);
  return "sha256:" + ToHex(sha.Finish());
}

}  // namespace camserve
