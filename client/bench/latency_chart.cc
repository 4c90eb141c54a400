#include "client/bench/latency_chart.h"

#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <vector>

#include "core/util/file_io.h"

extern char** environ;

namespace camserve {
namespace {

constexpr char kScriptName[] = "plot_latency.py";

std::string ScriptPath(const LatencyChartOptions& options) {
  if (!options.script_path.empty()) return options.script_path;
  if (const char* from_environment = std::getenv("CAMSERVE_PLOT_SCRIPT")) return from_environment;
  std::error_code error;
  const std::filesystem::path binary = std::filesystem::read_symlink("/proc/self/exe", error);
  return (binary.parent_path() / kScriptName).string();
}

// A file in the temporary folder holding `contents`, removed with the object.
class TemporaryFile {
 public:
  static StatusOr<TemporaryFile> Create(const std::string& contents) {
    std::string path = (std::filesystem::temp_directory_path() / "camserve-bench-XXXXXX.json").string();
    const int fd = mkstemps(path.data(), 5);
    if (fd < 0) return FailedPreconditionError("cannot create a temporary file " + path + ": " + std::strerror(errno));
    close(fd);
    TemporaryFile file(path);
    CAMSERVE_RETURN_IF_ERROR(WriteFileBytes(path, contents));
    return file;
  }
  TemporaryFile(TemporaryFile&& other) noexcept : path_(std::move(other.path_)) { other.path_.clear(); }
  TemporaryFile(const TemporaryFile&) = delete;
  TemporaryFile& operator=(const TemporaryFile&) = delete;
  ~TemporaryFile() {
    if (!path_.empty()) std::remove(path_.c_str());
  }
  const std::string& path() const { return path_; }

 private:
  explicit TemporaryFile(std::string path) : path_(std::move(path)) {}
  std::string path_;
};

// Runs `argv` (argv[0] looked up on PATH) with this process's stdout and
// stderr, and returns its exit code; 128 + the signal when it was killed.
StatusOr<int> RunAndWait(const std::vector<std::string>& argv) {
  std::vector<char*> c_argv;
  for (const std::string& argument : argv) c_argv.push_back(const_cast<char*>(argument.c_str()));
  c_argv.push_back(nullptr);
  pid_t pid = 0;
  const int spawn_error = posix_spawnp(&pid, c_argv[0], nullptr, nullptr, c_argv.data(), environ);
  if (spawn_error != 0) {
    return FailedPreconditionError("cannot run " + argv[0] + " (" + std::strerror(spawn_error) +
                                   "): the chart needs python3 with matplotlib; on Debian: "
                                   "apt-get install python3 python3-matplotlib");
  }
  int status = 0;
  while (waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) return InternalError(std::string("waitpid: ") + std::strerror(errno));
  }
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

}  // namespace

Status DrawLatencyChart(const std::string& json_report, const std::string& png_path,
                        const LatencyChartOptions& options) {
  const std::string script = ScriptPath(options);
  if (!std::filesystem::is_regular_file(script)) {
    return FailedPreconditionError("the chart script " + script +
                                   " is missing (CMake copies it next to camserve-bench; "
                                   "CAMSERVE_PLOT_SCRIPT names another)");
  }
  StatusOr<TemporaryFile> json = TemporaryFile::Create(json_report);
  if (!json.ok()) return json.status();
  const std::string python = options.python.empty() ? CAMSERVE_PLOT_PYTHON : options.python;
  StatusOr<int> exit_code = RunAndWait({python, script, json->path(), png_path});
  if (!exit_code.ok()) return exit_code.status();
  if (*exit_code != 0) {
    return Status(StatusCode::kUnknown, "the chart was not drawn: " + script + " exited with code " +
                                            std::to_string(*exit_code) + " (its message is above)");
  }
  return Status::Ok();
}

}  // namespace camserve
