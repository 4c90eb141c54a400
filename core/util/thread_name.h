// Names the calling thread, as `top -H`, `ps -T`, perf, gdb and
// /proc/PID/task/TID/comm show it, so that an operator can tell camserve's
// batch workers from its completion threads and gRPC's.
//
// Thread-safety: names only the calling thread; safe from any thread.
// Errors: none. Linux keeps at most 15 bytes: a longer name is cut there.
// Elsewhere the call does nothing.
#pragma once

#include <string>

namespace camserve {

void SetCurrentThreadName(const std::string& name);

// The calling thread's name (empty where it cannot be read).
std::string CurrentThreadName();

}  // namespace camserve
