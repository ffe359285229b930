#!/usr/bin/env bash
# Fuzzes every parser of leaves with libFuzzer (clang, AddressSanitizer and
# UndefinedBehaviorSanitizer) for a bounded time, seeded with the real files
# of ../shared/data where there are some.
#
#   bash scripts/fuzz.sh [SECONDS_PER_TARGET=60] [TARGET...]
#
# Needs clang and libclang-rt-14-dev (Debian). Builds into build-fuzz/ (or
# $LEAVES_FUZZ_BUILD_DIR); corpora and any crashing inputs stay under it.
# Prints one line per target with its executions; exits non-zero on a finding.
set -euo pipefail
cd "$(dirname "$0")/.."
SECONDS_PER_TARGET="${1:-60}"
shift || true
BUILD="${LEAVES_FUZZ_BUILD_DIR:-build-fuzz}"
SHARED="../shared/data"

for p in clang libclang-rt-14-dev; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || {
    SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
    $SUDO apt-get install -y -qq --no-install-recommends clang libclang-rt-14-dev
    break
  }
done

# LEAVES_SANITIZE_TESTS=GTEST_FILTER: also build the unit tests in the same
# instrumented build (AddressSanitizer + UndefinedBehaviorSanitizer) and run
# the ones the filter selects.
TESTS_ON=OFF
[ -n "${LEAVES_SANITIZE_TESTS:-}" ] && TESTS_ON=ON
cmake -S . -B "$BUILD" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_CXX_COMPILER=clang++ -DCMAKE_C_COMPILER=clang \
  -DLEAVES_FUZZ=ON -DLEAVES_BUILD_TESTS=$TESTS_ON -DLEAVES_BUILD_BENCH=OFF -DLEAVES_OPENMP=OFF -DLEAVES_PYTHON=OFF >/dev/null
cmake --build "$BUILD" --target leaves_fuzz_parsers -j "$(nproc)"
if [ "$TESTS_ON" = ON ]; then
  cmake --build "$BUILD" --target leaves_tests leaves -j "$(nproc)"
  echo "unit tests under ASan + UBSan: --gtest_filter=$LEAVES_SANITIZE_TESTS"
  ASAN_OPTIONS=detect_leaks=0:alloc_dealloc_mismatch=0 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
    LEAVES_CLI="$PWD/$BUILD/leaves" "$BUILD/leaves_tests" --gtest_filter="$LEAVES_SANITIZE_TESTS" --gtest_brief=1
fi

seed() {  # seed TARGET FILES...
  local dir="$BUILD/corpus/$1"; shift
  mkdir -p "$dir"
  for f in "$@"; do [ -f "$f" ] && cp -n "$f" "$dir/" 2>/dev/null || true; done
}
seed wfdb-header "$SHARED"/formats/apnea-ecg/a0*.hea "$SHARED"/formats/ptb-xl/records100/*/*.hea "$SHARED"/formats/mit-bih/*.hea
seed wfdb-annotations "$SHARED"/formats/apnea-ecg/a0[1-3].apn "$SHARED"/formats/apnea-ecg/a01.qrs "$SHARED"/formats/mit-bih/*.atr
seed hypnogram "$SHARED"/formats/sleep-edf/hypnograms/SC4001EC-Hypnogram.edf
seed edf "$SHARED"/formats/sleep-edf/hypnograms/SC4011EH-Hypnogram.edf
seed ucr "$SHARED"/ucr/ECG200/ECG200_TEST.tsv
seed uea "$SHARED"/uea/BasicMotions/BasicMotions_TEST.ts
seed apnea-answers "$SHARED"/formats/apnea-ecg/event-2.txt
seed scp-statements "$SHARED"/formats/ptb-xl/scp_statements.csv
seed checksums "$SHARED"/formats/apnea-ecg/SHA256SUMS "$SHARED"/formats/sleep-edf/SHA1SUMS
mkdir -p "$BUILD/corpus/arff"
printf '@relation X\n@attribute a numeric\n@attribute b numeric\n@attribute t {x,y}\n@data\n1,2,x\n3,?,y\n' > "$BUILD/corpus/arff/seed"
printf "@relation M\n@attribute r relational\n@attribute a numeric\n@end r\n@attribute t {x,y}\n@data\n'1,2\\\\n3,4',x\n" > "$BUILD/corpus/arff/seed2"
mkdir -p "$BUILD/corpus/wfdb-record" "$BUILD/corpus/pamap2" "$BUILD/corpus/csv" "$BUILD/corpus/npy" "$BUILD/corpus/scp-codes"
printf '\x01\x02\x03\x04\x05\x06\x07\x08\x09\x0a\x0b\x0c' > "$BUILD/corpus/wfdb-record/seed"
printf '5.00 0 104 1.5 2.5 NaN 3\n5.01 1 NaN 1 2 3 4\n' > "$BUILD/corpus/pamap2/seed"
printf '1,2,3\n4,5,6\n' > "$BUILD/corpus/csv/seed"
printf "{'NORM': 100.0, 'SR': 0.0}" > "$BUILD/corpus/scp-codes/seed"
printf "\x93NUMPY\x01\x00v\x00{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }          \n" > "$BUILD/corpus/npy/seed"
head -c 24 /dev/zero >> "$BUILD/corpus/npy/seed"

TARGETS=("$@")
[ ${#TARGETS[@]} -eq 0 ] && TARGETS=(wfdb-header wfdb-record wfdb-annotations edf hypnogram ucr uea arff pamap2 csv npy apnea-answers scp-statements scp-codes checksums)
status=0
total=0
for t in "${TARGETS[@]}"; do
  mkdir -p "$BUILD/findings/$t"
  log="$BUILD/findings/$t.log"
  set +e
  ASAN_OPTIONS=detect_leaks=0:alloc_dealloc_mismatch=0 LEAVES_FUZZ_TARGET="$t" \
    "$BUILD/leaves_fuzz_parsers" -max_total_time="$SECONDS_PER_TARGET" -timeout=10 -rss_limit_mb=4096 \
    -max_len=65536 -artifact_prefix="$BUILD/findings/$t/" -print_final_stats=1 "$BUILD/corpus/$t" >"$log" 2>&1
  rc=$?
  set -e
  runs=$(grep -m1 'stat::number_of_executed_units' "$log" | awk '{print $2}')
  total=$((total + ${runs:-0}))
  if [ $rc -eq 0 ]; then
    echo "$t: ${runs:-?} executions, no finding"
  else
    echo "$t: FINDING after ${runs:-?} executions (exit $rc); input and log in $BUILD/findings/$t/ and $log"
    grep -m3 -E 'ERROR|SUMMARY|terminate|what\(\)' "$log" || true
    status=1
  fi
done
echo "total: $total executions"
exit $status
