// ExplainStreamReactor: one ExplainStream call. It reads requests one by
// one and hands each to the pipeline, writes the responses one at a time in
// completion order (a failed request is a response with `error` set), and
// finishes once the client has half-closed (or the call ended) and nothing
// is in flight.
//
// Flow control: at most `max_inflight` requests are running or waiting to
// be sent; while that many are, the reactor does not read, so a client that
// sends without reading its responses is held by HTTP/2 flow control and
// costs the server at most max_inflight responses, each counted in the
// pipeline's in-flight byte budget until it is written.
//
// Thread-safety: gRPC and the pipeline call it from their threads; mu_
// guards its state. gRPC operations (StartRead, StartWrite, Finish) are
// decided under the lock and started after it is released, so OnDone, which
// deletes the reactor, never runs while a method still holds the lock.
// Ownership: deletes itself in OnDone.
#pragma once

#include <deque>
#include <memory>
#include <optional>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "camserve/v1/explainer.grpc.pb.h"
#include "core/serving/explain_pipeline.h"

namespace camserve {

class ExplainStreamReactor final : public grpc::ServerBidiReactor<v1::ExplainRequest, v1::ExplainResponse> {
 public:
  // REQUIRES: max_inflight >= 1.
  ExplainStreamReactor(ExplainPipeline* pipeline, grpc::CallbackServerContext* context, int max_inflight);

  void OnReadDone(bool ok) override ABSL_LOCKS_EXCLUDED(mu_);
  void OnWriteDone(bool ok) override ABSL_LOCKS_EXCLUDED(mu_);
  void OnCancel() override ABSL_LOCKS_EXCLUDED(mu_);
  void OnDone() override { delete this; }

 private:
  // The gRPC operations to start once the lock is released.
  struct Actions {
    const v1::ExplainResponse* write = nullptr;
    bool read = false;
    std::optional<grpc::Status> finish;
  };

  void OnExplained(const Status& status, ExplainReply reply) ABSL_LOCKS_EXCLUDED(mu_);
  Actions NextActionsLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void Perform(const Actions& actions);
  int InflightLocked() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return running_ + static_cast<int>(outbox_.size()); }

  ExplainPipeline* const pipeline_;
  grpc::CallbackServerContext* const context_;
  const int max_inflight_;
  // The read buffer, refilled by each read; only touched between StartRead
  // and OnReadDone's hand-over to the pipeline, never concurrently.
  v1::ExplainRequest request_;
  absl::Mutex mu_;
  // Handed to the pipeline, not yet answered.
  int running_ ABSL_GUARDED_BY(mu_) = 0;
  // An answer waiting to be written, with its share of the in-flight budget,
  // kept until it is written.
  struct Outgoing {
    std::unique_ptr<v1::ExplainResponse> response;
    std::shared_ptr<const void> budget_share;
  };
  // The front one is being written while writing_.
  std::deque<Outgoing> outbox_ ABSL_GUARDED_BY(mu_);
  bool writing_ ABSL_GUARDED_BY(mu_) = false;
  bool reading_ ABSL_GUARDED_BY(mu_) = false;
  // A read was not started because max_inflight requests were in flight.
  bool read_paused_ ABSL_GUARDED_BY(mu_) = false;
  bool reads_done_ ABSL_GUARDED_BY(mu_) = false;
  bool cancelled_ ABSL_GUARDED_BY(mu_) = false;
  bool write_failed_ ABSL_GUARDED_BY(mu_) = false;
  bool finished_ ABSL_GUARDED_BY(mu_) = false;
};

}  // namespace camserve
