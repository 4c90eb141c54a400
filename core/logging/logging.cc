#include "core/logging/logging.h"

#include <spdlog/pattern_formatter.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include <cstdio>
#include <ctime>
#include <nlohmann/json.hpp>

namespace camserve {
namespace {

// Keys keep the order they are written in: time, level, logger first.
using Json = nlohmann::ordered_json;

// Set by ConfigureLogging, before other threads start.
bool json_format = false;
std::shared_ptr<spdlog::logger> access_logger;

// `value` on one line. Invalid UTF-8 becomes U+FFFD instead of an exception,
// so whatever bytes a client sent, the line is valid JSON in valid UTF-8.
std::string Dump(const Json& value) { return value.dump(-1, ' ', false, Json::error_handler_t::replace); }

// 2026-11-23T10:00:00.123Z
std::string Timestamp(std::chrono::system_clock::time_point time) {
  const auto since_epoch = time.time_since_epoch();
  const std::time_t seconds = std::chrono::duration_cast<std::chrono::seconds>(since_epoch).count();
  const int millis =
      static_cast<int>(std::chrono::duration_cast<std::chrono::milliseconds>(since_epoch).count() % 1000);
  std::tm utc{};
  gmtime_r(&seconds, &utc);
  char buffer[64];
  std::snprintf(buffer, sizeof(buffer), "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", utc.tm_year + 1900, utc.tm_mon + 1,
                utc.tm_mday, utc.tm_hour, utc.tm_min, utc.tm_sec, millis);
  return buffer;
}

// The fields every JSON line starts with.
Json LineHead(std::chrono::system_clock::time_point time, const std::string& level, const std::string& logger) {
  return Json{{"time", Timestamp(time)}, {"level", level}, {"logger", logger}};
}

std::string ToString(spdlog::string_view_t text) { return std::string(text.data(), text.size()); }

std::string LevelName(spdlog::level::level_enum level) { return ToString(spdlog::level::to_string_view(level)); }

spdlog::level::level_enum AccessLevel(const AccessRecord& record) {
  return record.status == "OK" ? spdlog::level::info : spdlog::level::warn;
}

// The JSON format of the general logger; the access logger's lines come
// ready-made from FormatAccessJson.
class JsonFormatter final : public spdlog::formatter {
 public:
  void format(const spdlog::details::log_msg& msg, spdlog::memory_buf_t& dest) override {
    const std::string line =
        FormatLogJson(msg.time, LevelName(msg.level), ToString(msg.logger_name), ToString(msg.payload)) + "\n";
    dest.append(line.data(), line.data() + line.size());
  }
  std::unique_ptr<spdlog::formatter> clone() const override { return std::make_unique<JsonFormatter>(); }
};

std::shared_ptr<spdlog::logger> MakeLogger(const std::string& name, std::unique_ptr<spdlog::formatter> formatter) {
  auto sink = std::make_shared<spdlog::sinks::stderr_sink_mt>();
  sink->set_formatter(std::move(formatter));
  auto logger = std::make_shared<spdlog::logger>(name, sink);
  return logger;
}

std::string Milliseconds(int64_t micros) {
  char buffer[32];
  std::snprintf(buffer, sizeof(buffer), "%.3f", micros / 1000.0);
  return buffer;
}

}  // namespace

std::string QuoteForLog(const std::string& text) { return Dump(Json(text)); }

Status ConfigureLogging(const std::string& level, const std::string& format) {
  const spdlog::level::level_enum parsed = spdlog::level::from_str(level);
  if (parsed == spdlog::level::off && level != "off") {
    return InvalidArgumentError("logging.level: '" + level + "' is not one of trace, debug, info, warn, error");
  }
  if (format != "text" && format != "json") {
    return InvalidArgumentError("logging.format: '" + format + "' is not one of text, json");
  }
  json_format = format == "json";
  const std::string text_pattern = "%Y-%m-%d %H:%M:%S.%e %-5l %v";
  auto main_formatter = json_format ? std::unique_ptr<spdlog::formatter>(std::make_unique<JsonFormatter>())
                                    : std::make_unique<spdlog::pattern_formatter>(text_pattern);
  auto access_formatter = std::make_unique<spdlog::pattern_formatter>(json_format ? "%v" : text_pattern);
  spdlog::drop_all();
  auto main_logger = MakeLogger("camserve", std::move(main_formatter));
  access_logger = MakeLogger("access", std::move(access_formatter));
  for (const auto& logger : {main_logger, access_logger}) {
    logger->set_level(parsed);
    logger->flush_on(spdlog::level::trace);
  }
  spdlog::set_default_logger(main_logger);
  return Status::Ok();
}

std::string FormatAccessText(const AccessRecord& r) {
  // rpc and status are the server's words; every other string came from the client.
  std::string line = "access request_id=" + QuoteForLog(r.request_id) + " rpc=" + r.rpc +
                     " model=" + QuoteForLog(r.model) + " method=" + QuoteForLog(r.method) + " status=" + r.status +
                     " latency_ms=" + Milliseconds(r.latency_us) + " cache_hit=" + (r.cache_hit ? "true" : "false") +
                     " batch_size=" + std::to_string(r.batch_size);
  if (!r.message.empty()) line += " message=" + QuoteForLog(r.message);
  return line;
}

std::string FormatAccessJson(const AccessRecord& r, std::chrono::system_clock::time_point time) {
  Json line = LineHead(time, LevelName(AccessLevel(r)), "access");
  line["msg"] = "access";
  line["request_id"] = r.request_id;
  line["rpc"] = r.rpc;
  line["model"] = r.model;
  line["method"] = r.method;
  line["status"] = r.status;
  line["latency_ms"] = r.latency_us / 1000.0;
  line["cache_hit"] = r.cache_hit;
  line["batch_size"] = r.batch_size;
  if (!r.message.empty()) line["message"] = r.message;
  return Dump(line);
}

std::string FormatLogJson(std::chrono::system_clock::time_point time, const std::string& level,
                          const std::string& logger, const std::string& msg) {
  Json line = LineHead(time, level, logger);
  line["msg"] = msg;
  return Dump(line);
}

void LogAccess(const AccessRecord& record) {
  spdlog::logger& logger = access_logger ? *access_logger : *spdlog::default_logger();
  const spdlog::level::level_enum level = AccessLevel(record);
  if (!logger.should_log(level)) return;
  // One clock reading for the JSON line's time and spdlog's.
  const spdlog::log_clock::time_point now = spdlog::log_clock::now();
  const std::string line = json_format ? FormatAccessJson(record, now) : FormatAccessText(record);
  logger.log(now, spdlog::source_loc{}, level, line);
}

}  // namespace camserve
