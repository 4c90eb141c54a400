// Tests for EncodeNpyFloat32: the exact bytes, the 64-byte alignment of the
// data, and that numpy.load reads back the same array.
#include "client/cli/npy_writer.h"

#include <catch2/catch.hpp>
#include <cmath>
#include <cstdlib>
#include <fstream>
#include <limits>
#include <string>
#include <vector>

#include "tests/temp_dir.h"

namespace camserve {
namespace {

constexpr size_t kPreambleBytes = 10;  // magic, version, header length

size_t HeaderLength(const std::string& npy) {
  return static_cast<unsigned char>(npy[8]) | static_cast<unsigned char>(npy[9]) << 8;
}

TEST_CASE("A 2x3 array has numpy's exact bytes", "[npy_writer]") {
  const std::vector<float> values = {0.0f, 1.0f, -2.0f, 0.5f, 0.25f, 1e-7f};
  const std::string npy = EncodeNpyFloat32(values.data(), 2, 3);

  // numpy 1.24's np.save(f, np.array(values, "<f4").reshape(2, 3)) header:
  // the dict (59 bytes), 58 spaces and '\n' make 118 = 0x76 bytes, so the
  // data starts at 10 + 118 = 128.
  const std::string expected_header = std::string("\x93NUMPY\x01\x00\x76\x00", 10) +
                                      "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }" +
                                      std::string(58, ' ') + "\n";
  REQUIRE(npy.size() == 128 + 4 * values.size());
  CHECK(npy.substr(0, 128) == expected_header);
  // Little-endian IEEE 754: 1.0f = 0x3f800000, -2.0f = 0xc0000000, 0.5f = 0x3f000000.
  CHECK(npy.substr(128, 16) == std::string("\x00\x00\x00\x00\x00\x00\x80\x3f\x00\x00\x00\xc0\x00\x00\x00\x3f", 16));
}

TEST_CASE("The data starts at a multiple of 64 bytes for any shape", "[npy_writer]") {
  for (const auto& [rows, cols] : {std::pair{0, 0}, std::pair{1, 1}, std::pair{28, 28}, std::pair{224, 0},
                                   std::pair{2147483647, 0}, std::pair{0, 2147483647}}) {
    const std::vector<float> zeros(static_cast<size_t>(rows) * static_cast<size_t>(cols));
    const std::string npy = EncodeNpyFloat32(zeros.data(), rows, cols);
    INFO(rows << "x" << cols);
    const size_t data_offset = kPreambleBytes + HeaderLength(npy);
    CHECK(data_offset % 64 == 0);
    CHECK(npy.size() == data_offset + 4 * zeros.size());
    CHECK(npy[data_offset - 1] == '\n');
    const std::string shape = "(" + std::to_string(rows) + ", " + std::to_string(cols) + ")";
    CHECK(npy.find("'shape': " + shape + ", }") != std::string::npos);
  }
}

TEST_CASE("Special values keep their bits", "[npy_writer]") {
  const std::vector<float> values = {std::numeric_limits<float>::infinity(), -0.0f,
                                     std::numeric_limits<float>::denorm_min()};
  const std::string npy = EncodeNpyFloat32(values.data(), 1, 3);
  CHECK(npy.substr(npy.size() - 12) == std::string("\x00\x00\x80\x7f\x00\x00\x00\x80\x01\x00\x00\x00", 12));
}

TEST_CASE("numpy.load reads the array back", "[npy_writer]") {
  const char* python = std::getenv("CAMSERVE_PYTHON");
  const std::string interpreter = python != nullptr && *python != '\0' ? python : "/usr/bin/python3";
  std::vector<float> values(7 * 5);
  for (size_t i = 0; i < values.size(); ++i) values[i] = std::sin(static_cast<float>(i)) * 1e3f;
  TempDir dir;
  const std::string npy = EncodeNpyFloat32(values.data(), 7, 5);
  std::ofstream(dir / "heatmap.npy", std::ios::binary).write(npy.data(), static_cast<std::streamsize>(npy.size()));
  // The same floats as raw native bytes (little-endian on every platform we build on).
  std::ofstream(dir / "heatmap.raw", std::ios::binary)
      .write(reinterpret_cast<const char*>(values.data()), static_cast<std::streamsize>(4 * values.size()));

  // Exit status 0 only if dtype, shape and every value's bits match.
  const std::string script =
      "import sys, numpy\n"
      "a = numpy.load(sys.argv[1])\n"
      "expected = numpy.fromfile(sys.argv[2], dtype=\"<f4\").reshape(7, 5)\n"
      "ok = a.dtype == numpy.dtype(\"<f4\") and a.shape == (7, 5) and a.tobytes() == expected.tobytes()\n"
      "sys.exit(0 if ok else 1)\n";
  const std::string command =
      interpreter + " -c '" + script + "' " + (dir / "heatmap.npy") + " " + (dir / "heatmap.raw");
  CHECK(std::system(command.c_str()) == 0);
}

}  // namespace
}  // namespace camserve
