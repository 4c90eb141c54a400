#include "client/cli/image_inputs.h"

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <system_error>

namespace camserve {
namespace {

namespace fs = std::filesystem;

bool HasImageExtension(const fs::path& path) {
  std::string extension = path.extension().string();
  std::transform(extension.begin(), extension.end(), extension.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return extension == ".jpg" || extension == ".jpeg" || extension == ".png";
}

StatusOr<std::vector<std::string>> ImagesInFolder(const fs::path& folder) {
  std::error_code error;
  fs::directory_iterator entries(folder, error);
  if (error) return NotFoundError("cannot list folder " + folder.string() + ": " + error.message());
  std::vector<std::string> images;
  for (const fs::directory_entry& entry : entries) {
    if (entry.is_regular_file(error) && HasImageExtension(entry.path())) images.push_back(entry.path().string());
  }
  if (images.empty()) {
    return InvalidArgumentError("folder " + folder.string() + " holds no .jpg, .jpeg or .png files");
  }
  std::sort(images.begin(), images.end());
  return images;
}

}  // namespace

StatusOr<std::vector<std::string>> CollectImagePaths(const std::vector<std::string>& arguments) {
  if (arguments.empty()) return InvalidArgumentError("no images or folders given");
  std::vector<std::string> images;
  for (const std::string& argument : arguments) {
    std::error_code error;
    const fs::file_status status = fs::status(argument, error);
    if (!fs::exists(status)) return NotFoundError("no such file or folder: " + argument);
    if (!fs::is_directory(status)) {
      images.push_back(argument);
      continue;
    }
    StatusOr<std::vector<std::string>> in_folder = ImagesInFolder(argument);
    if (!in_folder.ok()) return in_folder.status();
    images.insert(images.end(), in_folder->begin(), in_folder->end());
  }
  return images;
}

}  // namespace camserve
