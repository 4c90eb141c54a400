// Running a shell command from a test and reading what it printed.
// Thread-safe as popen is; a failure to start the shell fails the test.
#pragma once

#include <sys/wait.h>

#include <catch2/catch.hpp>
#include <cstdio>
#include <string>

namespace camserve::testing {

// Runs `command` with /bin/sh, stderr merged into stdout; returns its exit
// code (128 when it did not exit normally) with everything it printed in
// `output`.
inline int RunShellCommand(const std::string& command, std::string* output) {
  FILE* pipe = popen((command + " 2>&1").c_str(), "r");
  REQUIRE(pipe != nullptr);
  char buffer[4096];
  output->clear();
  for (size_t n; (n = fread(buffer, 1, sizeof(buffer), pipe)) > 0;) output->append(buffer, n);
  const int status = pclose(pipe);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128;
}

}  // namespace camserve::testing
