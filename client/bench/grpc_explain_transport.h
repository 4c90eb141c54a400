// GrpcExplainTransport: sends camserve-bench's requests to camserve with
// gRPC's callback API, so that one process holds any number of outstanding
// requests without a thread per request. Each request is a copy of a
// template (model, method, layer, encoding, ...) with the image set and a
// request_id "bench-N".
//
// Thread-safety: Send may be called from any number of threads; `done` runs
// on a gRPC thread (see ExplainTransport).
// Ownership: shares the channel; the object must outlive every request it
// has started (callers wait for all `done` calls before destroying it).
// Errors: every failure is a CallOutcome with the gRPC code and message; a
// request that takes longer than `deadline_ms` ends DEADLINE_EXCEEDED.
// Cost: one copy of the template and of the image bytes per request.
#pragma once

#include <grpcpp/grpcpp.h>

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>

#include "camserve/v1/explainer.grpc.pb.h"
#include "client/bench/explain_transport.h"

namespace camserve {

class GrpcExplainTransport : public ExplainTransport {
 public:
  // REQUIRES: deadline_ms >= 1.
  GrpcExplainTransport(std::shared_ptr<grpc::Channel> channel, v1::ExplainRequest request_template, int deadline_ms);

  void Send(const std::string& image, DoneCallback done) override;

  // -- implementation details follow ---------------------------------------
 private:
  std::unique_ptr<v1::Explainer::Stub> stub_;
  const v1::ExplainRequest request_template_;
  const int deadline_ms_;
  std::atomic<uint64_t> next_request_id_{0};
};

// The outcome of a finished call: the status, and the response's timings,
// batch size and cache flag when it is OK.
CallOutcome OutcomeFromResponse(const grpc::Status& status, const v1::ExplainResponse& response);

}  // namespace camserve
