// The flow's batch kernels (gradient, event screen) compiled for the generic instruction set
// (flags in CMakeLists.txt).
#define REGIONLAB_ISA_NS isa_generic
#include "batch_gradient.inl"
#include "screen.inl"
