// Thread names as the kernel keeps them (/proc/self/task/TID/comm).

#include "core/util/thread_name.h"

#include <sys/syscall.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <fstream>
#include <string>
#include <thread>

namespace camserve {
namespace {

// What `top -H` and perf show for the calling thread.
std::string KernelThreadName() {
  std::ifstream comm("/proc/self/task/" + std::to_string(syscall(SYS_gettid)) + "/comm");
  std::string name;
  std::getline(comm, name);
  return name;
}

TEST_CASE("a thread's name is what the kernel shows; a long one is cut at 15 bytes") {
  std::string short_name, short_kernel, long_name, long_kernel;
  std::thread([&] {
    SetCurrentThreadName("completion-1");
    short_name = CurrentThreadName();
    short_kernel = KernelThreadName();
    SetCurrentThreadName("a-name-of-twenty-bytes");
    long_name = CurrentThreadName();
    long_kernel = KernelThreadName();
  }).join();
  CHECK(short_name == "completion-1");
  CHECK(short_kernel == "completion-1");
  CHECK(long_name == "a-name-of-twent");
  CHECK(long_kernel == "a-name-of-twent");
}

}  // namespace
}  // namespace camserve
