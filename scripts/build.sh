#!/usr/bin/env bash
# Configures and builds leaves (library, CLI, tests, benchmarks) into ./build.
# Usage: scripts/build.sh [extra cmake arguments]
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD_DIR=${LEAVES_BUILD_DIR:-build}
# CMake's report of what it found (backends, CUDA, OpenMP: its "leaves:" lines) and any warning.
cmake -S . -B "$BUILD_DIR" -DCMAKE_BUILD_TYPE=Release "$@" | { grep -E "^-- leaves|Warning|Error" || true; }
cmake --build "$BUILD_DIR" -j "$(nproc)"
