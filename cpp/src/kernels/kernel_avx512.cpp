// The block kernels compiled for the avx512 instruction set (flags set in CMakeLists.txt).
#define REGIONLAB_ISA_NS isa_avx512
#define Eigen Eigen_isa_avx512
#include "block_kernel.inl"
