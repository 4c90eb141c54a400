// End-to-end tests of the two clients against the real camserve server
// (started once on a free loopback port with the digits model):
// camserve-client on a folder of held-out digits, whose .npy files must hold
// the heatmaps a direct Explain RPC returns; the Python package's
// camserve-explain, whose top-1 class must be the RPC's; the errors both
// report (an unknown method, no server); and both over TLS with a bearer
// token, against a second server with a throwaway PKI (tests/test_pki.h).
// The Python package's own tests are tests/client/python.
//
// Environment (set by ctest): CAMSERVE_MODEL_DIR, CAMSERVE_SERVER_BINARY,
// CAMSERVE_CLIENT_BINARY, CAMSERVE_PYTHON_CLIENT_VENV (the venv with the
// package, made by the python_client_install test).
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

#include "camserve/v1/explainer.grpc.pb.h"
#include "client/common/grpc_channel.h"
#include "core/image/image_decoder.h"
#include "tests/server/server_process.h"
#include "tests/temp_dir.h"
#include "tests/test_pki.h"

namespace camserve {
namespace {

namespace fs = std::filesystem;
using Catch::Matchers::Contains;

constexpr int kFolderImages = 4;
constexpr char kUnknownMethod[] = "no-such-method";

std::string Env(const char* name) {
  const char* value = std::getenv(name);
  INFO("environment variable " << name << " (set by ctest)");
  REQUIRE(value != nullptr);
  return value;
}

std::string ReadBytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  INFO(path);
  REQUIRE(in);
  std::ostringstream bytes;
  bytes << in.rdbuf();
  return bytes.str();
}

// The camserve server with the digits model and a heatmap cache in a
// temporary folder, started on first use and shared by every test case of
// this executable; stopped (SIGKILL) and its folder removed at exit.
struct DigitsServerProcess {
  TempDir dir;
  ServerProcess process;
};

const ServerProcess& DigitsServer() {
  static const std::unique_ptr<DigitsServerProcess> server = [] {
    auto started_server = std::make_unique<DigitsServerProcess>();
    ServerProcess::Options options;
    options.args = {"--model", Env("CAMSERVE_MODEL_DIR") + "/digits_cnn.pt", "--cache-dir",
                    started_server->dir / "cache"};
    const Status started = started_server->process.Start(options);
    INFO(started.ToString());
    REQUIRE(started.ok());
    return started_server;
  }();
  return server->process;
}

struct CommandResult {
  int exit_code = -1;
  std::string output;  // stdout and stderr, interleaved as written
};

// Runs argv[0] with the arguments argv[1...], without a shell.
CommandResult RunCommand(const std::vector<std::string>& argv) {
  int pipe_fds[2];
  REQUIRE(pipe(pipe_fds) == 0);
  const pid_t pid = fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    dup2(pipe_fds[1], STDOUT_FILENO);
    dup2(pipe_fds[1], STDERR_FILENO);
    close(pipe_fds[0]);
    close(pipe_fds[1]);
    std::vector<char*> args;
    for (const std::string& arg : argv) args.push_back(const_cast<char*>(arg.c_str()));
    args.push_back(nullptr);
    execv(args[0], args.data());
    std::perror(args[0]);
    _exit(127);
  }
  close(pipe_fds[1]);
  CommandResult result;
  char buffer[4096];
  for (ssize_t n; (n = read(pipe_fds[0], buffer, sizeof buffer)) > 0;) result.output.append(buffer, n);
  close(pipe_fds[0]);
  int status = 0;
  REQUIRE(waitpid(pid, &status, 0) == pid);
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return result;
}

CommandResult RunCppClient(std::vector<std::string> args) {
  args.insert(args.begin(), {Env("CAMSERVE_CLIENT_BINARY"), "--addr", DigitsServer().address()});
  return RunCommand(args);
}

