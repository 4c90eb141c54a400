#include "core/engine/precision.h"

#include <ATen/autocast_mode.h>
#include <cpuid.h>
#include <torch/version.h>

namespace camserve {
namespace {

// LibTorch 2.4 replaced the per-backend autocast functions by ones that take
// the device type.
#if TORCH_VERSION_MAJOR > 2 || (TORCH_VERSION_MAJOR == 2 && TORCH_VERSION_MINOR >= 4)
bool AutocastEnabled(at::DeviceType type) { return at::autocast::is_autocast_enabled(type); }
at::ScalarType AutocastDtype(at::DeviceType type) { return at::autocast::get_autocast_dtype(type); }
void SetAutocast(at::DeviceType type, bool enabled, at::ScalarType dtype) {
  at::autocast::set_autocast_dtype(type, dtype);
  at::autocast::set_autocast_enabled(type, enabled);
}
#else
bool AutocastEnabled(at::DeviceType type) {
  return type == at::kCUDA ? at::autocast::is_enabled() : at::autocast::is_cpu_enabled();
}
at::ScalarType AutocastDtype(at::DeviceType type) {
  return type == at::kCUDA ? at::autocast::get_autocast_gpu_dtype() : at::autocast::get_autocast_cpu_dtype();
}
void SetAutocast(at::DeviceType type, bool enabled, at::ScalarType dtype) {
  if (type == at::kCUDA) {
    at::autocast::set_autocast_gpu_dtype(dtype);
    at::autocast::set_enabled(enabled);
  } else {
    at::autocast::set_autocast_cpu_dtype(dtype);
    at::autocast::set_cpu_enabled(enabled);
  }
}
#endif

}  // namespace

const char* PrecisionName(Precision precision) {
  switch (precision) {
    case Precision::kFp32: return "fp32";
    case Precision::kBf16: return "bf16";
    case Precision::kFp16: return "fp16";
  }
  return "fp32";
}

StatusOr<Precision> ParsePrecision(const std::string& name) {
  for (Precision precision : {Precision::kFp32, Precision::kBf16, Precision::kFp16}) {
    if (name == PrecisionName(precision)) return precision;
  }
  return InvalidArgumentError("precision '" + name + "' is not one of fp32, bf16, fp16");
}

at::ScalarType AutocastType(Precision precision) {
  switch (precision) {
    case Precision::kFp32: return at::kFloat;
    case Precision::kBf16: return at::kBFloat16;
    case Precision::kFp16: return at::kHalf;
  }
  return at::kFloat;
}

bool CpuHasNativeBf16() {
  unsigned eax = 0, ebx = 0, ecx = 0, edx = 0;
  // Leaf 7, sub-leaf 0: EDX bit 22 is AMX-BF16.
  if (__get_cpuid_count(7, 0, &eax, &ebx, &ecx, &edx) == 0) return false;
  const bool amx_bf16 = (edx >> 22) & 1u;
  const unsigned max_subleaf = eax;
  bool avx512_bf16 = false;
  // Leaf 7, sub-leaf 1: EAX bit 5 is AVX512_BF16.
  if (max_subleaf >= 1 && __get_cpuid_count(7, 1, &eax, &ebx, &ecx, &edx) != 0) avx512_bf16 = (eax >> 5) & 1u;
  return amx_bf16 || avx512_bf16;
}

Status CheckPrecisionSupported(Precision precision, bool device_is_cuda, bool cpu_has_native_bf16) {
  if (precision == Precision::kFp16 && !device_is_cuda) {
    return InvalidArgumentError(
        "precision fp16 needs a CUDA device; on CPU use bf16 (on a CPU with native bf16) or fp32");
  }
  if (precision == Precision::kBf16 && !device_is_cuda && !cpu_has_native_bf16) {
    return InvalidArgumentError(
        "precision bf16 needs native bf16 arithmetic on CPU (AVX512-BF16 or AMX-BF16), which this CPU lacks: "
        "emulated it would be slower than fp32; use fp32");
  }
  return Status::Ok();
}

AutocastScope::AutocastScope(at::DeviceType device_type, Precision precision) : device_type_(device_type) {
  if (precision == Precision::kFp32) return;
  active_ = true;
  was_enabled_ = AutocastEnabled(device_type_);
  previous_type_ = AutocastDtype(device_type_);
  SetAutocast(device_type_, true, AutocastType(precision));
}

AutocastScope::~AutocastScope() {
  if (active_) SetAutocast(device_type_, was_enabled_, previous_type_);
}

}  // namespace camserve
