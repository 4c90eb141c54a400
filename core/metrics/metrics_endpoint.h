// MetricsEndpoint: serves a ServerMetrics over HTTP at GET /metrics
// (prometheus-cpp's Exposer, a civetweb server with its own threads).
//
// Thread-safety: Start and the destructor from one thread; scrapes run on
// the endpoint's own threads.
// Ownership: `metrics` is borrowed; the endpoint must be destroyed before it
// (or before anything its state sources read).
// Errors: Start returns UNAVAILABLE naming the address when it cannot be
// bound (in use, not local, malformed), or when civetweb cannot start its
// threads (the message then says why: too much thread-local storage).
#pragma once

#include <memory>
#include <string>

#include "core/metrics/server_metrics.h"

namespace prometheus {
class Exposer;
}

namespace camserve {

class MetricsEndpoint {
 public:
  // `address` is HOST:PORT; port 0 picks a free one (see port()).
  static StatusOr<std::unique_ptr<MetricsEndpoint>> Start(const std::string& address, const ServerMetrics& metrics);
  ~MetricsEndpoint();

  // The port actually bound.
  int port() const { return port_; }

 private:
  MetricsEndpoint() = default;
  std::unique_ptr<prometheus::Exposer> exposer_;
  int port_ = 0;
};

}  // namespace camserve
