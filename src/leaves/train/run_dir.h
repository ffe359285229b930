// Files of a run directory, written so that a crash never leaves a partial file
// in place of a complete one: everything goes to a temporary name in the same
// directory, is flushed to disk, and is renamed over the target.
#pragma once
#include <torch/torch.h>

#include <filesystem>
#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace leaves::train {

/// Writes `text` to `path` atomically (temporary file, fsync, rename).
void write_file_atomically(const std::filesystem::path& path, const std::string& text);

/// Calls `write(tmp)` to produce the file at a temporary path, fsyncs it and
/// renames it to `path`. The temporary is removed if `write` throws.
void commit_file(const std::filesystem::path& path, const std::function<void(const std::string&)>& write);

/// An append-only JSON-lines log (one object per line, flushed per line).
class JsonLinesLog {
 public:
  explicit JsonLinesLog(std::filesystem::path path) : path_(std::move(path)) {}
  void append(const nlohmann::json& record) const;
  /// All records in the file (empty when it does not exist). A torn last line
  /// (a crash in the middle of a write) is ignored.
  std::vector<nlohmann::json> read() const;
  /// Keeps only the records for which `keep` is true (atomic rewrite).
  void filter(const std::function<bool(const nlohmann::json&)>& keep) const;
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

}  // namespace leaves::train
