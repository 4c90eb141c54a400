// Logging: camserve's process-wide spdlog setup and its access log.
//
// Text format:  2026-11-23 10:00:00.123 info  message
// JSON format:  {"time":"2026-11-23T10:00:00.123Z","level":"info","logger":"camserve","msg":"message"}
//               one object per line; access lines carry their fields at the
//               top level instead of a msg ({"time":..,"level":"info",
//               "logger":"access","request_id":"r1","model":..}).
// Everything goes to stderr (containers collect it from there).
//
// Thread-safety: ConfigureLogging once at start-up, before other threads log;
// LogAccess from any thread (spdlog's loggers are thread-safe).
// Errors: INVALID_ARGUMENT for an unknown level or format.
#pragma once

#include <cstdint>
#include <string>

#include "core/util/status.h"

namespace camserve {

// level: trace, debug, info, warn, error; format: text or json.
Status ConfigureLogging(const std::string& level, const std::string& format);

// One finished request.
struct AccessRecord {
  std::string request_id;
  std::string rpc;  // "Explain" or "ExplainStream"
  std::string model;
  std::string method;
  std::string status;   // gRPC code name: OK, INVALID_ARGUMENT, ...
  std::string message;  // error message; empty when OK
  int64_t latency_us = 0;
  bool cache_hit = false;
  int batch_size = 0;  // 0: never reached the engine
};

// Logs `record` at info (OK) or warn (errors) on the "access" logger.
void LogAccess(const AccessRecord& record);

// The record as one line, in the configured format (for tests and tools).
std::string FormatAccessText(const AccessRecord& record);
std::string FormatAccessJsonFields(const AccessRecord& record);

// `text` as a JSON string literal, quotes included.
std::string JsonQuote(const std::string& text);

}  // namespace camserve
