// Precision modes: the arithmetic a model runs in. fp32 is exact LibTorch;
// bf16 and fp16 run the model under LibTorch's autocast, which computes
// convolutions and matrix products in the reduced type and keeps the
// numerically sensitive operations (normalisations, reductions, softmax) in
// float32. The weights stay float32, so one loaded module serves every mode
// and the fp32 reference it is validated against (cam_model.h).
//
// Support: fp16 on CUDA only; bf16 on CUDA, and on a CPU with native bf16
// arithmetic (AVX512-BF16 or AMX-BF16). Elsewhere bf16 would be emulated,
// slower than fp32, so it is refused.
//
// Thread-safety: AutocastScope changes the calling thread's autocast state
// only; the other functions are pure or read the CPU's feature flags.
#pragma once

#include <ATen/ATen.h>

#include <string>

#include "core/util/status.h"

namespace camserve {

enum class Precision { kFp32, kBf16, kFp16 };

// "fp32", "bf16", "fp16".
const char* PrecisionName(Precision precision);

// INVALID_ARGUMENT naming the accepted values.
StatusOr<Precision> ParsePrecision(const std::string& name);

// The reduced type autocast computes in; kFloat for fp32.
at::ScalarType AutocastType(Precision precision);

// Whether this CPU computes bf16 natively (cpuid: AVX512_BF16 or AMX_BF16).
bool CpuHasNativeBf16();

// OK when `precision` can run on the device; otherwise INVALID_ARGUMENT with
// the reason. Pure: the CPU's capability is an argument, so that the refusal
// can be tested on any machine.
Status CheckPrecisionSupported(Precision precision, bool device_is_cuda, bool cpu_has_native_bf16);

// While alive, the calling thread runs `device_type` operations under autocast
// to `precision` (nothing for fp32); the previous state comes back on exit.
class AutocastScope {
 public:
  AutocastScope(at::DeviceType device_type, Precision precision);
  ~AutocastScope();
  AutocastScope(const AutocastScope&) = delete;
  AutocastScope& operator=(const AutocastScope&) = delete;

 private:
  at::DeviceType device_type_;
  bool active_ = false;
  bool was_enabled_ = false;
  at::ScalarType previous_type_ = at::kFloat;
};

}  // namespace camserve
