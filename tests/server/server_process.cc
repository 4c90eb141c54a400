#include "tests/server/server_process.h"

#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <regex>
#include <set>

extern char** environ;

namespace camserve {
namespace {

bool HasFlag(const std::vector<std::string>& args, const std::string& flag) {
  for (const std::string& arg : args) {
    if (arg == flag || arg.rfind(flag + "=", 0) == 0) return true;
  }
  return false;
}

std::vector<char*> CStrings(std::vector<std::string>& strings) {
  std::vector<char*> pointers;
  for (std::string& s : strings) pointers.push_back(s.data());
  pointers.push_back(nullptr);
  return pointers;
}

int ExitCode(int wait_status) {
  if (WIFEXITED(wait_status)) return WEXITSTATUS(wait_status);
  if (WIFSIGNALED(wait_status)) return 128 + WTERMSIG(wait_status);
  return -1;
}

}  // namespace

ServerProcess::~ServerProcess() {
  if (pid_ > 0) {
    kill(pid_, SIGKILL);
    waitpid(pid_, nullptr, 0);
  }
  if (reader_.joinable()) reader_.join();
  if (!temporary_cache_dir_.empty()) {
    std::error_code ignored;
    std::filesystem::remove_all(temporary_cache_dir_, ignored);
  }
}

Status ServerProcess::Start(const Options& options) {
  const char* binary = std::getenv("CAMSERVE_SERVER_BINARY");
  if (binary == nullptr) return FailedPreconditionError("CAMSERVE_SERVER_BINARY is not set");
  if (pid_ > 0) return FailedPreconditionError("the server is already running");
  {
    absl::MutexLock lock(&mu_);
    log_lines_.clear();
    log_closed_ = false;
  }
  std::vector<std::string> argv_strings = {binary};
  argv_strings.insert(argv_strings.end(), options.args.begin(), options.args.end());
  if (!HasFlag(options.args, "--listen")) argv_strings.insert(argv_strings.end(), {"--listen", "127.0.0.1:0"});
  if (!HasFlag(options.args, "--metrics-listen")) {
    argv_strings.insert(argv_strings.end(), {"--metrics-listen", "127.0.0.1:0"});
  }
  if (!HasFlag(options.args, "--cache-dir") && !HasFlag(options.args, "--cache-enabled")) {
    if (temporary_cache_dir_.empty()) {
      std::string pattern = std::filesystem::temp_directory_path().string() + "/camserve_cache_XXXXXX";
      if (mkdtemp(pattern.data()) == nullptr) return InternalError(std::string("mkdtemp: ") + std::strerror(errno));
      temporary_cache_dir_ = pattern;
    }
    argv_strings.insert(argv_strings.end(), {"--cache-dir", temporary_cache_dir_});
  }
  // This process's environment, where options.env replaces a variable of
  // the same name (getenv would find the first of two).
  const auto name_of = [](const std::string& entry) { return entry.substr(0, entry.find('=')); };
  std::set<std::string> replaced;
  for (const std::string& entry : options.env) replaced.insert(name_of(entry));
  std::vector<std::string> env_strings;
  for (char** e = environ; *e != nullptr; ++e) {
    if (replaced.count(name_of(*e)) == 0) env_strings.emplace_back(*e);
  }
  env_strings.insert(env_strings.end(), options.env.begin(), options.env.end());

  int pipe_fds[2];
  if (pipe(pipe_fds) != 0) return InternalError(std::string("pipe: ") + std::strerror(errno));
  std::vector<char*> argv = CStrings(argv_strings);
  std::vector<char*> envp = CStrings(env_strings);
  pid_ = fork();
  if (pid_ < 0) return InternalError(std::string("fork: ") + std::strerror(errno));
  if (pid_ == 0) {
    dup2(pipe_fds[1], STDOUT_FILENO);
    dup2(pipe_fds[1], STDERR_FILENO);
    close(pipe_fds[0]);
    close(pipe_fds[1]);
    if (options.file_size_limit_bytes > 0) {
      signal(SIGXFSZ, SIG_IGN);  // inherited through exec: writes fail instead
      struct rlimit limit;
      getrlimit(RLIMIT_FSIZE, &limit);
      limit.rlim_cur = static_cast<rlim_t>(options.file_size_limit_bytes);
      setrlimit(RLIMIT_FSIZE, &limit);
    }
    execve(argv[0], argv.data(), envp.data());
    _exit(127);
  }
  close(pipe_fds[1]);
  reader_ = std::thread([this, fd = pipe_fds[0]] { ReadLog(fd); });

  static const std::regex kListening(R"(listening on ([^ "]+):([0-9]+))");
  StatusOr<std::string> line =
      WaitForLogLine([](const std::string& l) { return std::regex_search(l, kListening); }, options.startup_timeout_ms);
  if (!line.ok()) {
    std::string tail;
    std::vector<std::string> lines = LogLines();
    for (size_t i = lines.size() > 20 ? lines.size() - 20 : 0; i < lines.size(); ++i) tail += lines[i] + "\n";
    return Status(line.status().code(), "camserve did not start: " + line.status().message() + "\n" + tail);
  }
  std::smatch match;
  std::regex_search(*line, match, kListening);
  port_ = std::stoi(match[2].str());
  address_ = "127.0.0.1:" + match[2].str();
  // Logged before the gRPC line.
  static const std::regex kMetrics(R"(Prometheus metrics at http://[^ ]+:([0-9]+)/metrics)");
  static const std::regex kHttp(R"(HTTP/JSON API at https?://[^ ]+:([0-9]+)/v1/)");
  metrics_port_ = 0;
  http_port_ = 0;
  for (const std::string& logged : LogLines()) {
    if (std::regex_search(logged, match, kMetrics)) metrics_port_ = std::stoi(match[1].str());
    if (std::regex_search(logged, match, kHttp)) http_port_ = std::stoi(match[1].str());
  }
  return Status::Ok();
}

