// PhysioNet WFDB records: header (.hea), signal files (formats 16, 212, 80) and
// MIT-format annotation files (.atr, .apn, .qrs, ...), read without the WFDB
// library (Debian has none), following the WFDB specifications (header(5),
// signal(5), annot(5)).
//
// Physical value = (digital - baseline) / gain; a missing or zero gain means 200
// ADC units per mV and a missing baseline means the ADC zero, as WFDB does.
// Reading a record verifies each signal's checksum (16-bit sum of its samples)
// and initial value against the header and reports every mismatch as an error
// naming the record and signal.
#pragma once
#include <torch/torch.h>

#include <filesystem>
#include <string>
#include <vector>

namespace leaves::data {

struct WfdbSignal {
  std::string file;          ///< signal file name, relative to the header
  int format = 16;           ///< 16, 212 or 80
  double gain = 200;         ///< ADC units per physical unit
  int baseline = 0;          ///< digital value of physical zero
  std::string units = "mV";
  int adc_resolution = 0;    ///< bits
  int adc_zero = 0;
  int initial_value = 0;
  bool has_initial_value = false;
  int checksum = 0;          ///< 16-bit sum of the samples, as in the header
  bool has_checksum = false;
  int block_size = 0;
  std::string description;
};

struct WfdbHeader {
  std::string record;
  double frequency = 250;    ///< samples per second per signal
  int64_t length = -1;       ///< samples per signal; -1 when the header omits it
  std::vector<WfdbSignal> signals;
  std::vector<std::string> comments;
};

/// Parses a header file; throws std::invalid_argument naming file:line.
WfdbHeader read_wfdb_header(const std::filesystem::path& hea);

struct WfdbRecord {
  WfdbHeader header;
  torch::Tensor digital;   ///< `[C, L]` int32 ADC values
  torch::Tensor physical;  ///< `[C, L]` float32 in each signal's units
};

/// Reads the record whose header is `hea` (signal files beside it). With
/// `verify`, checksum and initial-value mismatches are errors.
WfdbRecord read_wfdb_record(const std::filesystem::path& hea, bool verify = true);

struct WfdbAnnotation {
  int64_t sample = 0;   ///< time in samples from the record's start
  int code = 0;         ///< annotation type (1 = N, 5 = V, 8 = A, 28 = rhythm '+', ...)
  std::string symbol;   ///< its mnemonic ("N", "V", "A", "+", ...)
  int subtype = 0, chan = 0, num = 0;
  std::string aux;      ///< auxiliary text (e.g. "(N" for a rhythm change)
};

/// Reads an MIT-format annotation file, handling the SKIP, NUM, SUB, CHN and
/// AUX pseudo-annotations; throws naming the file and byte offset when truncated.
std::vector<WfdbAnnotation> read_wfdb_annotations(const std::filesystem::path& file);

/// Writes annotations (sorted by sample; code, subtype, chan, num and aux) in
/// MIT format, the inverse of read_wfdb_annotations.
void write_wfdb_annotations(const std::filesystem::path& file, const std::vector<WfdbAnnotation>& annotations);

/// The mnemonic of an annotation code ("N" for 1, ...), "[code]" if unnamed.
std::string wfdb_symbol(int code);

}  // namespace leaves::data
