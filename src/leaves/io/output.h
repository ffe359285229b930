// Output that is never half-written and never destroys what leaves did not
// make. Every file leaves writes (checkpoints, prepared sets, caches, tables,
// figures, reports, JSON) goes through this module:
//
//  - AtomicFile / write_file: a temporary sibling `NAME.tmp.PID`, every write
//    and the close checked, the file and its directory fsynced, then renamed
//    over the target. A failed write (ENOSPC, EIO, ...) is one WriteError naming
//    the target and the reason; the earlier file stays and the temporary is
//    removed. Nothing here throws from a destructor, and the sink given to
//    LibTorch's archive writers never throws (it records the first error, which
//    commit() reports), so LibTorch's own destructors cannot abort the process.
//  - StagedDir: a directory built under a temporary sibling and swapped into
//    place whole (renameat2 RENAME_EXCHANGE), the old one removed afterwards.
//  - DirLock: an advisory lock (flock) on `DIR/.lock`; a second writer gets one
//    clear error instead of interleaving its output with the first.
//  - JsonLinesLog: an append-only log whose every line is written whole.
//
// Testing: the environment variable LEAVES_FAULT_ENOSPC_AFTER=N makes every
// write of this module fail with ENOSPC once N bytes have been written by the
// process (an injected full disk, on any filesystem).
#pragma once
#include <cstdint>
#include <filesystem>
#include <functional>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace torch::serialize {
class OutputArchive;
}

namespace leaves::io {

/// A write that failed: the message names the file and the reason
/// ("cannot write F: No space left on device"); reason() is the part after it.
class WriteError : public std::runtime_error {
 public:
  WriteError(const std::string& what, std::string reason)
      : std::runtime_error(what + ": " + reason), reason_(std::move(reason)) {}
  const std::string& reason() const { return reason_; }

 private:
  std::string reason_;
};

/// A file written under a temporary name and renamed over `target` by commit().
/// Destroyed without commit(), it removes the temporary and leaves `target` as
/// it was.
class AtomicFile {
 public:
  explicit AtomicFile(std::filesystem::path target);
  AtomicFile(const AtomicFile&) = delete;
  AtomicFile& operator=(const AtomicFile&) = delete;
  ~AtomicFile();

  /// Appends bytes; throws WriteError on failure.
  void write(const void* data, size_t n);
  void write(std::string_view text) { write(text.data(), text.size()); }
  /// A writer for LibTorch's archives: never throws, returns `n`, and records
  /// the first failure for commit() to report.
  std::function<size_t(const void*, size_t)> sink();
  /// Flushes to disk, closes, renames over the target and flushes the
  /// directory. Throws WriteError (the temporary removed) on any failure.
  void commit();

  const std::filesystem::path& target() const { return target_; }
  const std::filesystem::path& temporary() const { return tmp_; }

 private:
  void fail(int err, const char* what);
  std::filesystem::path target_, tmp_;
  int fd_ = -1;
  int error_ = 0;           ///< first errno recorded by the sink
  std::string error_what_;  ///< what failed
  bool committed_ = false;
};

/// Writes `bytes` to `path` atomically.
void write_file(const std::filesystem::path& path, std::string_view bytes);
/// Lets `produce` write the file, then commits it.
void write_file(const std::filesystem::path& path, const std::function<void(AtomicFile&)>& produce);
/// Saves a LibTorch archive to `path` atomically (never through LibTorch's own
/// file writer, whose destructor throws on a full disk).
void save_archive(const std::filesystem::path& path, torch::serialize::OutputArchive& archive);
/// Moves a complete file that another program wrote (`from`, beside `to`)
/// over `to`: fsync, rename, fsync of the directory. Removes `from` on failure.
void install_file(const std::filesystem::path& from, const std::filesystem::path& to);
/// fsyncs a directory (after entries in it were created or renamed).
void sync_directory(const std::filesystem::path& dir);

/// A directory built whole under a temporary sibling (`DIR.tmp.PID`) and put in
/// place of `target` by commit(). Destroyed without commit(), it removes the
/// temporary. The caller decides whether `target` may be replaced.
class StagedDir {
 public:
  explicit StagedDir(std::filesystem::path target);
  StagedDir(const StagedDir&) = delete;
  StagedDir& operator=(const StagedDir&) = delete;
  ~StagedDir();
  /// Where to write the files (each with write_file / save_archive).
  const std::filesystem::path& path() const { return tmp_; }
  /// Swaps the staged directory into place and removes the old one.
  void commit();

 private:
  std::filesystem::path target_, tmp_;
  bool committed_ = false;
};

/// Exclusive advisory lock on `dir/.lock` (created if needed) for as long as
/// the object lives; the kernel releases it when the process dies, so a killed
/// run never leaves a stale lock. A second holder gets std::invalid_argument
/// naming `dir`, `what` (for example "run directory") and the other pid.
class DirLock {
 public:
  DirLock(const std::filesystem::path& dir, const std::string& what);
  DirLock(const DirLock&) = delete;
  DirLock& operator=(const DirLock&) = delete;
  ~DirLock();

 private:
  int fd_ = -1;
};

/// The name of the lock file DirLock keeps in a directory.
inline constexpr const char* kLockFile = ".lock";

/// Throws std::invalid_argument unless `dir` may receive a command's output:
/// absent, empty (but for leaves' lock file), or holding `marker`, the file by
/// which the command knows its own earlier output ("": none is accepted).
/// The message names `option` and `dir` and says the folder is not `what`.
void require_new_or_own(const std::filesystem::path& dir, const std::string& option, const std::string& marker,
                        const std::string& what);

/// `p` made absolute and normal, without a trailing separator ("d/" -> "/abs/d",
/// "." -> the current directory), so that it names the directory itself.
std::filesystem::path normalize_dir(const std::filesystem::path& p);
/// Whether `dir` is absent, or a directory holding nothing but leaves' lock file and
/// temporaries whose writer is gone (NAME.tmp.PID left by a killed process).
bool absent_or_empty(const std::filesystem::path& dir);
/// Whether `inner` is `outer` or lies under it (both normalised, symlinks resolved
/// as far as they exist).
bool is_within(const std::filesystem::path& inner, const std::filesystem::path& outer);
/// Removes files named `NAME.tmp.PID` in `dir` (not recursive) whose process is
/// gone: what a killed writer left behind.
void remove_stale_temporaries(const std::filesystem::path& dir);

/// An append-only JSON-lines log (one object per line, written whole, checked).
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

namespace testing {
/// Injects a full disk: writes fail with ENOSPC once `bytes` more bytes were
/// written (negative: off). Same as LEAVES_FAULT_ENOSPC_AFTER.
void fail_writes_after(int64_t bytes);
}  // namespace testing

}  // namespace leaves::io
