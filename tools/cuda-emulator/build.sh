#!/usr/bin/env bash
# Builds FastIF's CUDA emulator (see emu_common.h) into one shared object that stands in for libcuda, NVRTC, cuBLAS,
# cuBLASLt and cuDNN:   tools/cuda-emulator/build.sh [OUT_DIR]   (default: build/cuda-emulator)
# Use it with:          FASTIF_CUDA_EMULATOR=$OUT_DIR/libfastif_cuda_emulator.so dotnet test ...
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
out="${1:-$here/../../build/cuda-emulator}"
mkdir -p "$out"
out="$(cd "$out" && pwd)"  # printed absolute: FASTIF_CUDA_EMULATOR is read from the test host's own directory
cxx="${CXX:-g++}"
command -v "$cxx" >/dev/null || { echo "build.sh: no C++ compiler ($cxx); install g++" >&2; exit 1; }
"$cxx" -std=c++17 -O2 -g -fPIC -shared -Wall -Wextra -Wno-unused-parameter -DEMU_DIR="\"$here\"" \
  "$here"/emu_driver.cpp "$here"/emu_nvrtc.cpp $(ls "$here"/emu_cublas.cpp "$here"/emu_cudnn.cpp 2>/dev/null) \
  -ldl -o "$out/libfastif_cuda_emulator.so"
echo "$out/libfastif_cuda_emulator.so"
