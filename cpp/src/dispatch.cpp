// Chooses the block kernels for this CPU at run time.
#include <atomic>
#include <cstdlib>
#include <cstring>

#include "regionlab/kernels.hpp"

namespace regionlab {

#define REGIONLAB_DECLARE_ISA(ns)                 \
  namespace ns {                                  \
  const KernelSet<float>& kernel_set_f32();       \
  const KernelSet<double>& kernel_set_f64();      \
  }
REGIONLAB_DECLARE_ISA(isa_generic)
#ifdef REGIONLAB_HAVE_X86_ISAS
REGIONLAB_DECLARE_ISA(isa_avx2)
REGIONLAB_DECLARE_ISA(isa_avx512)
#endif
#undef REGIONLAB_DECLARE_ISA

namespace {

bool cpu_supports(Isa isa) {
#ifdef REGIONLAB_HAVE_X86_ISAS
  __builtin_cpu_init();
  switch (isa) {
    case Isa::generic: return true;
    case Isa::avx2: return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    case Isa::avx512:
      return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512dq") &&
             __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512bw") &&
             __builtin_cpu_supports("fma");
  }
  return false;
#else
  return isa == Isa::generic;
#endif
}

Isa best_isa() {
  if (const char* env = std::getenv("REGIONLAB_ISA")) {
    for (Isa isa : {Isa::generic, Isa::avx2, Isa::avx512})
      if (std::strcmp(env, isa_name(isa)) == 0 && cpu_supports(isa)) return isa;
  }
  for (Isa isa : {Isa::avx512, Isa::avx2})
    if (cpu_supports(isa)) return isa;
  return Isa::generic;
}

std::atomic<int>& current() {
  static std::atomic<int> isa{int(best_isa())};
  return isa;
}

}  // namespace

Isa active_isa() { return Isa(current().load()); }

const char* isa_name(Isa isa) {
  switch (isa) {
    case Isa::generic: return "generic";
    case Isa::avx2: return "avx2";
    case Isa::avx512: return "avx512";
  }
  return "unknown";
}

bool set_isa(Isa isa) {
  if (!cpu_supports(isa)) return false;
  current().store(int(isa));
  return true;
}

const KernelSet<float>& kernels_f32() {
  switch (active_isa()) {
#ifdef REGIONLAB_HAVE_X86_ISAS
    case Isa::avx512: return isa_avx512::kernel_set_f32();
    case Isa::avx2: return isa_avx2::kernel_set_f32();
#endif
    default: return isa_generic::kernel_set_f32();
  }
}

const KernelSet<double>& kernels_f64() {
  switch (active_isa()) {
#ifdef REGIONLAB_HAVE_X86_ISAS
    case Isa::avx512: return isa_avx512::kernel_set_f64();
    case Isa::avx2: return isa_avx2::kernel_set_f64();
#endif
    default: return isa_generic::kernel_set_f64();
  }
}

}  // namespace regionlab
