#!/usr/bin/env bash
# Build llama-cpp-python portably (the native -march=native build crashes on
# this machine). Takes ~200 s+ on 2 cores.
set -euo pipefail
cd "$(dirname "$0")/.."
CMAKE_ARGS="-DGGML_NATIVE=OFF -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON" .venv/bin/pip install 'llama-cpp-python[server]'
