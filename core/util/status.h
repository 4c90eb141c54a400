// Status and StatusOr: the error values that cross camserve's module
// boundaries. LibTorch throws c10::Error, RocksDB returns rocksdb::Status and
// gRPC wants grpc::Status; each module catches or converts at its edge and
// hands a camserve::Status upward. The codes mirror gRPC's so that the RPC
// layer maps them one-to-one in a single function.
//
// Both are [[nodiscard]]: a returned error cannot be dropped by accident.
//
// Thread-safety: values; a const Status may be read from many threads.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <utility>

namespace camserve {

enum class StatusCode {
  kOk = 0,
  kCancelled = 1,
  kUnknown = 2,
  kInvalidArgument = 3,
  kDeadlineExceeded = 4,
  kNotFound = 5,
  kAlreadyExists = 6,
  kPermissionDenied = 7,
  kResourceExhausted = 8,
  kFailedPrecondition = 9,
  kOutOfRange = 11,
  kUnimplemented = 12,
  kInternal = 13,
  kUnavailable = 14,
  kDataLoss = 15,
  kUnauthenticated = 16,
};

// Returns the canonical upper-case name ("INVALID_ARGUMENT") of a code.
const char* StatusCodeName(StatusCode code);

class [[nodiscard]] Status {
 public:
  Status() = default;
  Status(StatusCode code, std::string message) : code_(code), message_(std::move(message)) {}

  static Status Ok() { return Status(); }

  bool ok() const { return code_ == StatusCode::kOk; }
  StatusCode code() const { return code_; }
  const std::string& message() const { return message_; }
  // "INVALID_ARGUMENT: message", or "OK".
  std::string ToString() const;

 private:
  StatusCode code_ = StatusCode::kOk;
  std::string message_;
};

namespace internal {
// Prints "value() of a StatusOr holding <status>" to stderr and aborts.
[[noreturn]] void DieOfValueOfError(const Status& status);
}  // namespace internal

inline Status InvalidArgumentError(std::string m) { return Status(StatusCode::kInvalidArgument, std::move(m)); }
inline Status NotFoundError(std::string m) { return Status(StatusCode::kNotFound, std::move(m)); }
inline Status InternalError(std::string m) { return Status(StatusCode::kInternal, std::move(m)); }
inline Status FailedPreconditionError(std::string m) { return Status(StatusCode::kFailedPrecondition, std::move(m)); }
inline Status UnavailableError(std::string m) { return Status(StatusCode::kUnavailable, std::move(m)); }
inline Status ResourceExhaustedError(std::string m) { return Status(StatusCode::kResourceExhausted, std::move(m)); }
inline Status UnauthenticatedError(std::string m) { return Status(StatusCode::kUnauthenticated, std::move(m)); }
inline Status PermissionDeniedError(std::string m) { return Status(StatusCode::kPermissionDenied, std::move(m)); }

// INVALID_ARGUMENT for an option outside its range, in the one wording the
// components' Create use: "max_batch_size must be >= 1; was 0".
inline Status BadOptionError(const std::string& name, const std::string& rule, int64_t value) {
  return InvalidArgumentError(name + " must be " + rule + "; was " + std::to_string(value));
}

// Either a value or a non-OK Status. Reading the value of an error
// (value(), *, ->) is a programming error: it prints the Status to stderr
// and aborts the process, in every build type. Constructing one from an OK
// Status gives INTERNAL, since there is no value.
template <typename T>
class [[nodiscard]] StatusOr {
 public:
  StatusOr(Status status)  // NOLINT: implicit by design
      : status_(status.ok() ? InternalError("StatusOr constructed from an OK Status without a value")
                            : std::move(status)) {}
  StatusOr(T value) : value_(std::move(value)) {}  // NOLINT: implicit by design

  bool ok() const { return status_.ok(); }
  const Status& status() const { return status_; }
  T& value() & { return CheckedValue(); }
  const T& value() const& { return CheckedValue(); }
  T&& value() && { return std::move(CheckedValue()); }
  T* operator->() { return &CheckedValue(); }
  const T* operator->() const { return &CheckedValue(); }
  T& operator*() & { return CheckedValue(); }
  const T& operator*() const& { return CheckedValue(); }

 private:
  T& CheckedValue() {
    if (!value_.has_value()) internal::DieOfValueOfError(status_);
    return *value_;
  }
  const T& CheckedValue() const {
    if (!value_.has_value()) internal::DieOfValueOfError(status_);
    return *value_;
  }

  Status status_;
  std::optional<T> value_;
};

}  // namespace camserve

// Returns early from the enclosing function with the Status of `expr` when it
// is not OK.
#define CAMSERVE_RETURN_IF_ERROR(expr)   \
  do {                                   \
    ::camserve::Status _status = (expr); \
    if (!_status.ok()) return _status;   \
  } while (0)
