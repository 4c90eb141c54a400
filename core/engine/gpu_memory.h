// GPU memory of LibTorch's CUDA caching allocator, for the metrics.
//
// Built against a CUDA LibTorch (one that links c10_cuda) it
// reads the allocator's statistics; against a CPU-only LibTorch (Debian's)
// every query answers nullopt.
//
// Thread-safety: may be called from any thread (the allocator locks).
// Cost: a few microseconds per device.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

namespace camserve {

struct GpuMemoryUsage {
  int64_t allocated_bytes = 0;  // held by live tensors
  int64_t reserved_bytes = 0;   // held by the allocator, in use or cached
};

// `device` is "cuda:N" (as ModelInfo::device). nullopt for any other device,
// an unknown index, or a LibTorch without CUDA.
std::optional<GpuMemoryUsage> QueryGpuMemory(const std::string& device);

}  // namespace camserve
