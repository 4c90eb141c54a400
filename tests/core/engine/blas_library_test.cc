#include "core/engine/blas_library.h"

#include <torch/torch.h>

#include <cstdio>
#include <filesystem>
#include <string>

#include <catch2/catch.hpp>

#include "tests/shell_command.h"

namespace camserve {
namespace {

// Debian's reference BLAS (package libblas3), which the alternatives system
// hides behind libblas.so.3 once an optimised BLAS is installed.
constexpr char kReferenceBlasDir[] = "/usr/lib/x86_64-linux-gnu/blas";

}  // namespace

// Run in a child process by the test below, with another libblas.so.3 first
// on the library path; hidden from normal runs by the "." tag.
TEST_CASE("print the detected BLAS", "[.blas_probe]") {
  const BlasLibrary blas = DetectBlasLibrary();
  std::printf("blas_probe: %s | reference=%d\n", blas.description.c_str(), blas.is_reference ? 1 : 0);
}

TEST_CASE("LibTorch's BLAS here is OpenBLAS (scripts/install_deps.sh installs libopenblas0-serial)") {
  // A matrix product through LibTorch makes sure the BLAS is in use, not
  // only linked.
  const at::Tensor product = at::mm(at::ones({64, 64}), at::ones({64, 64}));
  REQUIRE(product[0][0].item<float>() == 64.f);
  const BlasLibrary blas = DetectBlasLibrary();
  INFO(blas.description);
  CHECK_FALSE(blas.is_reference);
  CHECK(blas.description.rfind("OpenBLAS ", 0) == 0);
}

TEST_CASE("the reference BLAS is detected as such") {
  if (!std::filesystem::exists(std::string(kReferenceBlasDir) + "/libblas.so.3")) {
    WARN("no reference BLAS at " << kReferenceBlasDir << " (package libblas3): nothing to detect");
    return;
  }
  const std::string self = std::filesystem::read_symlink("/proc/self/exe").string();
  std::string output;
  REQUIRE(testing::RunShellCommand(
              "LD_LIBRARY_PATH=" + std::string(kReferenceBlasDir) + " '" + self + "' '[.blas_probe]'", &output) == 0);
  INFO(output);
  CHECK(output.find("blas_probe: the reference BLAS (" + std::string(kReferenceBlasDir) + "/libblas.so.3") !=
        std::string::npos);
  CHECK(output.find("| reference=1") != std::string::npos);
}

}  // namespace camserve
