#!/usr/bin/env bash
# Compiles every translation unit of leaves against a newer LibTorch than the
# one installed here, without a GPU: the GPU machine runs PyTorch's own
# LibTorch (2.x, CUDA), CI and this machine Debian's 1.13, and a device session
# is too short to spend on an API that moved. This takes Debian's newest
# libtorch-dev (suite sid by default, 2.14 when written) and its shared
# objects, unpacked under build-torch-check/ (git-ignored; about 70 MB), then
#   1. configures and builds the whole project against it (the library, the
#      tool, the benchmarks and the tests; linking may fail where that suite's
#      libraries need a newer C library than this machine's: only compiler
#      errors count), in the language mode that LibTorch needs (C++20 from 2.14);
#   2. re-checks the sources that have CUDA-only branches (#ifdef
#      LEAVES_WITH_CUDA or LEAVES_WITH_NCCL) with the CUDA build's macros, against that LibTorch's
#      CUDA headers and the CUDA toolkit's (nvcc's include directory), with
#      g++ -fsyntax-only: what the GPU machine's build compiles and CI's cannot.
# Usage: bash scripts/check-torch-headers.sh [SUITE]     (e.g. sid, trixie)
# Exit status: 0 when nothing failed to compile, 1 otherwise, 2 for bad usage.
set -euo pipefail
cd "$(dirname "$0")/.."
suite=${1:-sid}
case "$suite" in -h | --help) sed -n '2,18p' "$0"; exit 0 ;; -*) echo "check-torch-headers: unknown option $suite" >&2; exit 2 ;; esac
top=build-torch-check/$suite
root=$top/root
mkdir -p "$top/apt/lists/partial" "$top/apt/cache/archives/partial" "$top/debs" "$root"
echo "deb http://deb.debian.org/debian $suite main contrib" > "$top/apt/sources.list"
apt_opts=(-o "Dir::Etc::sourcelist=$PWD/$top/apt/sources.list" -o Dir::Etc::sourceparts=/nonexistent
          -o "Dir::State::Lists=$PWD/$top/apt/lists" -o "Dir::Cache=$PWD/$top/apt/cache")
apt-get "${apt_opts[@]}" update -qq
# libtorch-dev depends on exactly one libtorchX.Y (the shared objects).
runtime=$(apt-cache "${apt_opts[@]}" show libtorch-dev | grep -m1 '^Depends:' | grep -o 'libtorch[0-9][0-9.]*' | head -1)
[ -n "$runtime" ] || { echo "check-torch-headers: no libtorch-dev in Debian $suite" >&2; exit 1; }
rm -f "$top"/debs/*.deb
# (apt warns that it downloads as root when _apt cannot write the folder: harmless here.)
(cd "$top/debs" && apt-get "${apt_opts[@]}" download libtorch-dev "$runtime" 2> download.log) ||
  { cat "$top/debs/download.log" >&2; echo "check-torch-headers: download from Debian $suite failed" >&2; exit 1; }
for deb in "$top"/debs/*.deb; do dpkg -x "$deb" "$root"; done
version=$(sed -n 's/.*PACKAGE_VERSION "\(.*\)".*/\1/p' "$root"/usr/lib/*/cmake/Torch/TorchConfigVersion.cmake)
echo "check-torch-headers: LibTorch $version from Debian $suite"

# 1. The whole project, as CMake builds it.
build=$top/build
cmake -S . -B "$build" -DCMAKE_PREFIX_PATH="$PWD/$root/usr" -DCMAKE_EXPORT_COMPILE_COMMANDS=ON > "$top/configure.log"
grep -E '^-- (leaves|Found Torch)' "$top/configure.log" || true
set +e
cmake --build "$build" -j"$(nproc)" -- -k > "$top/build.log" 2>&1
# The tests depend on the `leaves` tool (their CLI tests run it): when it fails
# to link, make skips them. /fast compiles a target without its dependencies.
cmake --build "$build" -j"$(nproc)" --target leaves_tests/fast -- -k >> "$top/build.log" 2>&1
set -e
compile_errors=$(grep -cE '^[^ :]+\.(cpp|h|hpp|cxx|hxx|cu|cuh):[0-9]+:[0-9]+: (fatal )?error:' "$top/build.log" || true)
link_errors=$(grep -cE 'undefined reference|ld returned|cannot find -l' "$top/build.log" || true)
echo "check-torch-headers: whole build: $compile_errors compiler errors, $link_errors linker messages (log: $top/build.log)"
grep -E '^[^ :]+\.(cpp|h|hpp|cxx|hxx):[0-9]+:[0-9]+: (fatal )?error:' "$top/build.log" | head -20 || true

# 2. The CUDA-only branches, with the GPU build's macros.
cuda_inc=""
for d in "${CUDA_HOME:-}" /usr/local/cuda "$(dirname "$(dirname "$(command -v nvcc 2>/dev/null || echo /none/bin/nvcc)")")"; do
  if [ -n "$d" ] && [ -f "$d/include/cuda_runtime_api.h" ]; then cuda_inc=$d/include; break; fi
done
cuda_failed=0
if [ -z "$cuda_inc" ]; then
  echo "check-torch-headers: no CUDA toolkit headers (cuda_runtime_api.h; set CUDA_HOME): CUDA branches not checked"
else
  # PyTorch's CUDA build generates this header; a CPU package of LibTorch lacks it.
  stub=$top/stub
  mkdir -p "$stub/c10/cuda/impl"
  echo '#define C10_CUDA_BUILD_SHARED_LIBS' > "$stub/c10/cuda/impl/cuda_cmake_macros.h"
  # The compiler flags of the library's own translation units (include
  # directories, macros, language mode), without the output and the source.
  flags=$(python3 - "$build/compile_commands.json" <<'EOF'
import json, shlex, sys
for entry in json.load(open(sys.argv[1])):
    if "/src/leaves/" not in entry["file"] and "leaves_lib" not in entry["file"]:
        continue
    args = shlex.split(entry["command"])[1:]
    out, skip = [], False
    for a in args:
        if skip:
            skip = False
            continue
        if a in ("-o", "-c"):
            skip = True
            continue
        if a.startswith("-Winvalid-pch") or a.endswith(".hxx") or a == "-include":
            continue
        out.append(a)
    print(shlex.join(out))
    break
EOF
)
  for f in $(git grep -lE 'LEAVES_WITH_(CUDA|NCCL)' -- '*.cpp'); do
    # shellcheck disable=SC2086  # $flags is a list of compiler arguments
    if g++ $flags -fsyntax-only -DLEAVES_WITH_CUDA -DLEAVES_WITH_CUDA_KERNELS -DLEAVES_WITH_NCCL \
         -isystem "$cuda_inc" -isystem "$stub" "$f" > "$top/cuda-check.log" 2>&1; then
      echo "check-torch-headers: CUDA branches of $f: ok"
    else
      cuda_failed=$((cuda_failed + 1))
      echo "check-torch-headers: CUDA branches of $f: FAILED"
      grep -E 'error' "$top/cuda-check.log" | head -10
    fi
  done
fi
if [ "$compile_errors" -gt 0 ] || [ "$cuda_failed" -gt 0 ]; then
  echo "check-torch-headers: LibTorch $version: FAILED"
  exit 1
fi
echo "check-torch-headers: LibTorch $version: every translation unit compiles"
