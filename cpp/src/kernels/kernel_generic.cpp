// The block kernels compiled for the generic instruction set (flags set in CMakeLists.txt).
#define REGIONLAB_ISA_NS isa_generic
#define Eigen Eigen_isa_generic
#include "block_kernel.inl"
