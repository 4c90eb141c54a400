#include "core/logging/logging.h"

#include <unistd.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <chrono>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <string>

namespace camserve {
namespace {

using namespace std::string_literals;

// 2026-11-23T10:00:00.123Z
const std::chrono::system_clock::time_point kTime{std::chrono::milliseconds(1795428000123)};

// U+FFFD, which stands for each invalid byte, and a 4-byte emoji, in UTF-8.
const std::string kReplacement = "\xEF\xBF\xBD";
const std::string kEmoji = "\xF0\x9F\x98\x80";

AccessRecord Record() {
  AccessRecord record;
  record.request_id = "id \"1\"";
  record.rpc = "Explain";
  record.model = "digits_cnn";
  record.method = "gradcam";
  record.status = "INVALID_ARGUMENT";
  record.message = "bad\nimage";
  record.latency_us = 12345;
  record.batch_size = 3;
  return record;
}

AccessRecord OkRecord() {
  AccessRecord record;
  record.request_id = "5";
  record.rpc = "Explain";
  record.model = "digits_cnn";
  record.method = "gradcam";
  record.status = "OK";
  record.latency_us = 5000;
  record.cache_hit = true;
  record.batch_size = 6;
  return record;
}

// Every client string tries to end the line, close its quotes or pose as a
// field; request_id also carries a NUL, invalid UTF-8 and an emoji.
AccessRecord HostileRecord() {
  AccessRecord record;
  record.request_id = "r\"1\nstatus=OK \\\0\xff\xfe"s + kEmoji;
  record.rpc = "Explain";
  record.model = "m status=OK";
  record.method = "gradcam\r\nforged";
  record.status = "NOT_FOUND";
  record.message = "no model \"m\xc3\"";
  record.latency_us = 7;
  return record;
}

// What `log` writes to stderr.
template <typename Log>
std::string CaptureStderr(Log log) {
  std::fflush(stderr);
  std::FILE* file = std::tmpfile();
  REQUIRE(file != nullptr);
  const int saved = dup(STDERR_FILENO);
  REQUIRE(saved >= 0);
  REQUIRE(dup2(fileno(file), STDERR_FILENO) >= 0);
  log();
  std::fflush(stderr);
  REQUIRE(dup2(saved, STDERR_FILENO) >= 0);
  close(saved);
  std::rewind(file);
  std::string captured;
  char buffer[4096];
  for (size_t n; (n = std::fread(buffer, 1, sizeof(buffer), file)) > 0;) captured.append(buffer, n);
  std::fclose(file);
  return captured;
}

size_t Lines(const std::string& text) { return std::count(text.begin(), text.end(), '\n'); }

TEST_CASE("access lines carry every field, in text and in JSON") {
  CHECK(
      FormatAccessText(Record()) ==
      "access request_id=\"id \\\"1\\\"\" rpc=Explain model=\"digits_cnn\" method=\"gradcam\" status=INVALID_ARGUMENT "
      "latency_ms=12.345 cache_hit=false batch_size=3 message=\"bad\\nimage\"");
  CHECK(FormatAccessJson(Record(), kTime) ==
        "{\"time\":\"2026-11-23T10:00:00.123Z\",\"level\":\"warning\",\"logger\":\"access\",\"msg\":\"access\","
        "\"request_id\":\"id \\\"1\\\"\",\"rpc\":\"Explain\",\"model\":\"digits_cnn\",\"method\":\"gradcam\","
        "\"status\":\"INVALID_ARGUMENT\",\"latency_ms\":12.345,\"cache_hit\":false,\"batch_size\":3,"
        "\"message\":\"bad\\nimage\"}");
}

TEST_CASE("an OK access line is at info and has no message") {
  CHECK(FormatAccessText(OkRecord()) ==
        "access request_id=\"5\" rpc=Explain model=\"digits_cnn\" method=\"gradcam\" status=OK latency_ms=5.000 "
        "cache_hit=true batch_size=6");
  CHECK(FormatAccessJson(OkRecord(), kTime) ==
        "{\"time\":\"2026-11-23T10:00:00.123Z\",\"level\":\"info\",\"logger\":\"access\",\"msg\":\"access\","
        "\"request_id\":\"5\",\"rpc\":\"Explain\",\"model\":\"digits_cnn\",\"method\":\"gradcam\",\"status\":\"OK\","
        "\"latency_ms\":5.0,\"cache_hit\":true,\"batch_size\":6}");
}

TEST_CASE("a hostile text access line quotes and escapes every client string") {
  CHECK(FormatAccessText(HostileRecord()) ==
        "access request_id=\"r\\\"1\\nstatus=OK \\\\\\u0000" + kReplacement + kReplacement + kEmoji +
            "\" rpc=Explain model=\"m status=OK\" method=\"gradcam\\r\\nforged\" status=NOT_FOUND latency_ms=0.007 "
            "cache_hit=false batch_size=0 message=\"no model \\\"m" +
            kReplacement + "\\\"\"");
}

TEST_CASE("a hostile JSON access line is one line that parses back, invalid bytes replaced") {
  const std::string line = FormatAccessJson(HostileRecord(), kTime);
  CHECK(line ==
        "{\"time\":\"2026-11-23T10:00:00.123Z\",\"level\":\"warning\",\"logger\":\"access\",\"msg\":\"access\","
        "\"request_id\":\"r\\\"1\\nstatus=OK \\\\\\u0000" +
            kReplacement + kReplacement + kEmoji +
            "\",\"rpc\":\"Explain\",\"model\":\"m status=OK\",\"method\":\"gradcam\\r\\nforged\","
            "\"status\":\"NOT_FOUND\",\"latency_ms\":0.007,\"cache_hit\":false,\"batch_size\":0,"
            "\"message\":\"no model \\\"m" +
            kReplacement + "\\\"\"}");
  CHECK(Lines(line) == 0);
  const nlohmann::json parsed = nlohmann::json::parse(line);
  CHECK(parsed.size() == 13);
  CHECK(parsed["time"] == "2026-11-23T10:00:00.123Z");
  CHECK(parsed["level"] == "warning");
  CHECK(parsed["logger"] == "access");
  CHECK(parsed["msg"] == "access");
  CHECK(parsed["request_id"] == "r\"1\nstatus=OK \\\0"s + kReplacement + kReplacement + kEmoji);
  CHECK(parsed["rpc"] == "Explain");
  CHECK(parsed["model"] == "m status=OK");
  CHECK(parsed["method"] == "gradcam\r\nforged");
  CHECK(parsed["status"] == "NOT_FOUND");
  CHECK(parsed["latency_ms"] == 0.007);
  CHECK(parsed["cache_hit"] == false);
  CHECK(parsed["batch_size"] == 0);
  CHECK(parsed["message"] == "no model \"m" + kReplacement + "\"");
}

TEST_CASE("a JSON line of the general logger escapes its message the same way") {
  const std::string line = FormatLogJson(kTime, "info", "camserve", "queued \"r1\"\n\xff" + kEmoji);
  CHECK(line ==
        "{\"time\":\"2026-11-23T10:00:00.123Z\",\"level\":\"info\",\"logger\":\"camserve\","
        "\"msg\":\"queued \\\"r1\\\"\\n" +
            kReplacement + kEmoji + "\"}");
  CHECK(nlohmann::json::parse(line)["msg"] == "queued \"r1\"\n" + kReplacement + kEmoji);
}

TEST_CASE("in the JSON format LogAccess writes a hostile record as one line of JSON") {
  REQUIRE(ConfigureLogging("info", "json").ok());
  const std::string access = CaptureStderr([] { LogAccess(HostileRecord()); });
  REQUIRE(Lines(access) == 1);
  REQUIRE(access.back() == '\n');
  const nlohmann::json access_line = nlohmann::json::parse(access);
  CHECK(access_line["logger"] == "access");
  CHECK(access_line["request_id"] == "r\"1\nstatus=OK \\\0"s + kReplacement + kReplacement + kEmoji);
  CHECK(access_line["method"] == "gradcam\r\nforged");
}

TEST_CASE("in the text format a hostile record is written as one line") {
  REQUIRE(ConfigureLogging("info", "text").ok());
  const std::string access = CaptureStderr([] { LogAccess(HostileRecord()); });
  CHECK(Lines(access) == 1);
  const std::string expected_end = FormatAccessText(HostileRecord()) + "\n";
  REQUIRE(access.size() > expected_end.size());
  CHECK(access.substr(access.size() - expected_end.size()) == expected_end);
}

TEST_CASE("ConfigureLogging rejects unknown levels and formats by key") {
  CHECK(ConfigureLogging("loud", "text").message() ==
        "logging.level: 'loud' is not one of trace, debug, info, warn, error");
  CHECK(ConfigureLogging("info", "xml").message() == "logging.format: 'xml' is not one of text, json");
  CHECK(ConfigureLogging("debug", "json").ok());
}

}  // namespace
}  // namespace camserve
