#!/usr/bin/env bash
# Installs every system package leaves needs on Debian 12 (the one list).
# Idempotent: does nothing when everything is already installed.
set -euo pipefail

PACKAGES=(
  build-essential cmake
  libtorch-dev              # LibTorch 1.13 (CPU)
  libopenblas0-openmp       # a fast BLAS behind LibTorch (Debian's default is the reference one):
                            # the CPU encoder's Winograd convolutions are its matrix products
  libcli11-dev              # command-line parsing
  nlohmann-json3-dev        # JSON (configs, run logs)
  libtomlplusplus-dev       # TOML presets
  libedf-dev                # EDF/EDF+ (EDFlib)
  libfccp-dev               # CSV with quoted fields (fast-cpp-csv-parser)
  libssl-dev                # SHA-256 of data sources (OpenSSL libcrypto)
  libsvm-dev                # the SVM probe (leaves probe --probe svm)
  libsvm-tools              # tests: the SVM probe against LIBSVM's svm-train / svm-predict
  python3                   # tests: the robustness suite and the download test server
  libcurl4-openssl-dev      # leaves download (libcurl)
  gnuplot-nox               # leaves plot / report figures (PNG + SVG)
  libpng-dev libxml2-dev    # tests: decode the PNGs, parse the SVGs
  chromium                  # tests: the HTML report in a headless browser
  libgloo-dev               # data-parallel training: Gloo headers for c10d
  python3-torch             # the Python module (build/python/leaves): PyTorch on the same LibTorch 1.13
  python3-dev pybind11-dev  # ... built with pybind11 against Python's headers
  libgtest-dev              # GoogleTest
  libbenchmark-dev          # Google Benchmark
)

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#PACKAGES[@]} packages present"
  exit 0
fi
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
echo "install-deps: installing ${missing[*]}"
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
