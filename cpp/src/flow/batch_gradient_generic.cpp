// The full-batch gradient compiled for the generic instruction set (flags in CMakeLists.txt).
#define REGIONLAB_ISA_NS isa_generic
#define Eigen Eigen_flow_isa_generic
#include "batch_gradient.inl"
