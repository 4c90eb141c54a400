#include "core/engine/blas_library.h"

#include <dlfcn.h>
#include <link.h>

#include <climits>
#include <cstdlib>
#include <cstring>

namespace camserve {
namespace {

// Part of the path where Debian's package libblas3 installs the reference BLAS.
constexpr char kDebianReferenceBlasPathPart[] = "/x86_64-linux-gnu/blas/libblas.so";

struct LoadedObject {
  std::string name;           // as the loader knows it
  std::string resolved_path;  // symlinks resolved (Debian's alternatives)
};

// The first loaded object whose file name starts with "libblas.so"; empty
// name when there is none.
LoadedObject LoadedGenericBlas() {
  LoadedObject found;
  dl_iterate_phdr(
      [](dl_phdr_info* info, size_t, void* out) {
        const char* name = info->dlpi_name;
        if (name == nullptr || *name == '\0') return 0;
        const char* slash = std::strrchr(name, '/');
        const char* base = slash ? slash + 1 : name;
        if (std::strncmp(base, "libblas.so", 10) != 0) return 0;
        char resolved[PATH_MAX];
        auto* object = static_cast<LoadedObject*>(out);
        object->name = name;
        object->resolved_path = realpath(name, resolved) ? resolved : name;
        return 1;
      },
      &found);
  return found;
}

// Looks `symbol` up in `library` itself (and its dependencies), not in the
// whole process: an OpenBLAS LAPACK loaded beside the reference BLAS exports
// OpenBLAS's identification symbols.
void* FindSymbolIn(void* library, const char* symbol) { return library ? dlsym(library, symbol) : nullptr; }

}  // namespace

BlasLibrary DetectBlasLibrary() {
  const LoadedObject blas = LoadedGenericBlas();
  if (blas.name.empty()) {
    // No generic libblas.so loaded: LibTorch carries its own (the PyPI and
    // pytorch.org builds link MKL statically).
    return {"built into LibTorch", false};
  }
  const std::string where = " (" + blas.resolved_path + ")";
  void* library = dlopen(blas.name.c_str(), RTLD_LAZY | RTLD_NOLOAD);
  BlasLibrary result;
  if (auto openblas_config = reinterpret_cast<char* (*)()>(FindSymbolIn(library, "openblas_get_config"))) {
    result = {std::string(openblas_config()) + where, false};  // starts "OpenBLAS x.y.z"
  } else if (FindSymbolIn(library, "mkl_get_version") || FindSymbolIn(library, "MKL_Get_Version")) {
    result = {"Intel MKL" + where, false};
  } else if (blas.resolved_path.find(kDebianReferenceBlasPathPart) != std::string::npos) {
    result = {"the reference BLAS" + where, true};
  } else {
    result = {"unidentified" + where, false};  // BLIS and others export BLAS symbols only
  }
  if (library) dlclose(library);
  return result;
}

}  // namespace camserve
