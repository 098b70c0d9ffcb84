# The optional CUDA kernels (cpp/cuda/*.cu) and cuBLAS, built into regionlab_core.
# Included only when REGIONLAB_CUDA=ON.
include(CheckLanguage)
check_language(CUDA)
if(NOT CMAKE_CUDA_COMPILER)
  message(FATAL_ERROR "REGIONLAB_CUDA=ON but no CUDA compiler was found; "
                      "install the CUDA toolkit (nvcc) or build with REGIONLAB_CUDA=OFF")
endif()
# Ampere (sm_80) and Hopper (sm_90, e.g. H100/H200) machine code, plus sm_90 PTX that the
# driver compiles for newer GPUs. Override with -DCMAKE_CUDA_ARCHITECTURES=...
if(NOT DEFINED CMAKE_CUDA_ARCHITECTURES OR CMAKE_CUDA_ARCHITECTURES STREQUAL "")
  set(CMAKE_CUDA_ARCHITECTURES "80-real;90")
endif()
enable_language(CUDA)
set(CMAKE_CUDA_STANDARD 17)
set(CMAKE_CUDA_STANDARD_REQUIRED ON)
find_package(CUDAToolkit REQUIRED)

# cuBLAS: from the toolkit, or from the pip wheel nvidia-cublas (which torch's CUDA wheels
# install as site-packages/nvidia/cu13 or nvidia/cublas) when the toolkit has none.
set(REGIONLAB_CUBLAS_ROOT "" CACHE PATH "Folder with include/cublas_v2.h and lib/libcublas.so*")
set(_cublas_hints ${REGIONLAB_CUBLAS_ROOT})
if(NOT TARGET CUDA::cublas OR REGIONLAB_CUBLAS_ROOT)
  find_package(Python 3.9 COMPONENTS Interpreter)
  if(Python_EXECUTABLE)
    execute_process(
      COMMAND ${Python_EXECUTABLE} -c
        "import site,sys,os; ps=site.getsitepackages()+[site.getusersitepackages()]; print(';'.join(os.path.join(p,'nvidia',s) for p in ps for s in ('cu13','cu12','cublas')))"
      OUTPUT_VARIABLE _nvidia_dirs OUTPUT_STRIP_TRAILING_WHITESPACE ERROR_QUIET)
    list(APPEND _cublas_hints ${_nvidia_dirs})
  endif()
endif()
if(TARGET CUDA::cublas AND NOT REGIONLAB_CUBLAS_ROOT)
  set(REGIONLAB_CUBLAS_TARGET CUDA::cublas)
  set(REGIONLAB_CUBLAS_LIBRARY_DIR "${CUDAToolkit_LIBRARY_DIR}")
else()
  find_path(REGIONLAB_CUBLAS_INCLUDE cublas_v2.h HINTS ${_cublas_hints} PATH_SUFFIXES include NO_DEFAULT_PATH)
  find_library(REGIONLAB_CUBLAS_LIBRARY NAMES cublas libcublas.so.13 libcublas.so.12
               HINTS ${_cublas_hints} PATH_SUFFIXES lib lib64 NO_DEFAULT_PATH)
  if(NOT REGIONLAB_CUBLAS_INCLUDE OR NOT REGIONLAB_CUBLAS_LIBRARY)
    message(FATAL_ERROR "REGIONLAB_CUDA=ON but cuBLAS was not found (neither in the CUDA toolkit "
                        "nor as the pip package nvidia-cublas); install one, or pass "
                        "-DREGIONLAB_CUBLAS_ROOT=<folder with include/ and lib/>")
  endif()
  add_library(regionlab_cublas INTERFACE)
  target_include_directories(regionlab_cublas INTERFACE ${REGIONLAB_CUBLAS_INCLUDE})
  target_link_libraries(regionlab_cublas INTERFACE ${REGIONLAB_CUBLAS_LIBRARY})
  set(REGIONLAB_CUBLAS_TARGET regionlab_cublas)
  get_filename_component(REGIONLAB_CUBLAS_LIBRARY_DIR "${REGIONLAB_CUBLAS_LIBRARY}" DIRECTORY)
endif()
message(STATUS "regionlab: CUDA architectures ${CMAKE_CUDA_ARCHITECTURES}; cuBLAS in ${REGIONLAB_CUBLAS_LIBRARY_DIR}")

file(GLOB REGIONLAB_CUDA_SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/cpp/cuda/*.cu)
target_sources(regionlab_core PRIVATE ${REGIONLAB_CUDA_SOURCES})
target_compile_definitions(regionlab_core PUBLIC REGIONLAB_WITH_CUDA)
target_link_libraries(regionlab_core PUBLIC CUDA::cudart_static ${REGIONLAB_CUBLAS_TARGET})
# regionlab_core was created before CUDA was enabled: give it the architectures now.
set_target_properties(regionlab_core PROPERTIES CUDA_ARCHITECTURES "${CMAKE_CUDA_ARCHITECTURES}"
                                                CUDA_SEPARABLE_COMPILATION OFF)
# -Wall etc. are host-compiler flags: pass them to nvcc's host compiler, not nvcc itself.
set_source_files_properties(${REGIONLAB_CUDA_SOURCES} PROPERTIES COMPILE_OPTIONS
  "$<$<COMPILE_LANGUAGE:CUDA>:-Xcompiler=-Wall;--expt-relaxed-constexpr>")
