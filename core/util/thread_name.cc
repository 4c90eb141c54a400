#include "core/util/thread_name.h"

#include <pthread.h>

namespace camserve {

namespace {
// Linux's limit: 16 bytes with the terminating NUL.
constexpr size_t kMaxNameBytes = 15;
}  // namespace

void SetCurrentThreadName(const std::string& name) {
#ifdef __linux__
  pthread_setname_np(pthread_self(), name.substr(0, kMaxNameBytes).c_str());
#else
  (void)name;
#endif
}

std::string CurrentThreadName() {
#ifdef __linux__
  char name[kMaxNameBytes + 1] = {};
  if (pthread_getname_np(pthread_self(), name, sizeof(name)) == 0) return name;
#endif
  return "";
}

}  // namespace camserve
