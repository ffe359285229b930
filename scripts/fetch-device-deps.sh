#!/usr/bin/env bash
# Prepares what the GPU machine (no package registry there) needs to build
# leaves: the Debian packages CLI11, nlohmann-json, toml++, EDFlib, fast-cpp-csv-parser and
# OpenSSL's headers and library as .deb files (libcurl is left out: the device build is
# configured with -DLEAVES_REQUIRE_CURL=OFF; Gloo too: it must match PyTorch's own),
# and a copy of the Python peer benchmark, all in the git-ignored folder .deps/.
# Pass `.deps` in the device tool's `carry`, then run scripts/device-bench.sh there.
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p .deps
(cd .deps && apt-get download libcli11-dev nlohmann-json3-dev libtomlplusplus-dev libedf-dev libfccp-dev libssl-dev libssl3)
if [ -f ../shared/bench/peer_pytorch.py ]; then cp ../shared/bench/peer_pytorch.py .deps/; fi
ls -l .deps
