#include "client/cli/progress_reporter.h"

namespace camserve {
namespace {

constexpr char kProgram[] = "camserve-client";
constexpr int kBarWidth = 30;
// Carriage return, then "erase to the end of the line".
constexpr char kEraseLine[] = "\r\033[K";

}  // namespace

ProgressReporter::ProgressReporter(int total, bool interactive, std::FILE* out, std::FILE* err)
    : total_(total), interactive_(interactive), out_(out), err_(err) {}

void ProgressReporter::Finished(const std::string& image, const Status& status, const std::string& report) {
  absl::MutexLock lock(&mu_);
  ++finished_;
  if (!status.ok()) failures_.emplace_back(image, status);
  ClearBar();
  if (status.ok()) {
    std::fputs(report.c_str(), out_);
    std::fflush(out_);
  }
  if (ShowsProgress() && !interactive_) {
    const std::string outcome = status.ok() ? "ok" : "failed: " + status.ToString();
    std::fprintf(err_, "[%d/%d] %s: %s\n", finished_, total_, image.c_str(), outcome.c_str());
  } else if (!status.ok()) {
    std::fprintf(err_, "%s: %s: %s\n", kProgram, image.c_str(), status.ToString().c_str());
  }
  DrawBar();
  std::fflush(err_);
}

int ProgressReporter::Finish() {
  absl::MutexLock lock(&mu_);
  ClearBar();
  if (ShowsProgress()) {
    std::fprintf(err_, "%s: explained %d of %d images", kProgram, finished_ - static_cast<int>(failures_.size()),
                 total_);
    if (failures_.empty()) {
      std::fputs("\n", err_);
    } else {
      std::fprintf(err_, "; %zu failed:\n", failures_.size());
    }
    for (const auto& [image, status] : failures_) {
      std::fprintf(err_, "  %s: %s\n", image.c_str(), status.ToString().c_str());
    }
  }
  std::fflush(err_);
  return static_cast<int>(failures_.size());
}

void ProgressReporter::ClearBar() {
  if (ShowsProgress() && interactive_) std::fputs(kEraseLine, err_);
}

void ProgressReporter::DrawBar() {
  if (!ShowsProgress() || !interactive_) return;
  const int filled = kBarWidth * finished_ / total_;
  std::fprintf(err_, "[%s%s] %*d/%d", std::string(filled, '#').c_str(), std::string(kBarWidth - filled, '-').c_str(),
               static_cast<int>(std::to_string(total_).size()), finished_, total_);
  if (!failures_.empty()) std::fprintf(err_, "  %zu failed", failures_.size());
}

}  // namespace camserve
