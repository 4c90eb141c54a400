#include "client/cli/client_options.h"

namespace camserve {

void AddClientFlags(CLI::App& app, ClientOptions* options) {
  AddRequestFlags(app, &options->request);
  app.add_option("--out", options->out_dir, "folder for STEM.heatmap.png, STEM.overlay.png, STEM.npy")
      ->capture_default_str();
  app.add_option("--concurrency", options->concurrency, "requests in flight at once, so the server can batch them")
      ->check(Positive())
      ->capture_default_str();
  app.add_flag("--info", options->info, "print the served models (only --model's if given), layers, methods");
  app.add_flag("--health", options->health,
               "only check the gRPC health service (no token needed); exit 0 when SERVING");
  app.add_option("IMAGE_OR_FOLDER", options->inputs,
                 "JPEG/PNG images to explain; a folder stands for its .jpg/.jpeg/.png files");
  app.callback([options] {
    if (options->inputs.empty() && !options->info && !options->health) {
      throw CLI::ValidationError("give IMAGE_OR_FOLDER..., --info or --health");
    }
  });
}

StatusOr<ParsedCommandLine<ClientOptions>> ParseClientCommandLine(int argc, const char* const* argv) {
  return ParseOptions<ClientOptions>("camserve-client", "camserve-client: explains images with a running camserve",
                                     AddClientFlags, argc, argv);
}

}  // namespace camserve
