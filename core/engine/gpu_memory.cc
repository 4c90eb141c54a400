#include "core/engine/gpu_memory.h"

#include <torch/cuda.h>

// Set by CMake for a LibTorch built with CUDA.
#ifdef CAMSERVE_HAVE_CUDA_ALLOCATOR
#include <c10/cuda/CUDACachingAllocator.h>
#endif

namespace camserve {

std::optional<GpuMemoryUsage> QueryGpuMemory(const std::string& device) {
  constexpr char kPrefix[] = "cuda:";
  if (device.rfind(kPrefix, 0) != 0) return std::nullopt;
  int index = -1;
  try {
    index = std::stoi(device.substr(sizeof(kPrefix) - 1));
  } catch (const std::exception&) {
    return std::nullopt;
  }
#ifdef CAMSERVE_HAVE_CUDA_ALLOCATOR
  if (!torch::cuda::is_available() || index < 0 || index >= static_cast<int>(torch::cuda::device_count())) {
    return std::nullopt;
  }
  const auto stats = c10::cuda::CUDACachingAllocator::getDeviceStats(index);
  // Slot 0 of every StatArray is StatType::AGGREGATE (both pools together),
  // in LibTorch 1.x and 2.x alike.
  return GpuMemoryUsage{stats.allocated_bytes[0].current, stats.reserved_bytes[0].current};
#else
  (void)index;
  return std::nullopt;
#endif
}

}  // namespace camserve
