// Prepared data sets on disk: the splits of a data spec stored as binary
// tensors plus `prepared.json`, a description of the spec, the source files
// (path, size, modification time, SHA-256), the shapes, classes and counts.
// Loading a prepared directory reads the tensors instead of parsing the raw
// files; if a source file changed (size or content) or the request differs,
// the directory is stale and is rebuilt.
#pragma once
#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>

#include "leaves/data/dataset.h"
#include "leaves/data/spec.h"

namespace leaves::data {

/// SHA-256 of a file's contents, as 64 hex digits.
std::string sha256_file(const std::filesystem::path& file);

/// Lower-case hex digest of a file: algorithm "sha256", "sha1" or "md5".
std::string digest_file(const std::filesystem::path& file, const std::string& algorithm);

/// The regular files a spec reads (everything under its path, or its x and y
/// files); empty for the generated synthetic set.
std::vector<std::filesystem::path> spec_sources(const DataSpec& spec);

/// Builds the splits of `spec` and writes them to `dir` atomically (built in a
/// temporary sibling and swapped into place once complete). Returns the
/// description. `dir` must be absent, empty, or an earlier prepared set: any
/// other folder, a folder inside the raw data or one holding it is refused
/// (std::invalid_argument) before anything is read or written.
nlohmann::json prepare_dataset(const DataSpec& spec, const std::filesystem::path& dir);

/// The refusals of prepare_dataset, alone (nothing is read or written).
void check_prepare_target(const DataSpec& spec, const std::filesystem::path& dir);

/// The description in `dir/prepared.json`; throws if `dir` holds none.
nlohmann::json read_prepared_info(const std::filesystem::path& dir);

/// Why `dir` no longer matches its sources ("" when it is up to date).
std::string prepared_staleness(const std::filesystem::path& dir);

/// Loads the splits stored in `dir` (no staleness check).
Splits load_prepared(const std::filesystem::path& dir);

/// `dir` if it is up to date for `spec`, else prepares it first; then loads it.
Splits load_cached(const DataSpec& spec, const std::filesystem::path& dir);

}  // namespace leaves::data