// Runs camserve-explain, the Python package's command, from the venv that
// python_client_install made (CAMSERVE_PYTHON_CLIENT_VENV), against the
// digits server, or the server at `address` if given.
CommandResult RunPythonClient(std::vector<std::string> args, const std::string& address = "") {
  args.insert(args.begin(), {Env("CAMSERVE_PYTHON_CLIENT_VENV") + "/bin/camserve-explain", "--addr",
                             address.empty() ? DigitsServer().address() : address});
  return RunCommand(args);
}

// The first `count` held-out digits, copied into `dir`; returns their paths.
std::vector<std::string> CopyHeldOutDigits(const fs::path& dir, int count) {
  std::vector<fs::path> digits;
  for (const fs::directory_entry& entry : fs::directory_iterator(Env("CAMSERVE_MODEL_DIR") + "/digits_holdout")) {
    if (entry.path().extension() == ".png") digits.push_back(entry.path());
  }
  REQUIRE(static_cast<int>(digits.size()) >= count);
  std::sort(digits.begin(), digits.end());
  fs::create_directories(dir);
  std::vector<std::string> copies;
  for (int i = 0; i < count; ++i) {
    copies.push_back((dir / digits[i].filename()).string());
    fs::copy_file(digits[i], copies.back());
  }
  return copies;
}

// What the clients ask for by default: the server's defaults, a FLOAT32
// heatmap at the image's ORIGINAL resolution.
v1::ExplainRequest DefaultClientRequest(const std::string& image_path) {
  v1::ExplainRequest request;
  request.set_image(ReadBytes(image_path));
  request.set_resolution(v1::HEATMAP_RESOLUTION_ORIGINAL);
  request.set_encoding(v1::HEATMAP_ENCODING_FLOAT32);
  return request;
}

grpc::Status CallExplain(const v1::ExplainRequest& request, v1::ExplainResponse* response) {
  const std::unique_ptr<v1::Explainer::Stub> stub =
      v1::Explainer::NewStub(MakeExplainerChannel(DigitsServer().address()));
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(60));
  return stub->Explain(&context, request, response);
}

v1::ExplainResponse ExplainDirectly(const std::string& image_path) {
  v1::ExplainResponse response;
  const grpc::Status status = CallExplain(DefaultClientRequest(image_path), &response);
  INFO(status.error_message());
  REQUIRE(status.ok());
  return response;
}

struct NpyArray {
  int rows = 0;
  int cols = 0;
  std::vector<float> values;
};

// Reads a 2-D '<f4' .npy file written by either client, checking its format.
NpyArray ReadNpy(const std::string& path) {
  const std::string npy = ReadBytes(path);
  INFO(path);
  REQUIRE(npy.size() >= 10);
  REQUIRE(npy.substr(0, 8) == std::string("\x93NUMPY\x01\x00", 8));  // version 1.0
  const size_t header_bytes = 10 + (static_cast<unsigned char>(npy[8]) | static_cast<unsigned char>(npy[9]) << 8);
  REQUIRE(header_bytes % 64 == 0);
  const std::string header = npy.substr(10, header_bytes - 10);
  REQUIRE_THAT(header, Contains("'descr': '<f4'") && Contains("'fortran_order': False"));
  NpyArray array;
  const size_t shape_at = header.find("'shape': (");
  REQUIRE(shape_at != std::string::npos);
  REQUIRE(std::sscanf(header.c_str() + shape_at, "'shape': (%d, %d)", &array.rows, &array.cols) == 2);
  const size_t count = static_cast<size_t>(array.rows) * array.cols;
  REQUIRE(npy.size() == header_bytes + 4 * count);
  array.values.resize(count);
  std::memcpy(array.values.data(), npy.data() + header_bytes, 4 * count);  // little-endian host
  return array;
}

