// Conversion between the camserve.v1 messages and the request pipeline's
// types (core/serving/explain_request.h), done once at the RPC edge.
//
// Thread-safety: pure functions.
// Errors: none returned; a field that cannot be converted (an enum value this
// server does not know, from a newer client) sets ExplainRequest::malformed
// to INVALID_ARGUMENT, which the pipeline answers.
#pragma once

#include <grpcpp/server_context.h>

#include "camserve/v1/explainer.pb.h"
#include "core/batching/clock.h"
#include "core/serving/explain_request.h"
#include "core/util/status.h"

namespace camserve {

// The request, with its input moved out of `proto` (which is left without
// image or tensor data).
ExplainRequest ExplainRequestFromProto(v1::ExplainRequest* proto, const char* rpc);

// As above for a request that must stay intact (a unary call's request):
// the input is copied.
ExplainRequest ExplainRequestFromProto(const v1::ExplainRequest& proto, const char* rpc);

// The call's deadline on `clock` (unset when the client sent none) and its
// cancellation. `context` must outlive the pipeline's use of the result.
CallContext CallContextOf(grpc::CallbackServerContext* context, const Clock& clock);

// Writes `reply` into `response` (which it clears first).
void FillResponse(ExplainReply reply, v1::ExplainResponse* response);

// The response of a stream request that failed: request_id and error only.
void FillErrorResponse(const std::string& request_id, const Status& status, v1::ExplainResponse* response);

}  // namespace camserve
