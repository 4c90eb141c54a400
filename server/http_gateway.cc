#include "server/http_gateway.h"

#include <google/protobuf/util/json_util.h>
#include <httplib.h>
#include <openssl/ssl.h>

#include <algorithm>
#include <cstdlib>
#include <nlohmann/json.hpp>
#include <optional>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/synchronization/mutex.h"
#include "core/util/thread_name.h"
#include "server/explorer_assets.h"
#include "server/model_info.h"
#include "server/proto_conversion.h"

namespace camserve {

int HttpStatusOf(StatusCode code) {
  switch (code) {
    case StatusCode::kOk: return 200;
    case StatusCode::kInvalidArgument:
    case StatusCode::kFailedPrecondition:
    case StatusCode::kOutOfRange: return 400;
    case StatusCode::kUnauthenticated: return 401;
    case StatusCode::kPermissionDenied: return 403;
    case StatusCode::kNotFound: return 404;
    case StatusCode::kAlreadyExists: return 409;
    case StatusCode::kResourceExhausted: return 429;
    case StatusCode::kCancelled: return 499;
    case StatusCode::kUnimplemented: return 501;
    case StatusCode::kUnavailable: return 503;
    case StatusCode::kDeadlineExceeded: return 504;
    default: return 500;
  }
}

struct HttpGateway::Request {
  std::string method;
  std::string path;
  std::optional<std::string> authorization;
  std::optional<std::string> timeout_ms;
  // httplib's request body, which outlives the handler's work: not copied.
  std::string_view body;
};

struct HttpGateway::Response {
  int status = 200;
  std::string body;
  const char* content_type = "application/json";
  // A bounded label for camserve_http_requests_total: a string literal (or
  // other static storage), since it is read after the handler returns.
  const char* route = "unknown";
  // Kept until the body is sent: the answers' shares of the in-flight budget.
  std::vector<std::shared_ptr<const void>> budget_shares;
};

namespace {

constexpr char kTimeoutHeader[] = "X-Camserve-Timeout-Ms";

// The JSON of an error answer: {"error": message, "code": "INVALID_ARGUMENT"}.
std::string ErrorBody(const Status& status) {
  return nlohmann::json{{"error", status.message()}, {"code", StatusCodeName(status.code())}}.dump();
}

HttpGateway::Response ErrorResponse(const Status& status, const char* route) {
  HttpGateway::Response response;
  response.status = HttpStatusOf(status.code());
  response.body = ErrorBody(status);
  response.route = route;
  return response;
}

HttpGateway::Response JsonResponse(std::string body, const char* route) {
  HttpGateway::Response response;
  response.body = std::move(body);
  response.route = route;
  return response;
}

google::protobuf::util::JsonPrintOptions PrintOptions() {
  google::protobuf::util::JsonPrintOptions options;
  options.always_print_primitive_fields = true;
  return options;
}

std::string ToJson(const google::protobuf::Message& message) {
  std::string json;
  const auto status = google::protobuf::util::MessageToJsonString(message, &json, PrintOptions());
  if (!status.ok()) throw std::runtime_error("cannot print " + message.GetTypeName() + " as JSON");
  return json;
}

// Parses `json` into `message`; INVALID_ARGUMENT naming `what` otherwise.
Status FromJson(std::string_view json, google::protobuf::Message* message, const std::string& what) {
  google::protobuf::util::JsonParseOptions options;
  options.ignore_unknown_fields = false;
  const auto status = google::protobuf::util::JsonStringToMessage(
      google::protobuf::StringPiece(json.data(), json.size()), message, options);
  if (status.ok()) return Status::Ok();
  return InvalidArgumentError(what + " is not a " + message->GetTypeName() +
                              " in protobuf's JSON mapping: " + std::string(status.message()));
}

// The request's deadline from its timeout header; unset without one.
StatusOr<CallContext> CallContextOf(const HttpGateway::Request& request, const Clock& clock) {
  CallContext context;
  if (!request.timeout_ms) return context;
  char* end = nullptr;
  const long long timeout_ms = std::strtoll(request.timeout_ms->c_str(), &end, 10);
  if (request.timeout_ms->empty() || *end != '\0' || timeout_ms <= 0 || timeout_ms > 86'400'000) {
    return InvalidArgumentError(std::string(kTimeoutHeader) + " must be a number of milliseconds from 1 to 86400000");
  }
  context.deadline_us = clock.NowMicros() + timeout_ms * 1000;
  return context;
}

// Holds the in-flight budget for parsing a JSON body: the body, and for
// KServe's envelope the DOM nlohmann builds (up to twice 16 bytes per value,
// counted from the commas: a tensor of numbers costs far more parsed than as
// text). UNAVAILABLE when the budget cannot take it now.
StatusOr<InflightBudget::Reservation> ReserveForParsing(ExplainPipeline& pipeline, std::string_view body, bool dom) {
  int64_t bytes = static_cast<int64_t>(body.size());
  if (dom) {
    const int64_t values = std::count(body.begin(), body.end(), ',') + 1;
    bytes += 2 * static_cast<int64_t>(sizeof(nlohmann::json)) * values;
  }
  std::optional<InflightBudget::Reservation> reservation = pipeline.ReserveTransportBytes(bytes);
  if (!reservation) {
    return UnavailableError("the server's in-flight memory budget (limits.max_inflight_bytes) cannot take this " +
                            std::to_string(bytes) + "-byte JSON request now; retry later");
  }
  return std::move(*reservation);
}

struct Answer {
  Status status = InternalError("no answer");
  ExplainReply reply;
};

// Submits every request to the pipeline and waits for all answers.
std::vector<Answer> ExplainAll(ExplainPipeline& pipeline, std::vector<v1::ExplainRequest>& requests, const char* rpc,
                               const CallContext& context) {
  struct Waiter {
    absl::Mutex mutex;
    size_t pending ABSL_GUARDED_BY(mutex) = 0;
    std::vector<Answer> answers ABSL_GUARDED_BY(mutex);
  };
  auto waiter = std::make_shared<Waiter>();
  {
    absl::MutexLock lock(&waiter->mutex);
    waiter->pending = requests.size();
    waiter->answers.resize(requests.size());
  }
  for (size_t i = 0; i < requests.size(); ++i) {
    pipeline.Submit(ExplainRequestFromProto(&requests[i], rpc), context,
                    [waiter, i](const Status& status, ExplainReply reply) {
                      absl::MutexLock lock(&waiter->mutex);
                      waiter->answers[i] = Answer{status, std::move(reply)};
                      --waiter->pending;
                    });
  }
  absl::MutexLock lock(&waiter->mutex);
  waiter->mutex.Await(absl::Condition(
      +[](size_t* pending) { return *pending == 0; }, &waiter->pending));
  return std::move(waiter->answers);
}

// A KServe instance's image or tensor, into `request`.
Status SetInstance(const nlohmann::json& instance, v1::ExplainRequest* request) {
  const nlohmann::json* b64 = nullptr;
  if (instance.is_string()) {
    b64 = &instance;
  } else if (instance.is_object() && instance.contains("b64")) {
    b64 = &instance["b64"];
  } else if (instance.is_object() && instance.contains("image_bytes") && instance["image_bytes"].is_object() &&
             instance["image_bytes"].contains("b64")) {
    b64 = &instance["image_bytes"]["b64"];
  }
  if (b64 != nullptr) {
    std::string image;
    if (!b64->is_string() || !absl::Base64Unescape(b64->get_ref<const std::string&>(), &image)) {
      return InvalidArgumentError("its b64 value is not base64");
    }
    request->set_image(std::move(image));
    return Status::Ok();
  }
  if (!instance.is_array()) {
    return InvalidArgumentError(
        "expected {\"b64\": ...}, {\"image_bytes\": {\"b64\": ...}} or a tensor (nested lists of numbers, [3, H, W] "
        "or [1, 3, H, W])");
  }
  // A tensor: nested lists of numbers, rectangular, at most 4 levels.
  std::vector<int64_t> shape;
  for (const nlohmann::json* level = &instance; level->is_array(); level = &level->front()) {
    if (shape.size() == 4) return InvalidArgumentError("a tensor has at most 4 dimensions");
    shape.push_back(static_cast<int64_t>(level->size()));
    if (level->empty()) return InvalidArgumentError("a tensor has no empty dimension");
  }
  std::string data;
  std::vector<std::pair<const nlohmann::json*, size_t>> stack = {{&instance, 0}};
  while (!stack.empty()) {
    auto& [list, depth] = stack.back();
    const nlohmann::json* current = list;
    const size_t level = depth;
    stack.pop_back();
    if (!current->is_array() || static_cast<int64_t>(current->size()) != shape[level]) {
      return InvalidArgumentError("the tensor is not rectangular (shape " + std::to_string(shape.size()) + "-d)");
    }
    if (level + 1 == shape.size()) {
      for (const nlohmann::json& value : *current) {
        if (!value.is_number()) return InvalidArgumentError("a tensor holds numbers only");
        const float number = value.get<float>();
        data.append(reinterpret_cast<const char*>(&number), sizeof(number));
      }
      continue;
    }
    for (auto it = current->rbegin(); it != current->rend(); ++it) stack.push_back({&*it, level + 1});
  }
  v1::Tensor* tensor = request->mutable_tensor();
  for (int64_t size : shape) tensor->add_shape(size);
  tensor->set_data(std::move(data));
  return Status::Ok();
}

// What :predict returns per instance: the explanation's classification.
std::string PredictionJson(const v1::ExplainResponse& response) {
  v1::ExplainResponse prediction;
  prediction.set_target_class(response.target_class());
  prediction.set_target_label(response.target_label());
  prediction.set_target_probability(response.target_probability());
  *prediction.mutable_top_k() = response.top_k();
  google::protobuf::util::JsonPrintOptions options;  // no defaults: only these fields
  std::string json;
  google::protobuf::util::MessageToJsonString(prediction, &json, options);
  return json;
}

// Our certificate chain, key and client CA, TLS 1.2 at least; false when
// they cannot be used.
bool SetUpTls(const HttpGateway::Options& options, SSL_CTX& context) {
  SSL_CTX_set_min_proto_version(&context, TLS1_2_VERSION);
  if (SSL_CTX_use_certificate_chain_file(&context, options.tls_cert_file.c_str()) != 1 ||
      SSL_CTX_use_PrivateKey_file(&context, options.tls_key_file.c_str(), SSL_FILETYPE_PEM) != 1 ||
      SSL_CTX_check_private_key(&context) != 1) {
    return false;
  }
  if (!options.tls_client_ca_file.empty()) {
    if (SSL_CTX_load_verify_locations(&context, options.tls_client_ca_file.c_str(), nullptr) != 1) return false;
    SSL_CTX_set_verify(&context, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, nullptr);
  }
  return true;
}

// HOST and PORT of HOST:PORT ([::1]:PORT too); port -1 when malformed.
std::pair<std::string, int> SplitAddress(const std::string& address) {
  const size_t colon = address.rfind(':');
  if (colon == std::string::npos) return {address, -1};
  std::string host = address.substr(0, colon);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  char* end = nullptr;
  const long port = std::strtol(address.c_str() + colon + 1, &end, 10);
  if (colon + 1 == address.size() || *end != '\0' || port < 0 || port > 65535) return {host, -1};
  return {host, static_cast<int>(port)};
}

}  // namespace

HttpGateway::HttpGateway(const Options& options, ExplainPipeline* pipeline, ModelRegistry* registry,
                         CallAuthenticator authenticator, ServerMetrics* metrics)
    : options_(options),
      pipeline_(pipeline),
      registry_(registry),
      authenticator_(std::move(authenticator)),
      metrics_(metrics) {}

StatusOr<std::unique_ptr<HttpGateway>> HttpGateway::Start(const Options& options, ExplainPipeline* pipeline,
                                                          ModelRegistry* registry, CallAuthenticator authenticator,
                                                          ServerMetrics* metrics) {
  if (pipeline == nullptr || registry == nullptr)
    return InvalidArgumentError("HttpGateway needs a pipeline and models");
  if (options.threads < 1) return InvalidArgumentError("HttpGateway needs at least one thread");
  if (options.tls_cert_file.empty() != options.tls_key_file.empty()) {
    return InvalidArgumentError("HTTPS needs both a certificate and a key");
  }
  const auto [host, port] = SplitAddress(options.listen);
  if (port < 0) return InvalidArgumentError("cannot serve HTTP on " + options.listen + ": not HOST:PORT");
  std::unique_ptr<HttpGateway> gateway(new HttpGateway(options, pipeline, registry, std::move(authenticator), metrics));
  HttpGateway* self = gateway.get();
  if (options.tls_cert_file.empty()) {
    gateway->server_ = std::make_unique<httplib::Server>();
  } else {
    gateway->server_ =
        std::make_unique<httplib::SSLServer>([self](SSL_CTX& context) { return SetUpTls(self->options_, context); });
    if (!gateway->server_->is_valid()) {
      return UnavailableError("cannot serve HTTPS on " + options.listen +
                              ": the TLS certificate, key or client CA cannot be used");
    }
  }
  httplib::Server& server = *gateway->server_;
  const int threads = options.threads;
  server.new_task_queue = [threads] { return new httplib::ThreadPool(static_cast<size_t>(threads)); };
  server.set_payload_max_length(static_cast<size_t>(options.max_body_bytes));
  server.set_keep_alive_timeout(5);
  auto handle = [self](const httplib::Request& http_request, httplib::Response& http_response) {
    Request request;
    request.method = http_request.method;
    request.path = http_request.path;
    if (http_request.has_header("Authorization"))
      request.authorization = http_request.get_header_value("Authorization");
    if (http_request.has_header(kTimeoutHeader)) request.timeout_ms = http_request.get_header_value(kTimeoutHeader);
    request.body = http_request.body;
    Response response;
    try {
      response = self->Serve(request);
    } catch (const std::exception& e) {
      response = ErrorResponse(InternalError(std::string("HTTP request failed: ") + e.what()), "unknown");
    }
    http_response.status = response.status;
    http_response.set_header("Cache-Control", "no-store");
    http_response.set_header("X-Content-Type-Options", "nosniff");
    if (std::string_view(response.content_type).rfind("text/html", 0) == 0) {
      // The explorer runs only its own script and talks only to this server.
      http_response.set_header("Content-Security-Policy",
                               "default-src 'self'; img-src 'self' blob: data:; frame-ancestors 'none'");
    }
    http_response.set_content(std::move(response.body), response.content_type);
    if (self->metrics_ != nullptr) self->metrics_->RecordHttpRequest(response.route, response.status);
  };
  server.Get(".*", handle);
  server.Post(".*", handle);
  // What httplib answers itself (a body above the limit, another method).
  server.set_error_handler([self](const httplib::Request& http_request, httplib::Response& http_response) {
    if (!http_response.body.empty()) return;
    const Status status =
        http_response.status == 413
            ? ResourceExhaustedError("the request body exceeds " + std::to_string(self->options_.max_body_bytes) +
                                     " bytes")
            : InvalidArgumentError(http_request.method + " " + http_request.path + " is not served (docs/http.md)");
    http_response.set_content(ErrorBody(status), "application/json");
    if (self->metrics_ != nullptr) self->metrics_->RecordHttpRequest("unknown", http_response.status);
  });
  const int bound = port == 0 ? server.bind_to_any_port(host) : (server.bind_to_port(host, port) ? port : -1);
  if (bound <= 0) {
    return UnavailableError("cannot serve HTTP on " + options.listen + ": address in use or not local");
  }
  gateway->port_ = bound;
  gateway->listener_ = std::thread([self] {
    // The request threads httplib starts from here inherit the name.
    SetCurrentThreadName("http-server");
    self->server_->listen_after_bind();
  });
  return gateway;
}

HttpGateway::~HttpGateway() {
  if (server_) server_->stop();
  if (listener_.joinable()) listener_.join();
}

bool HttpGateway::Ready() const { return !draining_ && registry_->healthy(); }

HttpGateway::Response HttpGateway::Serve(const Request& request) {
  const std::string& path = request.path;
  if (path == "/v2/health/live") return JsonResponse(nlohmann::json{{"live", true}}.dump(), "health_live");
  if (path == "/v2/health/ready") {
    const bool ready = Ready();
    Response response = JsonResponse(nlohmann::json{{"ready", ready}}.dump(), "health_ready");
    if (!ready) response.status = 503;
    return response;
  }
  // The explorer page: static files, no token (its API calls need one).
  for (const ExplorerAsset& asset : ExplorerAssets()) {
    if (path == asset.path || (path == "/" && std::string_view(asset.path) == "/index.html")) {
      if (request.method != "GET") break;
      Response response = JsonResponse(std::string(asset.body), "explorer");
      response.content_type = asset.content_type;
      return response;
    }
  }
  // The routes below need a token (when the server has a token file).
  const char* route = "unknown";
  std::string model;
  bool post = true;
  bool explain = false;
  static constexpr std::string_view kModels = "/v1/models/";
  if (path == "/v1/explain") {
    route = "explain";
  } else if (path == "/v1/models") {
    route = "models";
    post = false;
  } else if (path.rfind(kModels, 0) == 0) {
    const std::string rest = path.substr(kModels.size());
    const size_t colon = rest.rfind(':');
    model = rest.substr(0, colon);
    if (colon == std::string::npos) {
      route = "model";
      post = false;
    } else if (rest.substr(colon + 1) == "predict") {
      route = "kserve_predict";
    } else if (rest.substr(colon + 1) == "explain") {
      route = "kserve_explain";
      explain = true;
    } else {
      return ErrorResponse(NotFoundError("no route " + path + ": a model's verbs are :predict and :explain"),
                           "unknown");
    }
    if (model.empty() || model.find('/') != std::string::npos) {
      return ErrorResponse(NotFoundError("no route " + path + ": expected /v1/models/{model}[:predict|:explain]"),
                           "unknown");
    }
  } else {
    return ErrorResponse(NotFoundError("no route " + path +
                                       "; camserve serves GET / (the explorer page), POST /v1/explain, GET /v1/models, "
                                       "GET /v1/models/{model}, POST /v1/models/{model}:predict and :explain, GET "
                                       "/v2/health/live and /v2/health/ready (docs/http.md)"),
                         "unknown");
  }
  if (request.method != (post ? "POST" : "GET")) {
    Response response = ErrorResponse(
        InvalidArgumentError(std::string(route) + " takes " + (post ? "POST" : "GET") + ", not " + request.method),
        route);
    response.status = 405;
    return response;
  }
  std::optional<std::string_view> authorization;
  if (request.authorization) authorization = *request.authorization;
  const Status allowed =
      authenticator_.CheckAuthorization(authorization, (std::string("HTTP ") + route).c_str(), TokenRole::kUser);
  if (!allowed.ok()) return ErrorResponse(allowed, route);
  if (draining_) return ErrorResponse(UnavailableError("the server is shutting down"), route);
  if (route == std::string_view("explain")) return ServeExplain(request);
  if (route == std::string_view("models")) return ServeModels();
  if (route == std::string_view("model")) return ServeModel(model);
  return ServeKserve(request, model, explain);
}

HttpGateway::Response HttpGateway::ServeExplain(const Request& request) {
  static constexpr char kRoute[] = "explain";  // static: Response keeps the pointer
  std::vector<v1::ExplainRequest> requests(1);
  StatusOr<InflightBudget::Reservation> parsing = ReserveForParsing(*pipeline_, request.body, /*dom=*/false);
  if (!parsing.ok()) return ErrorResponse(parsing.status(), kRoute);
  const Status parsed = FromJson(request.body, &requests[0], "the request body");
  parsing->Release();  // the pipeline reserves the request's own share
  if (!parsed.ok()) return ErrorResponse(parsed, kRoute);
  StatusOr<CallContext> context = CallContextOf(request, pipeline_->clock());
  if (!context.ok()) return ErrorResponse(context.status(), kRoute);
  std::vector<Answer> answers = ExplainAll(*pipeline_, requests, "HTTP /v1/explain", *context);
  if (!answers[0].status.ok()) return ErrorResponse(answers[0].status, kRoute);
  Response response;
  response.route = kRoute;
  response.budget_shares.push_back(answers[0].reply.budget_share);
  v1::ExplainResponse message;
  FillResponse(std::move(answers[0].reply), &message);
  response.body = ToJson(message);
  return response;
}

HttpGateway::Response HttpGateway::ServeKserve(const Request& request, const std::string& model, bool explain) {
  const char* route = explain ? "kserve_explain" : "kserve_predict";
  StatusOr<InflightBudget::Reservation> parsing = ReserveForParsing(*pipeline_, request.body, /*dom=*/true);
  if (!parsing.ok()) return ErrorResponse(parsing.status(), route);
  nlohmann::json body = nlohmann::json::parse(request.body, nullptr, /*allow_exceptions=*/false);
  if (body.is_discarded()) return ErrorResponse(InvalidArgumentError("the request body is not JSON"), route);
  if (!body.is_object() || !body.contains("instances") || !body["instances"].is_array() || body["instances"].empty()) {
    return ErrorResponse(InvalidArgumentError("expected {\"instances\": [one or more images or tensors], "
                                              "\"parameters\": {...}} (KServe v1)"),
                         route);
  }
  // Parameters are ExplainRequest fields (method, targetLayer, targetClass,
  // topK, resolution, encoding, evaluate, bypassCache, priority, requestId).
  v1::ExplainRequest base;
  if (body.contains("parameters")) {
    if (!body["parameters"].is_object()) {
      return ErrorResponse(InvalidArgumentError("parameters must be an object of ExplainRequest fields"), route);
    }
    const Status parsed = FromJson(body["parameters"].dump(), &base, "parameters");
    if (!parsed.ok()) return ErrorResponse(parsed, route);
    if (base.input_case() != v1::ExplainRequest::INPUT_NOT_SET) {
      return ErrorResponse(InvalidArgumentError("parameters carry no image or tensor: those are the instances"), route);
    }
    if (!base.model().empty() && base.model() != model) {
      return ErrorResponse(
          InvalidArgumentError("parameters name model '" + base.model() + "' but the path names '" + model + "'"),
          route);
    }
  }
  base.set_model(model);
  if (!explain) {
    // Only the classification is returned: the smallest heatmap.
    base.set_resolution(v1::HEATMAP_RESOLUTION_FEATURE);
    base.set_encoding(v1::HEATMAP_ENCODING_UINT8);
  }
  const nlohmann::json& instances = body["instances"];
  std::vector<v1::ExplainRequest> requests(instances.size(), base);
  for (size_t i = 0; i < instances.size(); ++i) {
    if (!base.request_id().empty()) requests[i].set_request_id(base.request_id() + "/" + std::to_string(i));
    const Status set = SetInstance(instances[i], &requests[i]);
    if (!set.ok()) {
      return ErrorResponse(Status(set.code(), "instance " + std::to_string(i) + ": " + set.message()), route);
    }
  }
  body = nlohmann::json();  // the images are in the requests now
  parsing->Release();       // the pipeline reserves each request's own share
  StatusOr<CallContext> context = CallContextOf(request, pipeline_->clock());
  if (!context.ok()) return ErrorResponse(context.status(), route);
  std::vector<Answer> answers = ExplainAll(*pipeline_, requests, explain ? "HTTP :explain" : "HTTP :predict", *context);
  for (size_t i = 0; i < answers.size(); ++i) {
    const Status& status = answers[i].status;
    if (!status.ok()) {
      return ErrorResponse(
          Status(status.code(), (answers.size() > 1 ? "instance " + std::to_string(i) + ": " : "") + status.message()),
          route);
    }
  }
  Response response;
  response.route = route;
  std::string predictions;
  std::string explanations;
  for (Answer& answer : answers) {
    response.budget_shares.push_back(answer.reply.budget_share);
    v1::ExplainResponse message;
    FillResponse(std::move(answer.reply), &message);
    predictions += (predictions.empty() ? "" : ",") + PredictionJson(message);
    if (explain) explanations += (explanations.empty() ? "" : ",") + ToJson(message);
  }
  // Each element is protobuf's JSON of a message; the envelope joins them.
  response.body = "{\"predictions\":[" + predictions + "]";
  if (explain) response.body += ",\"explanations\":[" + explanations + "]";
  response.body += "}";
  return response;
}

HttpGateway::Response HttpGateway::ServeModel(const std::string& model) {
  v1::GetModelInfoResponse info;
  const Status found = FillModelInfo(*registry_, model, &info);
  if (!found.ok()) return ErrorResponse(found, "model");
  nlohmann::ordered_json body = {{"name", model}, {"ready", Ready()}};
  body["info"] = nlohmann::ordered_json::parse(ToJson(info.models(0)));
  return JsonResponse(body.dump(), "model");
}

HttpGateway::Response HttpGateway::ServeModels() {
  return JsonResponse(nlohmann::json{{"models", registry_->names()}}.dump(), "models");
}

}  // namespace camserve
