// CollectImagePaths: expands camserve-client's IMAGE_OR_FOLDER arguments
// into the list of images to explain.
//
// A file argument is taken as it is, whatever its extension (the server
// judges its content). A folder argument contributes the regular files
// directly inside it (not in subfolders) whose extension is .jpg, .jpeg or
// .png in any case, sorted by file name. The order of the arguments is kept.
//
// Thread-safety: a free function; reads the file system only.
// Errors: INVALID_ARGUMENT for no arguments or a folder without images;
// NOT_FOUND for a path that does not exist or cannot be listed. Each message
// names the path.
// Cost: one stat per argument and one listing per folder.
#pragma once

#include <string>
#include <vector>

#include "core/util/status.h"

namespace camserve {

StatusOr<std::vector<std::string>> CollectImagePaths(const std::vector<std::string>& arguments);

}  // namespace camserve
