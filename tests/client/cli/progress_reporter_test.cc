// Tests for ProgressReporter: what goes to stdout and stderr for one image,
// for several without a terminal (a line each) and with one (a bar).
#include "client/cli/progress_reporter.h"

#include <catch2/catch.hpp>
#include <cstdio>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

namespace camserve {
namespace {

using Catch::Matchers::Contains;

// A stream backed by a temporary file whose contents can be read back.
class CapturedStream {
 public:
  CapturedStream() : file_(std::tmpfile()) { REQUIRE(file_ != nullptr); }
  ~CapturedStream() { std::fclose(file_); }
  std::FILE* file() const { return file_; }
  std::string Contents() const {
    std::fflush(file_);
    std::rewind(file_);
    std::string text;
    for (int c = std::fgetc(file_); c != EOF; c = std::fgetc(file_)) text.push_back(static_cast<char>(c));
    return text;
  }

 private:
  std::FILE* file_;
};

const Status kBadImage = InvalidArgumentError("not an image");

TEST_CASE("One image: its report, or its failure, and no progress", "[progress_reporter]") {
  CapturedStream out, err;
  ProgressReporter reporter(1, /*interactive=*/true, out.file(), err.file());
  reporter.Finished("a.png", kBadImage, "");
  CHECK(reporter.Finish() == 1);
  CHECK(out.Contents().empty());
  CHECK(err.Contents() == "camserve-client: a.png: INVALID_ARGUMENT: not an image\n");
}

TEST_CASE("Several images without a terminal: a line each and a summary", "[progress_reporter]") {
  CapturedStream out, err;
  ProgressReporter reporter(3, /*interactive=*/false, out.file(), err.file());
  reporter.Finished("a.png", Status::Ok(), "report a\n");
  reporter.Finished("b.png", kBadImage, "");
  reporter.Finished("c.png", Status::Ok(), "report c\n");
  CHECK(reporter.Finish() == 1);
  CHECK(out.Contents() == "report a\nreport c\n");
  CHECK(err.Contents() ==
        "[1/3] a.png: ok\n"
        "[2/3] b.png: failed: INVALID_ARGUMENT: not an image\n"
        "[3/3] c.png: ok\n"
        "camserve-client: explained 2 of 3 images; 1 failed:\n"
        "  b.png: INVALID_ARGUMENT: not an image\n");
}

TEST_CASE("Several images on a terminal: a bar redrawn in place", "[progress_reporter]") {
  CapturedStream out, err;
  ProgressReporter reporter(2, /*interactive=*/true, out.file(), err.file());
  reporter.Finished("a.png", Status::Ok(), "report a\n");
  reporter.Finished("b.png", Status::Ok(), "report b\n");
  CHECK(reporter.Finish() == 0);
  CHECK(out.Contents() == "report a\nreport b\n");
  const std::string erase = "\r\033[K";
  CHECK(err.Contents() == erase + "[" + std::string(15, '#') + std::string(15, '-') + "] 1/2" + erase + "[" +
                              std::string(30, '#') + "] 2/2" + erase + "camserve-client: explained 2 of 2 images\n");
}

TEST_CASE("Reports from many threads never interleave", "[progress_reporter]") {
  CapturedStream out, err;
  constexpr int kThreads = 8;
  ProgressReporter reporter(kThreads, /*interactive=*/false, out.file(), err.file());
  std::vector<std::thread> threads;
  for (int i = 0; i < kThreads; ++i) {
    threads.emplace_back([&reporter, i] {
      reporter.Finished(std::to_string(i), Status::Ok(), std::string(4000, static_cast<char>('a' + i)) + "\n");
    });
  }
  for (std::thread& thread : threads) thread.join();
  CHECK(reporter.Finish() == 0);

  // Eight lines, each one thread's report whole.
  std::istringstream lines(out.Contents());
  std::set<char> reporters;
  for (std::string line; std::getline(lines, line);) {
    REQUIRE(line.size() == 4000);
    CHECK(line == std::string(4000, line[0]));
    reporters.insert(line[0]);
  }
  CHECK(reporters.size() == kThreads);
  CHECK_THAT(err.Contents(), Contains("explained 8 of 8 images\n"));
}

}  // namespace
}  // namespace camserve
