// REGIONLAB_VECTOR_CLONES on a function compiles it for AVX-512, AVX2 and baseline x86-64,
// the best picked at load time (GCC on x86-64 Linux; elsewhere a plain function), so that
// loops outside the per-ISA kernels still vectorise at this CPU's width.
#pragma once

#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && defined(__linux__)
#define REGIONLAB_VECTOR_CLONES __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define REGIONLAB_VECTOR_CLONES
#endif
