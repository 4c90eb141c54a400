#include "core/metrics/metrics_endpoint.h"

#include <pthread.h>

#include <cerrno>
#include <exception>

#include <prometheus/exposer.h>

namespace camserve {
namespace {

// The stack size civetweb (Debian's build, as used by prometheus-cpp) gives
// its threads.
constexpr size_t kCivetwebThreadStackBytes = 102400;

// Why civetweb could not start its threads, or "" when a thread with its
// stack size starts fine here. glibc places the static thread-local storage
// of every loaded library on each thread's stack and refuses (EINVAL) a
// stack that cannot hold it; a threaded OpenBLAS alone brings 60 KiB.
std::string CivetwebThreadProblem() {
  pthread_attr_t attributes;
  pthread_attr_init(&attributes);
  pthread_attr_setstacksize(&attributes, kCivetwebThreadStackBytes);
  pthread_t thread;
  const int error = pthread_create(
      &thread, &attributes, [](void*) -> void* { return nullptr; }, nullptr);
  pthread_attr_destroy(&attributes);
  if (error == 0) {
    pthread_join(thread, nullptr);
    return "";
  }
  if (error != EINVAL) return "";
  return "; the HTTP server's threads (100 KiB stacks) cannot start because the loaded libraries' "
         "thread-local storage does not fit in them: a threaded OpenBLAS (libopenblas0-pthread or "
         "libopenblas0-openmp) does this, use libopenblas0-serial (docs/operations.md, metrics endpoint)";
}

}  // namespace

StatusOr<std::unique_ptr<MetricsEndpoint>> MetricsEndpoint::Start(const std::string& address,
                                                                  const ServerMetrics& metrics) {
  std::unique_ptr<MetricsEndpoint> endpoint(new MetricsEndpoint());
  try {
    endpoint->exposer_ = std::make_unique<prometheus::Exposer>(address);
  } catch (const std::exception& e) {
    return UnavailableError("cannot serve metrics on " + address + ": " + e.what() + CivetwebThreadProblem());
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
