// The flow's batch kernels (gradient, event screen) compiled for the avx512 instruction set
// (flags in CMakeLists.txt).
#define REGIONLAB_ISA_NS isa_avx512
#include "batch_gradient.inl"
#include "screen.inl"
