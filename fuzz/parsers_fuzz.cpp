// libFuzzer target for every text and binary parser of leaves. One binary; the
// parser is chosen by LEAVES_FUZZ_TARGET (see kTargets below). Each input is
// written to a scratch file and read back by the parser, as users' files are.
//
// A parser may reject an input only with std::invalid_argument or
// std::runtime_error (what the CLI reports as one clear error). Anything else
// (a crash, a sanitizer report, another exception, a hang) is a finding.
//
// Build and run: scripts/fuzz.sh [seconds per target] (clang, libFuzzer,
// AddressSanitizer and UndefinedBehaviorSanitizer).
#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iostream>
#include <map>
#include <stdexcept>
#include <string>

#include "leaves/data/download.h"
#include "leaves/data/edf.h"
#include "leaves/data/studies.h"
#include "leaves/data/tables.h"
#include "leaves/data/text_series.h"
#include "leaves/data/wfdb.h"

namespace fs = std::filesystem;
using namespace leaves::data;

namespace {

fs::path scratch() {
  static const fs::path dir = [] {
    auto d = fs::temp_directory_path() / ("leaves-fuzz-" + std::to_string(::getpid()));
    fs::create_directories(d);
    return d;
  }();
  return dir;
}

fs::path write(const std::string& name, const uint8_t* data, size_t size) {
  const auto p = scratch() / name;
  std::ofstream(p, std::ios::binary | std::ios::trunc).write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(size));
  return p;
}

// A WFDB record: the input is the signal file of a record whose header (two
// channels, format chosen by the first byte) is fixed; the header parser is
// fuzzed on its own by "wfdb-header".
void wfdb_record(const uint8_t* data, size_t size) {
  if (size < 1) return;
  const int formats[3] = {16, 212, 80};
  const int format = formats[data[0] % 3];
  write("r.dat", data + 1, size - 1);
  std::ofstream(scratch() / "r.hea") << "r 2 100 " << (data[0] / 3) << "\nr.dat " << format << " 200 12 0 0 0 0 I\nr.dat "
                                     << format << " 200/mV 12 0 5 17 0 II\n";
  read_wfdb_record(scratch() / "r.hea", true);
}

void edf_any(const uint8_t* data, size_t size) {
  const auto p = write("x.edf", data, size);
  const auto info = read_edf_info(p);
  if (!info.signals.empty()) read_edf_signal(p, info.signals.front().label);
}

const std::map<std::string, std::function<void(const uint8_t*, size_t)>> kTargets{
    {"wfdb-header", [](const uint8_t* d, size_t n) { read_wfdb_header(write("h.hea", d, n)); }},
    {"wfdb-record", wfdb_record},
    {"wfdb-annotations", [](const uint8_t* d, size_t n) { read_wfdb_annotations(write("a.atr", d, n)); }},
    {"edf", edf_any},
    {"hypnogram", [](const uint8_t* d, size_t n) { read_hypnogram_epochs(write("SC4001EC-Hypnogram.edf", d, n)); }},
    {"ucr", [](const uint8_t* d, size_t n) { read_ucr_file(write("X_TRAIN.tsv", d, n), MissingValues::Interpolate); }},
    {"uea", [](const uint8_t* d, size_t n) { read_uea_file(write("X_TRAIN.ts", d, n), MissingValues::Interpolate); }},
    {"arff", [](const uint8_t* d, size_t n) { read_arff_file(write("X_TRAIN.arff", d, n), MissingValues::Interpolate); }},
    {"pamap2", [](const uint8_t* d, size_t n) { read_pamap2(write("subject101.dat", d, n)); }},
    {"csv", [](const uint8_t* d, size_t n) { read_csv(write("x.csv", d, n)); }},
    {"npy", [](const uint8_t* d, size_t n) { read_npy(write("x.npy", d, n)); }},
    {"apnea-answers", [](const uint8_t* d, size_t n) { read_apnea_answers(write("event-2.txt", d, n)); }},
    {"scp-statements", [](const uint8_t* d, size_t n) { read_ptbxl_superclasses(write("scp_statements.csv", d, n)); }},
    {"scp-codes", [](const uint8_t* d, size_t n) { parse_scp_codes(std::string(reinterpret_cast<const char*>(d), n)); }},
    {"checksums",
     [](const uint8_t* d, size_t n) { parse_checksum_list(std::string(reinterpret_cast<const char*>(d), n), "SUMS"); }},
};

const std::function<void(const uint8_t*, size_t)>* target = nullptr;

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  const char* name = std::getenv("LEAVES_FUZZ_TARGET");
  auto it = name ? kTargets.find(name) : kTargets.end();
  if (it == kTargets.end()) {
    std::cerr << "set LEAVES_FUZZ_TARGET to one of:";
    for (const auto& [k, _] : kTargets) std::cerr << " " << k;
    std::cerr << "\n";
    std::exit(2);
  }
  target = &it->second;
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    (*target)(data, size);
  } catch (const std::invalid_argument&) {
  } catch (const std::runtime_error&) {
  }
  return 0;
}
