// The explorer page's files (server/explorer/: index.html, explorer.css,
// explorer.js), embedded in the binary at build time by
// server/explorer/embed_assets.cmake and served by the HTTP API
// (server/http_gateway.h) at /<name>, index.html also at /.
//
// Thread-safety: immutable after the first call.
#pragma once

#include <string_view>
#include <vector>

namespace camserve {

struct ExplorerAsset {
  const char* path;          // "/index.html"
  const char* content_type;  // "text/html; charset=utf-8"
  std::string_view body;
};

const std::vector<ExplorerAsset>& ExplorerAssets();

}  // namespace camserve