void CheckNpyHoldsHeatmap(const std::string& npy_path, const v1::Heatmap& heatmap) {
  const NpyArray array = ReadNpy(npy_path);
  REQUIRE(array.rows == heatmap.height());
  REQUIRE(array.cols == heatmap.width());
  REQUIRE(heatmap.data().size() == 4 * array.values.size());
  std::vector<float> expected(array.values.size());
  std::memcpy(expected.data(), heatmap.data().data(), heatmap.data().size());
  float max_difference = 0;
  for (size_t i = 0; i < expected.size(); ++i) {
    max_difference = std::max(max_difference, std::fabs(array.values[i] - expected[i]));
  }
  INFO(npy_path);
  CHECK(max_difference <= 1e-6f);
}

void CheckPngSize(const std::string& path, int width, int height) {
  StatusOr<DecodedImage> image = DecodeImage(ReadBytes(path));
  INFO(path << ": " << image.status().ToString());
  REQUIRE(image.ok());
  CHECK(image->width == width);
  CHECK(image->height == height);
}

// The class of the "    1. class N ..." line both clients print.
int PrintedTopClass(const std::string& output) {
  std::smatch match;
  INFO(output);
  REQUIRE(std::regex_search(output, match, std::regex("\n +1\\. class (-?[0-9]+) ")));
  return std::stoi(match[1]);
}

TEST_CASE("camserve-client explains a folder into files that match a direct Explain", "[clients]") {
  TempDir dir;
  const std::vector<std::string> images = CopyHeldOutDigits(dir.path() / "digits", kFolderImages);
  const std::string out_dir = dir / "out";
  const CommandResult run = RunCppClient({"--out", out_dir, "--concurrency", "4", (dir / "digits")});
  INFO(run.output);
  REQUIRE(run.exit_code == 0);
  CHECK_THAT(run.output, Contains("explained 4 of 4 images"));

  for (const std::string& image : images) {
    const v1::ExplainResponse expected = ExplainDirectly(image);
    const std::string stem = (fs::path(out_dir) / fs::path(image).stem()).string();
    const int width = expected.heatmap().width(), height = expected.heatmap().height();
    CheckNpyHoldsHeatmap(stem + ".npy", expected.heatmap());
    CheckPngSize(stem + ".heatmap.png", width, height);
    CheckPngSize(stem + ".overlay.png", width, height);
    CHECK_THAT(run.output, Contains(image + ": explained class " + std::to_string(expected.target_class()) + " "));
  }
}

TEST_CASE("A FEATURE-resolution heatmap is resized into the same overlay as ORIGINAL", "[clients]") {
  // The engine makes ORIGINAL by resizing the FEATURE map bilinearly, as
  // camserve-client does for the overlay; only float rounding may differ,
  // which can move a value to the neighbouring colormap entry (a channel
  // step of up to 4, halved by the blend, then rounded).
  TempDir dir;
  const std::string image = CopyHeldOutDigits(dir.path() / "digits", 1).front();
  const std::string stem = fs::path(image).stem().string();
  for (const char* resolution : {"feature", "original"}) {
    const CommandResult run = RunCppClient({"--resolution", resolution, "--out", dir / resolution, image});
    INFO(run.output);
    REQUIRE(run.exit_code == 0);
  }
  const NpyArray feature = ReadNpy(dir / ("feature/" + stem + ".npy"));
  const NpyArray original = ReadNpy(dir / ("original/" + stem + ".npy"));
  CHECK(feature.rows < original.rows);
  StatusOr<DecodedImage> from_feature = DecodeImage(ReadBytes(dir / ("feature/" + stem + ".overlay.png")));
  StatusOr<DecodedImage> from_original = DecodeImage(ReadBytes(dir / ("original/" + stem + ".overlay.png")));
  REQUIRE(from_feature.ok());
  REQUIRE(from_original.ok());
  REQUIRE(from_feature->rgb.size() == from_original->rgb.size());
  int max_difference = 0;
  for (size_t i = 0; i < from_feature->rgb.size(); ++i) {
    max_difference = std::max(max_difference, std::abs(from_feature->rgb[i] - from_original->rgb[i]));
  }
  CHECK(max_difference <= 3);
}

