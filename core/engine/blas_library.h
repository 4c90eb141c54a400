// Which BLAS library serves LibTorch's matrix products in this process.
//
// LibTorch runs convolutions in oneDNN, but other matrix products (a fully
// connected layer, the backward over a classifier head) go to the BLAS it
// was linked against. Debian's LibTorch links the generic libblas.so.3, and
// Debian resolves that to the reference BLAS (package libblas3) unless an
// optimised one is installed, which makes the backward over a classifier head
// several times slower (docs/benchmarks.md, "BLAS"). scripts/install_deps.sh
// installs libopenblas0-serial. The server logs the result at start and warns
// on the reference BLAS.
//
// Thread-safety: may be called from any thread. Errors: none; an unknown
// library is reported as such.
#pragma once

#include <string>

namespace camserve {

struct BlasLibrary {
  // e.g. "OpenBLAS 0.3.21 NO_LAPACKE DYNAMIC_ARCH NO_AFFINITY Zen
  // SINGLE_THREADED (/usr/lib/x86_64-linux-gnu/openblas-serial/libblas.so.3)",
  // "the reference BLAS (/usr/lib/x86_64-linux-gnu/blas/libblas.so.3.11.0)",
  // "unidentified (PATH)" or "built into LibTorch".
  std::string description;
  // True when the loaded libblas.so is Debian's reference BLAS: slow, worth
  // a warning.
  bool is_reference = false;
};

// Inspects the libraries loaded in this process. Call after LibTorch is
// loaded (any time in a binary linked against it).
BlasLibrary DetectBlasLibrary();

}  // namespace camserve
