// The block kernels compiled for the avx2 instruction set (flags set in CMakeLists.txt).
#define REGIONLAB_ISA_NS isa_avx2
#define Eigen Eigen_isa_avx2
#include "block_kernel.inl"