TEST_CASE("camserve-client --info lists the digits model", "[clients]") {
  const CommandResult run = RunCppClient({"--info"});
  INFO(run.output);
  CHECK(run.exit_code == 0);
  CHECK_THAT(run.output, Contains("model digits_cnn") && Contains("gradcam") && Contains("block3"));
}

TEST_CASE("The Python client prints the top-1 class of a direct Explain", "[clients]") {
  TempDir dir;
  const std::string image = CopyHeldOutDigits(dir.path() / "digits", 1).front();
  const CommandResult run = RunPythonClient({"--image", image, "--out", dir / "out"});
  INFO(run.output);
  REQUIRE(run.exit_code == 0);
  const v1::ExplainResponse expected = ExplainDirectly(image);
  REQUIRE(expected.top_k_size() > 0);
  CHECK(PrintedTopClass(run.output) == expected.top_k(0).class_index());
  CheckNpyHoldsHeatmap(dir / ("out/" + fs::path(image).stem().string() + ".npy"), expected.heatmap());
}

TEST_CASE("both clients print the quality scores the server returns for --evaluate", "[clients]") {
  TempDir dir;
  const std::string image = CopyHeldOutDigits(dir.path() / "digits", 1).front();
  v1::ExplainRequest request = DefaultClientRequest(image);
  request.set_method("reciprocam");
  request.set_evaluate(true);
  v1::ExplainResponse expected;
  REQUIRE(CallExplain(request, &expected).ok());
  REQUIRE(expected.has_quality());
  char line[160];
  std::snprintf(line, sizeof(line), "deletion AUC %.4f, insertion AUC %.4f (%d steps)",
                expected.quality().deletion_auc(), expected.quality().insertion_auc(), expected.quality().steps());
  const CommandResult cpp = RunCppClient({"--method", "reciprocam", "--evaluate", "true", "--out", dir / "cpp", image});
  INFO(cpp.output);
  REQUIRE(cpp.exit_code == 0);
  CHECK_THAT(cpp.output, Contains(line) && Contains("average drop"));
  const CommandResult python =
      RunPythonClient({"--method", "reciprocam", "--evaluate", "--image", image, "--out", dir / "python"});
  INFO(python.output);
  REQUIRE(python.exit_code == 0);
  CHECK_THAT(python.output, Contains(line));
}

TEST_CASE("An unknown method fails with the server's INVALID_ARGUMENT message", "[clients]") {
  TempDir dir;
  const std::string image = CopyHeldOutDigits(dir.path() / "digits", 1).front();
  v1::ExplainRequest request = DefaultClientRequest(image);
  request.set_method(kUnknownMethod);
  v1::ExplainResponse ignored;
  const grpc::Status expected = CallExplain(request, &ignored);
  REQUIRE(expected.error_code() == grpc::StatusCode::INVALID_ARGUMENT);
  const std::string expected_text = "INVALID_ARGUMENT: " + expected.error_message();

  const CommandResult cpp = RunCppClient({"--method", kUnknownMethod, "--out", dir / "out", image});
  INFO(cpp.output);
  CHECK(cpp.exit_code != 0);
  CHECK_THAT(cpp.output, Contains(expected_text));

  const CommandResult python = RunPythonClient({"--method", kUnknownMethod, "--image", image});
  INFO(python.output);
  CHECK(python.exit_code != 0);
  CHECK_THAT(python.output, Contains(expected_text));
}

