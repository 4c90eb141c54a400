#include "core/logging/logging.h"

#include <spdlog/pattern_formatter.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include <chrono>
#include <cstdio>
#include <ctime>

namespace camserve {
namespace {

// Set by ConfigureLogging, before other threads start.
bool json_format = false;
std::shared_ptr<spdlog::logger> access_logger;

// {"time":...,"level":...,"logger":...,<payload>} where the payload is either
// "msg":"<escaped message>" or, for the access logger, ready-made fields.
class JsonFormatter final : public spdlog::formatter {
 public:
  explicit JsonFormatter(bool payload_is_fields) : payload_is_fields_(payload_is_fields) {}

  void format(const spdlog::details::log_msg& msg, spdlog::memory_buf_t& dest) override {
    std::string line =
        "{\"time\":\"" + Timestamp(msg.time) + "\",\"level\":\"" +
        std::string(spdlog::level::to_string_view(msg.level).data(), spdlog::level::to_string_view(msg.level).size()) +
        "\",\"logger\":" + JsonQuote(std::string(msg.logger_name.data(), msg.logger_name.size())) + ",";
    const std::string payload(msg.payload.data(), msg.payload.size());
    line += payload_is_fields_ ? payload : "\"msg\":" + JsonQuote(payload);
    line += "}\n";
    dest.append(line.data(), line.data() + line.size());
  }
  std::unique_ptr<spdlog::formatter> clone() const override {
    return std::make_unique<JsonFormatter>(payload_is_fields_);
  }

 private:
  static std::string Timestamp(spdlog::log_clock::time_point time) {
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
  bool payload_is_fields_;
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

std::string JsonQuote(const std::string& text) {
  std::string quoted = "\"";
  for (unsigned char c : text) {
    switch (c) {
      case '"': quoted += "\\\""; break;
      case '\\': quoted += "\\\\"; break;
      case '\n': quoted += "\\n"; break;
      case '\r': quoted += "\\r"; break;
      case '\t': quoted += "\\t"; break;
      default:
        if (c < 0x20) {
          char escaped[8];
          std::snprintf(escaped, sizeof(escaped), "\\u%04x", c);
          quoted += escaped;
        } else {
          quoted += static_cast<char>(c);
        }
    }
  }
  return quoted + "\"";
}

Status ConfigureLogging(const std::string& level, const std::string& format) {
  const spdlog::level::level_enum parsed = spdlog::level::from_str(level);
  if (parsed == spdlog::level::off && level != "off") {
    return InvalidArgumentError("logging.level: '" + level + "' is not one of trace, debug, info, warn, error");
  }
  if (format != "text" && format != "json") {
    return InvalidArgumentError("logging.format: '" + format + "' is not one of text, json");
  }
  json_format = format == "json";
  auto make_formatter = [&](bool fields) -> std::unique_ptr<spdlog::formatter> {
    if (json_format) return std::make_unique<JsonFormatter>(fields);
    return std::make_unique<spdlog::pattern_formatter>("%Y-%m-%d %H:%M:%S.%e %-5l %v");
  };
  spdlog::drop_all();
  auto main_logger = MakeLogger("camserve", make_formatter(false));
  access_logger = MakeLogger("access", make_formatter(true));
  for (const auto& logger : {main_logger, access_logger}) {
    logger->set_level(parsed);
    logger->flush_on(spdlog::level::trace);
  }
  spdlog::set_default_logger(main_logger);
  return Status::Ok();
}

std::string FormatAccessText(const AccessRecord& r) {
  std::string line = "access request_id=" + JsonQuote(r.request_id) + " rpc=" + r.rpc + " model=" + r.model +
                     " method=" + r.method + " status=" + r.status + " latency_ms=" + Milliseconds(r.latency_us) +
                     " cache_hit=" + (r.cache_hit ? "true" : "false") + " batch_size=" + std::to_string(r.batch_size);
  if (!r.message.empty()) line += " message=" + JsonQuote(r.message);
  return line;
}

std::string FormatAccessJsonFields(const AccessRecord& r) {
  return "\"msg\":\"access\",\"request_id\":" + JsonQuote(r.request_id) + ",\"rpc\":" + JsonQuote(r.rpc) +
         ",\"model\":" + JsonQuote(r.model) + ",\"method\":" + JsonQuote(r.method) +
         ",\"status\":" + JsonQuote(r.status) + ",\"latency_ms\":" + Milliseconds(r.latency_us) +
         ",\"cache_hit\":" + (r.cache_hit ? "true" : "false") + ",\"batch_size\":" + std::to_string(r.batch_size) +
         (r.message.empty() ? "" : ",\"message\":" + JsonQuote(r.message));
}

void LogAccess(const AccessRecord& record) {
  const std::string line = json_format ? FormatAccessJsonFields(record) : FormatAccessText(record);
  spdlog::logger& logger = access_logger ? *access_logger : *spdlog::default_logger();
  logger.log(record.status == "OK" ? spdlog::level::info : spdlog::level::warn, "{}", line);
}

}  // namespace camserve
