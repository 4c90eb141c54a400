// ServerProcess: starts the real `camserve` binary for integration tests, on
// a free loopback port chosen by the kernel (--listen 127.0.0.1:0), and stops
// it. The server's log (stderr) is captured line by line so tests can wait
// for and assert on log lines (the access log in particular).
//
// The binary is found through the CAMSERVE_SERVER_BINARY environment variable
// (set by ctest for every test that links this library).
//
// Thread-safety: one test thread owns the object; log accessors are safe to
// call while the reader thread appends.
// Errors: Start returns the reason the server did not come up (exit code and
// the last log lines) instead of hanging: it waits at most
// `startup_timeout_ms` for the "listening on" line.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "core/util/status.h"

namespace camserve {

class ServerProcess {
 public:
  struct Options {
    // Flags after the binary name; --listen 127.0.0.1:0 and --metrics-listen
    // 127.0.0.1:0 are added unless given here, and --cache-dir with a fresh
    // temporary folder (removed by the destructor) unless --cache-dir or
    // --cache-enabled is given.
    std::vector<std::string> args;
    // Extra environment entries ("NAME=value") on top of this process's; one
    // replaces the variable of the same name.
    std::vector<std::string> env;
    // How long the server may take to load its models. Default: 120 s.
    int startup_timeout_ms = 120000;
    // RLIMIT_FSIZE of the server (writes past it fail with EFBIG, as on a
    // full disk); 0: inherited. Default: 0.
    int64_t file_size_limit_bytes = 0;
  };

  ServerProcess() = default;
  // Kills (SIGKILL) a server still running.
  ~ServerProcess();
  ServerProcess(const ServerProcess&) = delete;
  ServerProcess& operator=(const ServerProcess&) = delete;

  // Starts the server and waits until it logs "listening on HOST:PORT". May
  // be called again after Stop (a restart, with the same temporary cache);
  // the log then starts afresh.
  Status Start(const Options& options);

  // "127.0.0.1:PORT" of the gRPC server.
  const std::string& address() const { return address_; }
  int port() const { return port_; }
  // The port of the Prometheus /metrics endpoint (from its log line).
  int metrics_port() const { return metrics_port_; }
  // The port of the HTTP/JSON API (from its log line); 0 without one.
  int http_port() const { return http_port_; }
  pid_t pid() const { return pid_; }

  // Sends `signal` and waits up to `timeout_ms` for the exit; returns the exit
  // code (128 + signal number when killed by a signal), or DEADLINE_EXCEEDED.
  StatusOr<int> Stop(int signal, int timeout_ms = 60000);

  // Every log line so far.
  std::vector<std::string> LogLines() const;
  // Waits up to `timeout_ms` for a log line for which `matches` is true and
  // returns it.
  StatusOr<std::string> WaitForLogLine(const std::function<bool(const std::string&)>& matches, int timeout_ms) const;

  // -- implementation details follow ---------------------------------------
 private:
  void ReadLog(int fd);

  pid_t pid_ = -1;
  std::string temporary_cache_dir_;
  std::string address_;
  int port_ = 0;
  int metrics_port_ = 0;
  int http_port_ = 0;
  std::thread reader_;
  mutable absl::Mutex mu_;
  mutable absl::CondVar log_changed_;
  std::vector<std::string> log_lines_ ABSL_GUARDED_BY(mu_);
  bool log_closed_ ABSL_GUARDED_BY(mu_) = false;
};

}  // namespace camserve
