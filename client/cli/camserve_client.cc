// camserve-client: explains images with a running camserve server.
//
//   camserve-client [--addr HOST:PORT] [request flags] [--out DIR]
//                   [--concurrency N] [--deadline-ms MS] [--info]
//                   IMAGE_OR_FOLDER...
//
// For every image (a folder stands for its .jpg/.jpeg/.png files, sorted) it
// sends one Explain RPC asking for a FLOAT32 heatmap, by default at the
// image's ORIGINAL resolution so that the overlay lines up with the image,
// prints the explained class, the top-k classes, cache_hit and the server's
// timings, and writes STEM.heatmap.png, STEM.overlay.png and STEM.npy into
// --out (see client/cli/heatmap_files.h). Up to --concurrency requests are in
// flight at once so that the server can batch them; a failed image is
// reported and the others go on. --info prints GetModelInfo. --health only
// asks the gRPC health service (grpc.health.v1.Health/Check, no token
// needed) about camserve.v1.Explainer, for container health checks. The
// flags are client/cli/client_options.h's; TLS and the bearer token come
// from the connection flags (client/common/connection_flags.h).
//
// Exit status: 0 when everything succeeded (--health: SERVING); 1 when the
// server cannot be reached, an RPC failed, any image failed or the server is
// not SERVING; 2 for a bad command line.
// docs/client.md documents every flag and the output.
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include "camserve/v1/explainer.grpc.pb.h"
#include "client/cli/client_options.h"
#include "client/cli/float_heatmap.h"
#include "client/cli/heatmap_files.h"
#include "client/cli/image_inputs.h"
#include "client/cli/progress_reporter.h"
#include "client/common/grpc_channel.h"
#include "client/common/request_flags.h"
#include "core/image/image_decoder.h"
#include "core/util/file_io.h"
#include "grpc/health/v1/health.grpc.pb.h"

