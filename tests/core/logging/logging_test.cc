#include "core/logging/logging.h"

#include <catch2/catch.hpp>

namespace camserve {
namespace {

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

TEST_CASE("JsonQuote escapes quotes, backslashes and control characters") {
  CHECK(JsonQuote("a\"b\\c\n\x01") == "\"a\\\"b\\\\c\\n\\u0001\"");
}

TEST_CASE("access lines carry every field, in text and in JSON") {
  CHECK(FormatAccessText(Record()) ==
        "access request_id=\"id \\\"1\\\"\" rpc=Explain model=digits_cnn method=gradcam status=INVALID_ARGUMENT "
        "latency_ms=12.345 cache_hit=false batch_size=3 message=\"bad\\nimage\"");
  CHECK(FormatAccessJsonFields(Record()) ==
        "\"msg\":\"access\",\"request_id\":\"id \\\"1\\\"\",\"rpc\":\"Explain\",\"model\":\"digits_cnn\","
        "\"method\":\"gradcam\",\"status\":\"INVALID_ARGUMENT\",\"latency_ms\":12.345,\"cache_hit\":false,"
        "\"batch_size\":3,\"message\":\"bad\\nimage\"");
}

TEST_CASE("ConfigureLogging rejects unknown levels and formats by key") {
  CHECK(ConfigureLogging("loud", "text").message() ==
        "logging.level: 'loud' is not one of trace, debug, info, warn, error");
  CHECK(ConfigureLogging("info", "xml").message() == "logging.format: 'xml' is not one of text, json");
  CHECK(ConfigureLogging("debug", "json").ok());
}

}  // namespace
}  // namespace camserve
