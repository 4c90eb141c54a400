#include "server/explain_stream_reactor.h"

#include "server/proto_conversion.h"

namespace camserve {

ExplainStreamReactor::ExplainStreamReactor(ExplainPipeline* pipeline, grpc::CallbackServerContext* context,
                                           int max_inflight)
    : pipeline_(pipeline), context_(context), max_inflight_(max_inflight) {
  {
    absl::MutexLock lock(&mu_);
    reading_ = true;
  }
  StartRead(&request_);
}

void ExplainStreamReactor::OnReadDone(bool ok) {
  if (!ok) {
    Actions actions;
    {
      absl::MutexLock lock(&mu_);
      reading_ = false;
      reads_done_ = true;
      actions = NextActionsLocked();
    }
    return Perform(actions);
  }
  ExplainRequest request = ExplainRequestFromProto(&request_, "ExplainStream");
  Actions actions;
  {
    absl::MutexLock lock(&mu_);
    reading_ = false;
    ++running_;
    read_paused_ = true;  // NextActionsLocked resumes at once if there is room
    actions = NextActionsLocked();
  }
  pipeline_->Submit(std::move(request), CallContextOf(context_, pipeline_->clock()),
                    [this](const Status& status, ExplainReply reply) { OnExplained(status, std::move(reply)); });
  Perform(actions);
}

void ExplainStreamReactor::OnExplained(const Status& status, ExplainReply reply) {
  Outgoing outgoing{std::make_unique<v1::ExplainResponse>(), std::move(reply.budget_share)};
  if (status.ok()) {
    FillResponse(std::move(reply), outgoing.response.get());
  } else {
    FillErrorResponse(reply.request_id, status, outgoing.response.get());
  }
  Actions actions;
  {
    absl::MutexLock lock(&mu_);
    --running_;
    outbox_.push_back(std::move(outgoing));
    actions = NextActionsLocked();
  }
  Perform(actions);
}

void ExplainStreamReactor::OnWriteDone(bool ok) {
  Actions actions;
  {
    absl::MutexLock lock(&mu_);
    writing_ = false;
    outbox_.pop_front();
    if (!ok) write_failed_ = true;
    actions = NextActionsLocked();
  }
  Perform(actions);
}

void ExplainStreamReactor::OnCancel() {
  Actions actions;
  {
    absl::MutexLock lock(&mu_);
    cancelled_ = true;
    actions = NextActionsLocked();
  }
  Perform(actions);
}

ExplainStreamReactor::Actions ExplainStreamReactor::NextActionsLocked() {
  Actions actions;
  const bool broken = cancelled_ || write_failed_;
  if (broken && !writing_) outbox_.clear();  // nobody will read them
  if (!broken && !writing_ && !outbox_.empty()) {
    writing_ = true;
    actions.write = outbox_.front().response.get();
  }
  if (!broken && read_paused_ && !reads_done_ && InflightLocked() < max_inflight_) {
    read_paused_ = false;
    reading_ = true;
    actions.read = true;
  }
  const bool no_more_requests = reads_done_ || (broken && !reading_);
  if (!finished_ && no_more_requests && running_ == 0 && !writing_ && outbox_.empty()) {
    finished_ = true;
    actions.finish = cancelled_ ? grpc::Status(grpc::CANCELLED, "stream cancelled") : grpc::Status::OK;
  }
  return actions;
}

void ExplainStreamReactor::Perform(const Actions& actions) {
  if (actions.write != nullptr) StartWrite(actions.write);
  if (actions.read) StartRead(&request_);
  if (actions.finish.has_value()) Finish(*actions.finish);
}

}  // namespace camserve
