// Tabular and array files: PAMAP2 `.dat` recordings, plain numeric CSV and
// NumPy `.npy` arrays (users' own data: `[N, C, L]` or `[N, L]` series plus
// `[N]` labels). Every reader names the file and line (or byte) it rejects.
#pragma once
#include <torch/torch.h>

#include <filesystem>
#include <string>
#include <vector>

#include "leaves/data/dataset.h"

namespace leaves::data {

/// One PAMAP2 protocol/optional session (UCI PAMAP2 readme, section II): 54
/// space-separated columns per row at 100 Hz; NaN marks missing values (the
/// heart rate is only sampled at ~9 Hz) and is kept as NaN here.
struct Pamap2Recording {
  torch::Tensor time;      ///< `[T]` float64 seconds
  torch::Tensor activity;  ///< `[T]` int64 activity ids (0 = transient, to discard)
  torch::Tensor values;    ///< `[52, T]` float32: heart rate, then 17 columns per IMU (hand, chest, ankle)
  /// Names of the 52 value channels, e.g. "hand_acc16_x".
  static std::vector<std::string> channel_names();
};
Pamap2Recording read_pamap2(const std::filesystem::path& file);
/// "lying", "walking", ... for a PAMAP2 activity id; throws for an unknown id.
std::string pamap2_activity_name(int id);

/// Whether a CSV file's first row is a header: `Auto` takes it as one only when
/// none of its cells is a number (a row with some numbers and a typo is an
/// error at that line, never silently dropped).
enum class CsvHeader { Auto, Yes, No };
/// "auto" | "yes" | "no"; throws std::invalid_argument naming `option` otherwise.
CsvHeader parse_csv_header(const std::string& text, const std::string& option);

/// A numeric CSV table `[rows, columns]` (float32; separators `,` `;` or tab).
/// With `header_taken`, says whether the first row was taken as a header.
torch::Tensor read_csv(const std::filesystem::path& file, CsvHeader header = CsvHeader::Auto,
                       bool* header_taken = nullptr);

/// A NumPy `.npy` array (format 1.0-3.0, little-endian float32/float64/int32/
/// int64/uint8/bool, C order) as a tensor of the same shape.
torch::Tensor read_npy(const std::filesystem::path& file);

/// Writes a float32/float64/int64/int32 tensor as a NumPy `.npy` file (format
/// 1.0, little-endian, C order), atomically (temporary file, then rename).
void write_npy(const std::filesystem::path& file, const torch::Tensor& t);

/// A data set from a series file (`.npy` `[N, C, L]` or `[N, L]`, or `.csv`
/// `[N, L]`) and a labels file (`.npy` or `.csv`, N integer labels).
/// With CsvHeader::Auto, a header row taken from a CSV file is reported on
/// standard error (what was decided, and how to decide otherwise).
Dataset read_array_dataset(const std::filesystem::path& series, const std::filesystem::path& labels,
                           CsvHeader header = CsvHeader::Auto);

}  // namespace leaves::data
