// Logging: camserve's process-wide spdlog setup and its access log.
//
// Text format:  2026-11-23 10:00:00.123 info  message
// JSON format:  {"time":"2026-11-23T10:00:00.123Z","level":"info","logger":"camserve","msg":"message"}
//               one object per line; access lines carry their fields at the
//               top level after "msg":"access" ({"time":..,"level":"info",
//               "logger":"access","msg":"access","request_id":"r1",..}).
// Everything goes to stderr (containers collect it from there).
//
// Clients choose request ids and model names, so no string may break a line
// or pose as a field: every JSON line is written by nlohmann-json, which
// escapes quotes, backslashes and control characters and replaces invalid
// UTF-8 with U+FFFD, so a line is always one valid JSON object in valid UTF-8.
// The text access line gives every client string (request_id, model, method,
// message) as a JSON string literal under the same rules, so one request is
// one line and a key=value outside quotes is always the server's. Other text
// lines print their message as given.
//
// Thread-safety: ConfigureLogging once at start-up, before other threads log;
// LogAccess from any thread (spdlog's loggers are thread-safe).
// Errors: INVALID_ARGUMENT for an unknown level or format.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

#include "core/util/status.h"

namespace camserve {

// level: trace, debug, info, warn, error; format: text or json.
Status ConfigureLogging(const std::string& level, const std::string& format);

// One finished request.
struct AccessRecord {
  std::string request_id;
  std::string rpc;  // "Explain" or "ExplainStream"; any Explainer RPC for a refused call
  std::string model;
  std::string method;
  std::string status;   // gRPC code name: OK, INVALID_ARGUMENT, ...
  std::string message;  // error message; empty when OK
  int64_t latency_us = 0;
  bool cache_hit = false;
  int batch_size = 0;  // 0: never reached the engine
};

// Logs `record` at info (OK) or warning (errors) on the "access" logger.
void LogAccess(const AccessRecord& record);

// The lines LogAccess and the JSON format write, without the newline (for
// tests and tools). Text: what follows the "time level " prefix. JSON: the
// whole object; latency_ms is a number in the shortest form that reads back
// exactly (12.345, 5.23, 5.0).
std::string FormatAccessText(const AccessRecord& record);
std::string FormatAccessJson(const AccessRecord& record, std::chrono::system_clock::time_point time);
// `text` as a JSON string literal, quotes included, under the rules above:
// how any log message shows a client's string.
std::string QuoteForLog(const std::string& text);

// A line of any other logger in the JSON format; `level` as spdlog names it.
std::string FormatLogJson(std::chrono::system_clock::time_point time, const std::string& level,
                          const std::string& logger, const std::string& msg);

}  // namespace camserve
