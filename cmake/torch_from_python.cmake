# Finds LibTorch and NCCL in a Python environment's torch and nvidia-* wheels.
# In:  HRERE_TORCH_PYTHON (cache; default .venv/bin/python of the source tree).
# Out: CMAKE_PREFIX_PATH and CMAKE_LIBRARY_PATH led by torch's CMake package and libraries,
#      HRERE_TORCH_LIB_DIR (torch's libraries), NCCL_ROOT (the wheel's NCCL, read
#      by comm/CMakeLists.txt), CUDAToolkit_ROOT where unset and /usr/local/cuda exists,
#      CMAKE_INSTALL_RPATH, HRERE_MIN_TORCH_VERSION.

# The oldest torch the build is checked against: the pin (tools/python-requirements.txt);
# newer ones with tools/check_torch_version.sh.
set(HRERE_MIN_TORCH_VERSION 2.11)

set(HRERE_TORCH_PYTHON "" CACHE FILEPATH
    "Python whose torch package provides LibTorch (default: the project's .venv)")
if(NOT HRERE_TORCH_PYTHON AND EXISTS "${CMAKE_SOURCE_DIR}/.venv/bin/python")
  set(HRERE_TORCH_PYTHON "${CMAKE_SOURCE_DIR}/.venv/bin/python" CACHE FILEPATH "" FORCE)
endif()
if(NOT HRERE_TORCH_PYTHON)
  message(FATAL_ERROR "hrere: no Python with torch. Run tools/setup.sh (it makes .venv with "
                      "the pinned torch), or pass -DHRERE_TORCH_PYTHON=/path/to/python.")
endif()

# One question to the interpreter: torch's CMake folder, its version, and the folder of the
# nvidia NCCL wheel (include/nccl.h and lib/libnccl.so.2; its place differs between wheel
# generations, so it is searched for under every nvidia namespace path).
execute_process(
  COMMAND "${HRERE_TORCH_PYTHON}" -c "
import glob, importlib.util, os, torch
print(torch.utils.cmake_prefix_path)
print(torch.__version__)
spec = importlib.util.find_spec('nvidia')
roots = [os.path.dirname(os.path.dirname(h))
         for base in (spec.submodule_search_locations if spec else [])
         for h in sorted(glob.glob(os.path.join(base, '**', 'include', 'nccl.h'), recursive=True))
         if glob.glob(os.path.join(os.path.dirname(os.path.dirname(h)), 'lib', 'libnccl.so*'))]
print(roots[0] if roots else '')
"
  OUTPUT_VARIABLE hrere_torch_answer
  ERROR_VARIABLE hrere_torch_error
  RESULT_VARIABLE hrere_torch_failed
  OUTPUT_STRIP_TRAILING_WHITESPACE)
if(hrere_torch_failed)
  message(FATAL_ERROR "hrere: ${HRERE_TORCH_PYTHON} cannot import torch (${hrere_torch_error}). "
                      "Run tools/setup.sh, or point HRERE_TORCH_PYTHON at a Python with torch.")
endif()
string(REPLACE "\n" ";" hrere_torch_answer "${hrere_torch_answer}")
list(GET hrere_torch_answer 0 hrere_torch_cmake)
list(GET hrere_torch_answer 1 HRERE_TORCH_VERSION)
list(LENGTH hrere_torch_answer hrere_answer_lines)
if(hrere_answer_lines GREATER 2)
  list(GET hrere_torch_answer 2 hrere_nccl_root)
endif()
list(PREPEND CMAKE_PREFIX_PATH "${hrere_torch_cmake}")
# TorchConfig finds some of its libraries (c10, torch) with find_library, which searches the
# system's folders before torch's own: another LibTorch there (Debian's libtorch-dev) would be
# linked beside this one. Torch's lib folder goes first.
get_filename_component(HRERE_TORCH_LIB_DIR "${hrere_torch_cmake}/../../lib" ABSOLUTE)
list(PREPEND CMAKE_LIBRARY_PATH "${HRERE_TORCH_LIB_DIR}")
if(hrere_nccl_root AND NOT NCCL_ROOT)
  set(NCCL_ROOT "${hrere_nccl_root}")
endif()
message(STATUS "hrere: torch ${HRERE_TORCH_VERSION} from ${HRERE_TORCH_PYTHON}")

# An installed hrere loads LibTorch and NCCL from where it was built against them, as the
# build tree's binary does. The environment may lie inside the source tree, whose folders
# CMake leaves out of an installed binary's search path unless named.
set(CMAKE_INSTALL_RPATH "${HRERE_TORCH_LIB_DIR}")
if(NCCL_ROOT)
  list(APPEND CMAKE_INSTALL_RPATH "${NCCL_ROOT}/lib")
endif()
set(CMAKE_INSTALL_RPATH_USE_LINK_PATH ON)

# LibTorch's CUDA library needs libnccl.so.2. At run time its own RPATH finds the wheel's; at
# link time the linker looks in the executable's search path first, where the CUDA
# toolkit's older NCCL may stand (torch 2.15 needs NCCL 2.30 symbols the toolkit's 2.28
# lacks). The wheel's folder is named for the linker ahead of all others.
if(NCCL_ROOT)
  add_link_options("LINKER:-rpath-link,${NCCL_ROOT}/lib")
endif()

# LibTorch's CUDA build looks for a CUDA toolkit (headers, nvcc) at configure time; without
# one its own message is obscure.
if(NOT CUDAToolkit_ROOT AND NOT DEFINED ENV{CUDAToolkit_ROOT})
  if(EXISTS /usr/local/cuda/bin/nvcc)
    set(CUDAToolkit_ROOT /usr/local/cuda)
  else()
    find_program(HRERE_NVCC nvcc)
    if(NOT HRERE_NVCC)
      message(FATAL_ERROR "hrere: torch ${HRERE_TORCH_VERSION} is a CUDA build, and "
                          "LibTorch's CMake package needs a CUDA toolkit of the same major "
                          "version (nvcc and headers; no GPU): none in /usr/local/cuda or on "
                          "the PATH. Install one there, or set CUDAToolkit_ROOT.")
    endif()
  endif()
endif()
