// The flags camserve-client and camserve-bench share, defined once so that
// both tools spell, check and document them the same way:
//   --addr HOST:PORT  --deadline-ms MS
//   --model NAME  --method NAME  --layer PATH  --class N  --top-k N
//   --resolution input|feature|original  --bypass-cache true|false
//   --evaluate true|false
//   and the connection flags (TLS, token: client/common/connection_flags.h)
//
// A tool sets its own defaults in RequestFlags before AddRequestFlags, and
// the help shows those.
//
// Thread-safety: free functions on values.
#pragma once

#include <CLI/CLI.hpp>
#include <optional>
#include <string>

#include "camserve/v1/explainer.pb.h"
#include "client/common/connection_flags.h"

namespace camserve {

struct RequestFlags {
  // --addr: camserve's gRPC address, HOST:PORT; must not be empty.
  // Default: 127.0.0.1:50051.
  std::string address = "127.0.0.1:50051";
  // --deadline-ms: deadline of each RPC, milliseconds, > 0. Default: 60000.
  int deadline_ms = 60000;
  // --model: empty asks for the server's default model. Default: empty.
  std::string model;
  // --method: gradcam, gradcam++, ... (the server checks the name); empty
  // asks for gradcam. Default: empty.
  std::string method;
  // --layer: dotted target layer path; empty asks for the model's default
  // layer. Default: empty.
  std::string layer;
  // --class: the class to explain; none asks for the top-1 prediction.
  std::optional<int> target_class;
  // --top-k: how many top classes to return, >= 0; 0 asks for the server's
  // default (5). Default: 0.
  int top_k = 0;
  // --resolution. Default: INPUT, the API's.
  v1::HeatmapResolution resolution = v1::HEATMAP_RESOLUTION_INPUT;
  // --bypass-cache: skip the server's cache lookup and store. Default: false.
  bool bypass_cache = false;
  // --evaluate: ask for the quality scores. Default: false.
  bool evaluate = false;
  // --tls*, --token-file: how to connect to --addr.
  ConnectionFlags connection;
};

// Adds the flags above to `app`, bound to `flags`, whose current values are
// the defaults the help shows.
void AddRequestFlags(CLI::App& app, RequestFlags* flags);

// An ExplainRequest with every option the flags set, and no input yet.
v1::ExplainRequest RequestTemplateFromFlags(const RequestFlags& flags);

}  // namespace camserve
