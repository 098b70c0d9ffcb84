// The full-batch gradient compiled for the avx2 instruction set (flags in CMakeLists.txt).
#define REGIONLAB_ISA_NS isa_avx2
#define Eigen Eigen_flow_isa_avx2
#include "batch_gradient.inl"
