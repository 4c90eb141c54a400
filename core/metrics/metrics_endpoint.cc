#include "core/metrics/metrics_endpoint.h"

#include <exception>

#include <prometheus/exposer.h>

namespace camserve {

StatusOr<std::unique_ptr<MetricsEndpoint>> MetricsEndpoint::Start(const std::string& address,
                                                                  const ServerMetrics& metrics) {
  std::unique_ptr<MetricsEndpoint> endpoint(new MetricsEndpoint());
  try {
    endpoint->exposer_ = std::make_unique<prometheus::Exposer>(address);
  } catch (const std::exception& e) {
    return UnavailableError("cannot serve metrics on " + address + ": " + e.what());
  }
  const std::vector<int> ports = endpoint->exposer_->GetListeningPorts();
  if (ports.empty()) return UnavailableError("cannot serve metrics on " + address + ": no port bound");
  endpoint->port_ = ports.front();
  for (const std::weak_ptr<prometheus::Collectable>& collectable : metrics.collectables()) {
    endpoint->exposer_->RegisterCollectable(collectable);
  }
  return endpoint;
}

MetricsEndpoint::~MetricsEndpoint() = default;

}  // namespace camserve
