#include "core/util/file_io.h"

#include <cerrno>
#include <cstring>
#include <fstream>
#include <iterator>

namespace camserve {

StatusOr<std::string> ReadFileBytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return NotFoundError("cannot read " + path + ": " + std::strerror(errno));
  std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (in.bad()) return NotFoundError("cannot read " + path + ": " + std::strerror(errno));
  return bytes;
}

Status WriteFileBytes(const std::string& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  if (out) out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  out.close();
  if (!out) return FailedPreconditionError("cannot write " + path + ": " + std::strerror(errno));
  return Status::Ok();
}

}  // namespace camserve
