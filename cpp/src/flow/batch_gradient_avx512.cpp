// The full-batch gradient compiled for the avx512 instruction set (flags in CMakeLists.txt).
#define REGIONLAB_ISA_NS isa_avx512
#define Eigen Eigen_flow_isa_avx512
#include "batch_gradient.inl"