namespace camserve {
namespace {

constexpr char kProgram[] = "camserve-client";
constexpr char kServiceName[] = "camserve.v1.Explainer";
constexpr int kFailureExitCode = 1;
constexpr int kUsageExitCode = 2;

// What a run needs besides the options: the request every image is sent
// with, and the images, folders expanded.
struct ClientRun {
  ClientOptions options;
  v1::ExplainRequest request_template;
  std::vector<std::string> images;
};

// The run the options ask for; the images' outputs must not collide.
StatusOr<ClientRun> PrepareRun(ClientOptions options) {
  ClientRun run;
  run.request_template = RequestTemplateFromFlags(options.request);
  run.request_template.set_encoding(v1::HEATMAP_ENCODING_FLOAT32);
  if (!options.inputs.empty()) {
    StatusOr<std::vector<std::string>> images = CollectImagePaths(options.inputs);
    if (!images.ok()) return images.status();
    CAMSERVE_RETURN_IF_ERROR(CheckDistinctOutputNames(*images));
    run.images = std::move(images).value();
  }
  run.options = std::move(options);
  return run;
}

std::chrono::system_clock::time_point DeadlineAfter(int milliseconds) {
  return std::chrono::system_clock::now() + std::chrono::milliseconds(milliseconds);
}

// Connects, failing as soon as the first attempt fails (nothing listening,
// unknown host, TLS handshake refused) rather than retrying until the
// deadline.
Status WaitForServer(grpc::Channel& channel, const RequestFlags& flags) {
  const auto deadline = DeadlineAfter(flags.deadline_ms);
  for (;;) {
    const grpc_connectivity_state state = channel.GetState(/*try_to_connect=*/true);
    if (state == GRPC_CHANNEL_READY) return Status::Ok();
    if (state == GRPC_CHANNEL_TRANSIENT_FAILURE || state == GRPC_CHANNEL_SHUTDOWN) {
      return UnavailableError("cannot connect to a camserve server at " + flags.address +
                              ": nothing listens there, the host is unknown or the TLS handshake failed (set the "
                              "address with --addr; TLS with --tls, --tls-ca-file, --tls-cert-file)");
    }
    if (!channel.WaitForStateChange(state, deadline)) {
      return Status(StatusCode::kDeadlineExceeded, "no connection to " + flags.address + " within " +
                                                       std::to_string(flags.deadline_ms) + " ms (--deadline-ms)");
    }
  }
}

std::string StringPrintf(const char* format, ...) __attribute__((format(printf, 1, 2)));
std::string StringPrintf(const char* format, ...) {
  va_list arguments;
  va_start(arguments, format);
  va_list copy;
  va_copy(copy, arguments);
  const int size = std::vsnprintf(nullptr, 0, format, copy);
  va_end(copy);
  std::string text(size > 0 ? size : 0, '\0');
  std::vsnprintf(text.data(), text.size() + 1, format, arguments);
  va_end(arguments);
  return text;
}

std::string JoinComma(const google::protobuf::RepeatedPtrField<std::string>& items) {
  std::string joined;
  for (const std::string& item : items) joined += (joined.empty() ? "" : ", ") + item;
  return joined;
}

// One line per prepared layer: what it runs on and the measured difference
// from the plain fp32 module.
std::string FormatPreparedLayers(const v1::ModelInfo& model) {
  std::string text;
  for (const v1::PreparedLayer& layer : model.prepared_layers()) {
    const std::string runner = std::string(layer.optimized() ? "copy" : "plain module") + ", " + layer.precision();
    const std::string measured = layer.map_difference() < 0
                                     ? std::string("reference")
                                     : StringPrintf("maps within %.2g, probabilities within %.2g",
                                                    layer.map_difference(), layer.probability_difference());
    text += StringPrintf("  prepared layer %s: %s, %s%s%s\n", layer.layer().c_str(), runner.c_str(), measured.c_str(),
                         layer.note().empty() ? "" : "; ", layer.note().c_str());
  }
  return text;
}

std::string FormatModelInfo(const v1::ModelInfo& model) {
  return StringPrintf(
             "model %s%s\n"
             "  version  %s\n"
             "  device   %s\n"
             "  input    %dx%d px (width x height)\n"
             "  classes  %d\n"
             "  methods  %s\n"
             "  layers   %s\n"
             "  default layer  %s\n",
             model.name().c_str(), model.is_default() ? " (default)" : "", model.version().c_str(),
             model.device().c_str(), model.input_width(), model.input_height(), model.num_classes(),
             JoinComma(model.methods()).c_str(), JoinComma(model.target_layers()).c_str(),
             model.default_layer().c_str()) +
         StringPrintf("  precision  %s\n", model.precision().c_str()) + FormatPreparedLayers(model);
}

// Prints every served model, or only --model's.
Status PrintModelInfo(v1::Explainer::Stub& stub, const RequestFlags& flags) {
  v1::GetModelInfoRequest request;
  request.set_model(flags.model);
  v1::GetModelInfoResponse response;
  grpc::ClientContext context;
  context.set_deadline(DeadlineAfter(flags.deadline_ms));
  CAMSERVE_RETURN_IF_ERROR(FromGrpcStatus(stub.GetModelInfo(&context, request, &response)));
  for (const v1::ModelInfo& model : response.models()) std::fputs(FormatModelInfo(model).c_str(), stdout);
  return Status::Ok();
}

// Asks the health service whether camserve.v1.Explainer serves; prints the
// answer. OK only for SERVING.
Status CheckHealth(const std::shared_ptr<grpc::Channel>& channel, const RequestFlags& flags) {
  const std::unique_ptr<grpc::health::v1::Health::Stub> stub = grpc::health::v1::Health::NewStub(channel);
  grpc::health::v1::HealthCheckRequest request;
  request.set_service(kServiceName);
  grpc::health::v1::HealthCheckResponse response;
  grpc::ClientContext context;
  context.set_deadline(DeadlineAfter(flags.deadline_ms));
  CAMSERVE_RETURN_IF_ERROR(FromGrpcStatus(stub->Check(&context, request, &response)));
  const std::string& name = grpc::health::v1::HealthCheckResponse::ServingStatus_Name(response.status());
  std::printf("%s: %s\n", kServiceName, name.c_str());
  if (response.status() != grpc::health::v1::HealthCheckResponse::SERVING) {
    return UnavailableError(std::string(kServiceName) + " is " + name);
  }
  return Status::Ok();
}

std::string FormatClassScore(int class_index, const std::string& label, float probability) {
  return StringPrintf("class %d \"%s\" p=%.4f", class_index, label.c_str(), probability);
}

std::string FormatTimings(const v1::StageTimings& t) {
  const auto ms = [](int64_t micros) { return static_cast<double>(micros) / 1e3; };
  return StringPrintf(
      "  server timings (ms): decode %.2f  queue %.2f  preprocess %.2f  forward %.2f  backward %.2f  "
      "cam %.2f  perturb %.2f  evaluate %.2f  encode %.2f  cache_get %.2f  cache_put %.2f  total %.2f\n",
      ms(t.decode_us()), ms(t.queue_us()), ms(t.preprocess_us()), ms(t.forward_us()), ms(t.backward_us()),
      ms(t.cam_us()), ms(t.perturb_us()), ms(t.evaluate_us()), ms(t.encode_us()), ms(t.cache_get_us()),
      ms(t.cache_put_us()), ms(t.total_us()));
}

std::string FormatQuality(const v1::ExplanationQuality& q) {
  return StringPrintf(
      "  quality: p %.4f, p(image x map) %.4f (change %+.4f, average drop %.4f, increase %s), "
      "deletion AUC %.4f, insertion AUC %.4f (%d steps)\n",
      q.target_probability(), q.masked_probability(), q.confidence_change(), q.average_drop(),
      q.confidence_increase() ? "yes" : "no", q.deletion_auc(), q.insertion_auc(), q.steps());
}

// One image's block of output: what was explained, the top-k classes, the
// server's timings and the files written.
std::string FormatReport(const std::string& image_path, const v1::ExplainResponse& response,
                         const HeatmapFiles& files) {
  std::string report =
      image_path + ": explained " +
      FormatClassScore(response.target_class(), response.target_label(), response.target_probability()) + "\n";
  report +=
      StringPrintf("  model %s (version %s), cache_hit %s, batch_size %d\n", response.model().c_str(),
                   response.model_version().c_str(), response.cache_hit() ? "true" : "false", response.batch_size());
  report += StringPrintf("  top-%d:\n", response.top_k_size());
  for (int i = 0; i < response.top_k_size(); ++i) {
    const v1::ClassScore& score = response.top_k(i);
    report += StringPrintf("    %d. ", i + 1) +
              FormatClassScore(score.class_index(), score.label(), score.probability()) + "\n";
  }
  if (response.has_quality()) report += FormatQuality(response.quality());
  report += FormatTimings(response.timings());
  report += StringPrintf("  wrote %s, %s, %s (heatmap %dx%d)\n", files.heatmap_png.c_str(), files.overlay_png.c_str(),
                         files.npy.c_str(), response.heatmap().width(), response.heatmap().height());
  return report;
}

// Explains one image, writes its files and returns its report.
StatusOr<std::string> ExplainImage(v1::Explainer::Stub& stub, const ClientRun& run, const std::string& image_path) {
  StatusOr<std::string> encoded = ReadFileBytes(image_path);
  if (!encoded.ok()) return encoded.status();
  v1::ExplainRequest request = run.request_template;
  request.set_request_id(image_path);
  request.set_image(*encoded);
  v1::ExplainResponse response;
  grpc::ClientContext context;
  context.set_deadline(DeadlineAfter(run.options.request.deadline_ms));
  CAMSERVE_RETURN_IF_ERROR(FromGrpcStatus(stub.Explain(&context, request, &response)));

  StatusOr<FloatHeatmap> heatmap = FloatHeatmapFromProto(response.heatmap());
  if (!heatmap.ok()) return heatmap.status();
  StatusOr<DecodedImage> image = DecodeImage(*encoded);
  if (!image.ok()) return image.status();
  const HeatmapFiles files = HeatmapFilesFor(run.options.out_dir, image_path);
  CAMSERVE_RETURN_IF_ERROR(WriteHeatmapFiles(*heatmap, *image, files));
  return FormatReport(image_path, response, files);
}

// Explains every image with up to --concurrency requests in flight; returns
// how many failed.
int ExplainImages(v1::Explainer::Stub& stub, const ClientRun& run) {
  const std::vector<std::string>& images = run.images;
  ProgressReporter reporter(static_cast<int>(images.size()), isatty(STDERR_FILENO) == 1, stdout, stderr);
  std::atomic<size_t> next_image{0};
  const auto explain_until_done = [&] {
    for (size_t i = next_image++; i < images.size(); i = next_image++) {
      StatusOr<std::string> report = ExplainImage(stub, run, images[i]);
      reporter.Finished(images[i], report.status(), report.ok() ? *report : "");
    }
  };
  std::vector<std::thread> workers;
  const size_t worker_count = std::min(images.size(), static_cast<size_t>(run.options.concurrency));
  for (size_t i = 0; i < worker_count; ++i) workers.emplace_back(explain_until_done);
  for (std::thread& worker : workers) worker.join();
  return reporter.Finish();
}

Status CreateOutputFolder(const std::string& out_dir) {
  std::error_code error;
  std::filesystem::create_directories(out_dir, error);
  if (error) return InternalError("cannot create the output folder " + out_dir + ": " + error.message());
  return Status::Ok();
}

int Fail(const Status& status, int exit_code) {
  std::fprintf(stderr, "%s: %s\n", kProgram, status.ToString().c_str());
  if (exit_code == kUsageExitCode) std::fprintf(stderr, "run %s --help for usage\n", kProgram);
  return exit_code;
}

int Main(int argc, char** argv) {
  StatusOr<ParsedCommandLine<ClientOptions>> command_line = ParseClientCommandLine(argc, argv);
  if (!command_line.ok()) return Fail(command_line.status(), kUsageExitCode);
  if (command_line->help.has_value()) {
    std::fputs(command_line->help->c_str(), stdout);
    return 0;
  }
  StatusOr<ClientRun> run = PrepareRun(std::move(command_line->options));
  if (!run.ok()) return Fail(run.status(), kUsageExitCode);
  const RequestFlags& flags = run->options.request;
  if (!run->images.empty()) {
    const Status created = CreateOutputFolder(run->options.out_dir);
    if (!created.ok()) return Fail(created, kFailureExitCode);
  }

  const StatusOr<ClientChannelOptions> channel_options =
      ChannelOptionsFromFlags(flags.connection, std::getenv(kTokenEnvironmentVariable));
  if (!channel_options.ok()) return Fail(channel_options.status(), kUsageExitCode);
  const std::shared_ptr<grpc::Channel> channel = MakeExplainerChannel(flags.address, *channel_options);
  const Status connected = WaitForServer(*channel, flags);
  if (!connected.ok()) return Fail(connected, kFailureExitCode);
  if (run->options.health) {
    const Status serving = CheckHealth(channel, flags);
    return serving.ok() ? 0 : Fail(serving, kFailureExitCode);
  }
  const std::unique_ptr<v1::Explainer::Stub> stub = v1::Explainer::NewStub(channel);
  if (run->options.info) {
    const Status printed = PrintModelInfo(*stub, flags);
    if (!printed.ok()) return Fail(printed, kFailureExitCode);
  }
  return ExplainImages(*stub, *run) == 0 ? 0 : kFailureExitCode;
}

}  // namespace
}  // namespace camserve

int main(int argc, char** argv) { return camserve::Main(argc, argv); }
