#include "client/bench/grpc_explain_transport.h"

#include <chrono>
#include <utility>

#include "client/common/grpc_channel.h"

namespace camserve {
namespace {

// What one call needs to stay alive until gRPC calls back.
struct PendingCall {
  grpc::ClientContext context;
  v1::ExplainRequest request;
  v1::ExplainResponse response;
  ExplainTransport::DoneCallback done;
};

}  // namespace

GrpcExplainTransport::GrpcExplainTransport(std::shared_ptr<grpc::Channel> channel, v1::ExplainRequest request_template,
                                           int deadline_ms)
    : stub_(v1::Explainer::NewStub(std::move(channel))),
      request_template_(std::move(request_template)),
      deadline_ms_(deadline_ms) {}

void GrpcExplainTransport::Send(const std::string& image, DoneCallback done) {
  auto call = std::make_unique<PendingCall>();
  call->done = std::move(done);
  call->request = request_template_;
  call->request.set_image(image);
  call->request.set_request_id("bench-" + std::to_string(next_request_id_++));
  call->context.set_deadline(std::chrono::system_clock::now() + std::chrono::milliseconds(deadline_ms_));
  PendingCall* raw = call.release();
  stub_->async()->Explain(&raw->context, &raw->request, &raw->response, [raw](grpc::Status status) {
    std::unique_ptr<PendingCall> finished(raw);
    CallOutcome outcome = OutcomeFromResponse(status, finished->response);
    DoneCallback callback = std::move(finished->done);
    finished.reset();
    callback(std::move(outcome));
  });
}

CallOutcome OutcomeFromResponse(const grpc::Status& status, const v1::ExplainResponse& response) {
  CallOutcome outcome;
  const Status converted = FromGrpcStatus(status);
  outcome.code = converted.code();
  if (!converted.ok()) {
    outcome.error_message = converted.message();
    return outcome;
  }
  const v1::StageTimings& t = response.timings();
  outcome.stage_us = {t.queue_us(),  t.preprocess_us(), t.forward_us(),   t.backward_us(),  t.cam_us(),
                      t.encode_us(), t.total_us(),      t.cache_get_us(), t.cache_put_us(), t.decode_us()};
  outcome.batch_size = response.batch_size();
  outcome.cache_hit = response.cache_hit();
  return outcome;
}

}  // namespace camserve
