#include "client/cli/npy_writer.h"

#include <cstdint>
#include <cstring>

namespace camserve {
namespace {

constexpr char kMagic[] = "\x93NUMPY\x01\x00";  // magic and version 1.0
constexpr size_t kMagicBytes = 8;
constexpr size_t kHeaderLengthBytes = 2;
constexpr size_t kDataAlignmentBytes = 64;

// The header dict, padded with spaces to the alignment and ended by '\n'.
std::string PaddedHeader(int rows, int cols) {
  std::string header = "{'descr': '<f4', 'fortran_order': False, 'shape': (" + std::to_string(rows) + ", " +
                       std::to_string(cols) + "), }";
  const size_t unpadded = kMagicBytes + kHeaderLengthBytes + header.size() + 1;
  const size_t padding = (kDataAlignmentBytes - unpadded % kDataAlignmentBytes) % kDataAlignmentBytes;
  header.append(padding, ' ');
  header.push_back('\n');
  return header;
}

void AppendLittleEndian(uint32_t bits, int bytes, std::string* out) {
  for (int i = 0; i < bytes; ++i) out->push_back(static_cast<char>((bits >> (8 * i)) & 0xff));
}

}  // namespace

std::string EncodeNpyFloat32(const float* values, int rows, int cols) {
  const std::string header = PaddedHeader(rows, cols);
  const size_t count = static_cast<size_t>(rows) * static_cast<size_t>(cols);
  std::string npy(kMagic, kMagicBytes);
  npy.reserve(kMagicBytes + kHeaderLengthBytes + header.size() + 4 * count);
  AppendLittleEndian(static_cast<uint32_t>(header.size()), kHeaderLengthBytes, &npy);
  npy += header;
  for (size_t i = 0; i < count; ++i) {
    uint32_t bits;
    std::memcpy(&bits, &values[i], sizeof bits);
    AppendLittleEndian(bits, 4, &npy);
  }
  return npy;
}

}  // namespace camserve
