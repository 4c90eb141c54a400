// Whole-file reads and writes for the tools and clients (images, heatmaps,
// reports), with errors that name the path and the system's reason.
//
// Thread-safety: free functions; concurrent calls on different paths are safe.
// Errors: ReadFileBytes NOT_FOUND ("cannot read PATH: No such file or
// directory"); WriteFileBytes FAILED_PRECONDITION ("cannot write PATH: ...").
#pragma once

#include <string>

#include "core/util/status.h"

namespace camserve {

StatusOr<std::string> ReadFileBytes(const std::string& path);

// Creates or truncates `path` and writes `bytes`.
Status WriteFileBytes(const std::string& path, const std::string& bytes);

}  // namespace camserve
