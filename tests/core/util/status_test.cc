#include "core/util/status.h"

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <functional>
#include <string>

namespace camserve {
namespace {

Status FailsWhen(bool fail) {
  CAMSERVE_RETURN_IF_ERROR(fail ? InvalidArgumentError("bad") : Status::Ok());
  return NotFoundError("reached the end");
}

TEST_CASE("Status carries a code and message") {
  CHECK(Status::Ok().ok());
  CHECK(Status::Ok().ToString() == "OK");
  Status s = ResourceExhaustedError("queue full");
  CHECK_FALSE(s.ok());
  CHECK(s.code() == StatusCode::kResourceExhausted);
  CHECK(s.ToString() == "RESOURCE_EXHAUSTED: queue full");
}

TEST_CASE("RETURN_IF_ERROR returns the first error") {
  CHECK(FailsWhen(true).code() == StatusCode::kInvalidArgument);
  CHECK(FailsWhen(false).code() == StatusCode::kNotFound);
}

TEST_CASE("StatusOr holds a value or an error") {
  StatusOr<int> value = 7;
  REQUIRE(value.ok());
  CHECK(*value == 7);
  StatusOr<int> error = UnavailableError("down");
  CHECK_FALSE(error.ok());
  CHECK(error.status().code() == StatusCode::kUnavailable);
}

// Runs `body` in a child process; returns the signal that ended it (0 if it
// exited) and what it wrote to stderr.
std::pair<int, std::string> RunInChild(const std::function<void()>& body) {
  int pipe_fds[2];
  REQUIRE(pipe(pipe_fds) == 0);
  const pid_t pid = fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    dup2(pipe_fds[1], STDERR_FILENO);
    close(pipe_fds[0]);
    body();
    _exit(0);
  }
  close(pipe_fds[1]);
  std::string err;
  char buffer[256];
  for (ssize_t n; (n = read(pipe_fds[0], buffer, sizeof(buffer))) > 0;) err.append(buffer, static_cast<size_t>(n));
  close(pipe_fds[0]);
  int wait_status = 0;
  REQUIRE(waitpid(pid, &wait_status, 0) == pid);
  return {WIFSIGNALED(wait_status) ? WTERMSIG(wait_status) : 0, err};
}

TEST_CASE("reading the value of an error aborts with the error, in every build type") {
  const auto [value_signal, value_err] = RunInChild([] {
    StatusOr<int> error = UnavailableError("down");
    std::printf("%d", error.value());
  });
  CHECK(value_signal == SIGABRT);
  CHECK(value_err == "camserve: value() of a StatusOr holding UNAVAILABLE: down\n");

  const auto [arrow_signal, arrow_err] = RunInChild([] {
    StatusOr<std::string> error = NotFoundError("no such key");
    std::printf("%zu", error->size());
  });
  CHECK(arrow_signal == SIGABRT);
  CHECK(arrow_err == "camserve: value() of a StatusOr holding NOT_FOUND: no such key\n");

  const auto [fine_signal, fine_err] = RunInChild([] {
    StatusOr<int> value = 3;
    if (*value != 3) std::abort();
  });
  CHECK(fine_signal == 0);
  CHECK(fine_err.empty());
}

TEST_CASE("a StatusOr made from an OK Status is an INTERNAL error, not an empty value") {
  StatusOr<int> empty = Status::Ok();
  CHECK_FALSE(empty.ok());
  CHECK(empty.status().code() == StatusCode::kInternal);
  CHECK(empty.status().message() == "StatusOr constructed from an OK Status without a value");
}

}  // namespace
}  // namespace camserve
