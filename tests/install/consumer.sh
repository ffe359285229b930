#!/bin/sh
# A real consumer of the installed package: `cmake --install` into a fresh
# prefix, then examples/ configured as a project of its own against that prefix
# (find_package(leaves)), built and run; and the installed tool and Python
# package used from there.
# Usage: consumer.sh BUILD_DIR SOURCE_DIR [PYTHON [PREFIX_PATH]]   (run in a scratch folder)
# PREFIX_PATH: where LibTorch's CMake package is when it is not a system one
# (the build's CMAKE_PREFIX_PATH, e.g. PyTorch's on the GPU machine).
# set -e stops at any failing command, but not at a failing left side of
# `&&`: every check is a command of its own.
set -eu
BUILD=$1 SRC=$2 PYTHON=${3:-} PREFIXES="$PWD/consumer/prefix${4:+;$4}"
rm -rf consumer
mkdir consumer
cd consumer
cmake --install "$BUILD" --prefix "$PWD/prefix" > install.log
test -x prefix/bin/leaves
test -f prefix/include/leaves/views/leaves.h
test -f prefix/lib/cmake/leaves/leavesConfig.cmake
prefix/bin/leaves --version
# The examples know nothing of the build tree: only the prefix.
cmake -S "$SRC/examples" -B examples -DCMAKE_PREFIX_PATH="$PREFIXES" > configure.log
cmake --build examples -j 2 > build.log || { cat build.log; exit 1; }
# 1. A pre-training run by the installed tool, embedded by the example: the same bytes as `leaves embed`.
DATA=synthetic:size=64,length=96
prefix/bin/leaves pretrain --data $DATA --epochs 1 --min-steps 0 --width 4 --batch-size 16 --out run > /dev/null
examples/embed_run run $DATA z-example.npy test
prefix/bin/leaves embed --encoder run --data $DATA --split test --out z-cli.npy > /dev/null
cmp z-example.npy z-cli.npy
cmp z-example.labels.npy z-cli.labels.npy
if examples/embed_run run $DATA bad.npy nosplit 2> err.txt; then exit 1; fi
grep -q 'split must be train, val or test' err.txt
test ! -e bad.npy
# 2. A training loop of the example's own with LEAVES as its augmentation: exits 1 unless its loss went down.
examples/train_with_leaves 20
# 3. The README's C++ snippet, as a project of its own, with this run.
block() {  # block LANG: the first ```LANG block of the README's "## From C++" section
  awk -v lang="$1" '$0 == "## From C++" { s = 1 } s && $0 == "```" lang { p = 1; next } p && $0 == "```" { exit } p' "$SRC/README.md"
}
mkdir readme
block cmake > readme/CMakeLists.txt
block cpp > readme/main.cpp
test -s readme/CMakeLists.txt
grep -q 'int main' readme/main.cpp
cmake -S readme -B readme/build -DCMAKE_PREFIX_PATH="$PREFIXES" > readme/configure.log
cmake --build readme/build > readme/build.log || { cat readme/build.log; exit 1; }
readme/build/mine run | tee readme/out.txt
grep -q '^a view of \[8, 1, 200\], 7 parameter tensors$' readme/out.txt
grep -q '^jitter_sigma 0\.0' readme/out.txt
# 4. The installed Python package, found from the prefix alone.
if [ -n "$PYTHON" ]; then
  site=$(ls -d prefix/lib/python3*/site-packages)
  PYTHONPATH=$site "$PYTHON" -c "
import torch, leaves
print('leaves from', leaves.__file__)
assert leaves.__file__.startswith('$PWD/prefix/'), leaves.__file__
enc = leaves.load_encoder('run')
d = leaves.load_data('$DATA')
z = enc(d.test.x).detach()
assert (z - leaves.read_npy('z-cli.npy')).abs().max().item() <= 1e-6
print('python: embeddings of the installed module equal leaves embed', tuple(z.shape))
"
fi
echo "consumer: installed package configured, built and ran"