TEST_CASE("both clients connect over TLS with a bearer token; without one they are refused", "[clients][tls]") {
  testing::TestPki pki;
  ServerProcess server;
  ServerProcess::Options options;
  options.args = {"--model", Env("CAMSERVE_MODEL_DIR") + "/digits_cnn.pt", "--auth-token-file", pki.dir / "tokens"};
  const std::vector<std::string> tls = pki.TlsArgs();
  options.args.insert(options.args.end(), tls.begin(), tls.end());
  const Status started = server.Start(options);
  INFO(started.ToString());
  REQUIRE(started.ok());
  const std::string image = CopyHeldOutDigits(pki.dir.path() / "digits", 1).front();
  const std::vector<std::string> client = {Env("CAMSERVE_CLIENT_BINARY"),
                                           "--addr",
                                           server.address(),
                                           "--tls-ca-file",
                                           pki.dir / "ca.crt",
                                           "--out",
                                           pki.dir / "out"};
  const auto with = [&](std::vector<std::string> args) {
    args.insert(args.begin(), client.begin(), client.end());
    return args;
  };

  const CommandResult by_file = RunCommand(with({"--token-file", pki.dir / "tokens", image}));
  INFO(by_file.output);
  CHECK(by_file.exit_code == 0);
  CHECK_THAT(by_file.output, Contains(image + ": explained class"));
  // The token from CAMSERVE_TOKEN, the certificate checked for a name.
  const CommandResult by_environment =
      RunCommand({"/usr/bin/env", std::string("CAMSERVE_TOKEN=") + testing::kUserToken, client[0], "--addr",
                  server.address(), "--tls-ca-file", pki.dir / "ca.crt", "--tls-server-name", "localhost", "--info"});
  INFO(by_environment.output);
  CHECK(by_environment.exit_code == 0);
  CHECK_THAT(by_environment.output, Contains("model digits_cnn"));

  const CommandResult no_token = RunCommand(with({"--info"}));
  INFO(no_token.output);
  CHECK(no_token.exit_code == 1);
  CHECK_THAT(no_token.output, Contains("UNAUTHENTICATED: this server needs a token"));

  const CommandResult plaintext = RunCommand({client[0], "--addr", server.address(), "--info"});
  INFO(plaintext.output);
  CHECK(plaintext.exit_code == 1);
  CHECK_THAT(plaintext.output, Contains("UNAVAILABLE: cannot connect to a camserve server at " + server.address()));

  // Health needs no token (the container's health check).
  const CommandResult health = RunCommand(with({"--health"}));
  INFO(health.output);
  CHECK(health.exit_code == 0);
  CHECK_THAT(health.output, Contains("camserve.v1.Explainer: SERVING"));

  const CommandResult python = RunPythonClient({"--image", image, "--out", pki.dir / "py", "--tls-ca-file",
                                                pki.dir / "ca.crt", "--token-file", pki.dir / "tokens"},
                                               server.address());
  INFO(python.output);
  CHECK(python.exit_code == 0);
  const CommandResult python_no_token =
      RunPythonClient({"--image", image, "--tls-ca-file", pki.dir / "ca.crt"}, server.address());
  INFO(python_no_token.output);
  CHECK(python_no_token.exit_code == 1);
  CHECK_THAT(python_no_token.output, Contains("UNAUTHENTICATED: this server needs a token"));
}

// A loopback port nothing listens on: bound by the kernel, then released.
int UnusedLoopbackPort() {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  REQUIRE(fd >= 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t length = sizeof address;
  REQUIRE(bind(fd, reinterpret_cast<sockaddr*>(&address), length) == 0);
  REQUIRE(getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) == 0);
  close(fd);
  return ntohs(address.sin_port);
}

TEST_CASE("camserve-client without a server says so and exits 1", "[clients][no_server]") {
  const std::string address = "127.0.0.1:" + std::to_string(UnusedLoopbackPort());
  const CommandResult run = RunCommand({Env("CAMSERVE_CLIENT_BINARY"), "--addr", address, "--info"});
  INFO(run.output);
  CHECK(run.exit_code == 1);
  CHECK_THAT(run.output, Contains("UNAVAILABLE: cannot connect to a camserve server at " + address));
}

}  // namespace
}  // namespace camserve
