// ClientOptions: camserve-client's command line, defined and checked in one
// place (on CLI11) so that the binary, its --help and its tests agree on
// every flag. The defaults are the initial values of ClientOptions.
//
//   camserve-client [--addr HOST:PORT] [request flags] [connection flags]
//                   [--out DIR] [--concurrency N] [--deadline-ms MS]
//                   [--info] [--health] IMAGE_OR_FOLDER...
//
// Flags and IMAGE_OR_FOLDER arguments may come in any order; everything
// after "--" is an IMAGE_OR_FOLDER even if it starts with "-". --info and
// --health take no value (--info=false turns it off).
//
// Thread-safety: free functions on values.
// Errors: INVALID_ARGUMENT whose message names the flag ("--concurrency:
// must be > 0; was 0", "unknown flag --speed"), or "give IMAGE_OR_FOLDER...,
// --info or --health" when there is nothing to do. Paths are not looked at here.
#pragma once

#include <CLI/CLI.hpp>
#include <string>
#include <vector>

#include "client/common/request_flags.h"
#include "core/util/command_line.h"
#include "core/util/status.h"

namespace camserve {

struct ClientOptions {
  // The flags shared with camserve-bench: --addr, --deadline-ms (of each RPC
  // and of connecting) and the request's options. Here the resolution
  // defaults to ORIGINAL, so that the heatmap, the overlay and the image
  // line up pixel for pixel.
  RequestFlags request = [] {
    RequestFlags flags;
    flags.resolution = v1::HEATMAP_RESOLUTION_ORIGINAL;
    return flags;
  }();
  // --out: folder for STEM.heatmap.png, STEM.overlay.png and STEM.npy;
  // created if missing. Default: ".".
  std::string out_dir = ".";
  // --concurrency: requests in flight at once, > 0, so that the server can
  // batch them. Default: 4.
  int concurrency = 4;
  // --info: print the served models (only --model's if given). Default: off.
  bool info = false;
  // --health: ask the gRPC health service (no token needed) whether
  // camserve.v1.Explainer is SERVING, and do nothing else. Default: off.
  bool health = false;
  // IMAGE_OR_FOLDER...: as given; image_inputs.h expands the folders.
  std::vector<std::string> inputs;
};

// Adds every camserve-client flag and the IMAGE_OR_FOLDER arguments to
// `app`, bound to `options`, whose current values are the defaults the help
// shows.
void AddClientFlags(CLI::App& app, ClientOptions* options);

// camserve-client's command line: the options, or the help for --help.
StatusOr<ParsedCommandLine<ClientOptions>> ParseClientCommandLine(int argc, const char* const* argv);

}  // namespace camserve