StatusOr<int> ServerProcess::Stop(int signal, int timeout_ms) {
  if (pid_ <= 0) return FailedPreconditionError("server is not running");
  kill(pid_, signal);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  while (std::chrono::steady_clock::now() < deadline) {
    int wait_status = 0;
    pid_t done = waitpid(pid_, &wait_status, WNOHANG);
    if (done == pid_) {
      pid_ = -1;
      if (reader_.joinable()) reader_.join();
      return ExitCode(wait_status);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return Status(StatusCode::kDeadlineExceeded, "camserve did not exit within " + std::to_string(timeout_ms) +
                                                   " ms of signal " + std::to_string(signal));
}

std::vector<std::string> ServerProcess::LogLines() const {
  absl::MutexLock lock(&mu_);
  return log_lines_;
}

StatusOr<std::string> ServerProcess::WaitForLogLine(const std::function<bool(const std::string&)>& matches,
                                                    int timeout_ms) const {
  const absl::Time deadline = absl::Now() + absl::Milliseconds(timeout_ms);
  absl::MutexLock lock(&mu_);
  size_t checked = 0;
  while (true) {
    for (; checked < log_lines_.size(); ++checked) {
      if (matches(log_lines_[checked])) return log_lines_[checked];
    }
    if (log_closed_) return UnavailableError("the server closed its log (exited) before the line appeared");
    if (log_changed_.WaitWithDeadline(&mu_, deadline) && checked == log_lines_.size()) {
      return Status(StatusCode::kDeadlineExceeded, "no matching log line within " + std::to_string(timeout_ms) + " ms");
    }
  }
}

void ServerProcess::ReadLog(int fd) {
  std::string pending;
  char buffer[4096];
  while (true) {
    ssize_t n = read(fd, buffer, sizeof(buffer));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    pending.append(buffer, static_cast<size_t>(n));
    std::vector<std::string> complete;
    size_t newline;
    while ((newline = pending.find('\n')) != std::string::npos) {
      complete.push_back(pending.substr(0, newline));
      pending.erase(0, newline + 1);
    }
    if (!complete.empty()) {
      absl::MutexLock lock(&mu_);
      log_lines_.insert(log_lines_.end(), complete.begin(), complete.end());
    }
    log_changed_.SignalAll();
  }
  close(fd);
  {
    absl::MutexLock lock(&mu_);
    if (!pending.empty()) log_lines_.push_back(pending);
    log_closed_ = true;
  }
  log_changed_.SignalAll();
}

}  // namespace camserve
