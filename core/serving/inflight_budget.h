// InflightBudget: a byte budget for what requests in flight hold (request
// bytes, decoded pixels, model inputs, responses). Admission reserves a
// request's estimate before any of it is allocated; the reservation is given
// back when the request is answered.
//
// Thread-safety: TryReserve and the accessors may be called from any thread;
// a Reservation may be moved to and released on any thread.
// Cost: one compare-and-swap loop on an atomic counter.
#pragma once

#include <atomic>
#include <cstdint>
#include <optional>

namespace camserve {

class InflightBudget {
 public:
  // Holds `bytes` of the budget until destroyed or Release()d.
  class Reservation {
   public:
    Reservation() = default;
    Reservation(Reservation&& other) noexcept : budget_(other.budget_), bytes_(other.bytes_) {
      other.budget_ = nullptr;
    }
    Reservation& operator=(Reservation&& other) noexcept;
    Reservation(const Reservation&) = delete;
    Reservation& operator=(const Reservation&) = delete;
    ~Reservation() { Release(); }

    void Release();
    int64_t bytes() const { return budget_ ? bytes_ : 0; }

   private:
    friend class InflightBudget;
    Reservation(InflightBudget* budget, int64_t bytes) : budget_(budget), bytes_(bytes) {}
    InflightBudget* budget_ = nullptr;
    int64_t bytes_ = 0;
  };

  // REQUIRES: capacity_bytes >= 1.
  explicit InflightBudget(int64_t capacity_bytes) : capacity_bytes_(capacity_bytes) {}

  // A reservation of `bytes`, or nullopt when it would take the total over
  // the capacity. A request larger than the whole capacity never fits.
  std::optional<Reservation> TryReserve(int64_t bytes);

  int64_t used_bytes() const { return used_bytes_.load(); }
  int64_t capacity_bytes() const { return capacity_bytes_; }

 private:
  const int64_t capacity_bytes_;
  std::atomic<int64_t> used_bytes_{0};
};

}  // namespace camserve
