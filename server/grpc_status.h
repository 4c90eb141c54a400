// The one place where camserve::Status becomes grpc::Status (same code, same
// message: camserve's codes use gRPC's numbering).
#pragma once

#include <grpcpp/support/status.h>

#include "core/util/status.h"

namespace camserve {

grpc::Status ToGrpcStatus(const Status& status);

}  // namespace camserve
