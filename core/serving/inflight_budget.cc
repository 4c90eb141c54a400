#include "core/serving/inflight_budget.h"

#include <utility>

namespace camserve {

InflightBudget::Reservation& InflightBudget::Reservation::operator=(Reservation&& other) noexcept {
  if (this != &other) {
    Release();
    budget_ = std::exchange(other.budget_, nullptr);
    bytes_ = other.bytes_;
  }
  return *this;
}

void InflightBudget::Reservation::Release() {
  if (budget_ == nullptr) return;
  budget_->used_bytes_.fetch_sub(bytes_);
  budget_ = nullptr;
}

std::optional<InflightBudget::Reservation> InflightBudget::TryReserve(int64_t bytes) {
  int64_t used = used_bytes_.load();
  do {
    if (bytes > capacity_bytes_ - used) return std::nullopt;
  } while (!used_bytes_.compare_exchange_weak(used, used + bytes));
  return Reservation(this, bytes);
}

}  // namespace camserve
