#include "leaves/io/output.h"

#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <torch/serialize/output-archive.h>

namespace leaves::io {

namespace fs = std::filesystem;

namespace {

// Injected full disk (testing): bytes left before writes fail; < 0: off.
std::atomic<int64_t>& fault_budget() {
  static std::atomic<int64_t> budget{[] {
    const char* v = std::getenv("LEAVES_FAULT_ENOSPC_AFTER");
    if (v == nullptr || *v == '\0') return int64_t{-1};
    char* end = nullptr;
    const long long n = std::strtoll(v, &end, 10);
    return (end != v && *end == '\0' && n >= 0) ? static_cast<int64_t>(n) : int64_t{-1};
  }()};
  return budget;
}

// write(2) until all of `n` bytes are written; returns 0 or an errno.
int write_all(int fd, const void* data, size_t n) {
  auto& budget = fault_budget();
  const char* p = static_cast<const char*>(data);
  while (n > 0) {
    size_t chunk = n;
    int64_t left = budget.load();
    if (left >= 0) {
      if (left == 0) return ENOSPC;
      chunk = std::min<size_t>(chunk, static_cast<size_t>(left));
    }
    const ssize_t w = ::write(fd, p, chunk);
    if (w < 0) {
      if (errno == EINTR) continue;
      return errno;
    }
    if (left >= 0) budget.fetch_sub(w);
    p += w;
    n -= static_cast<size_t>(w);
  }
  return 0;
}

std::string reason(int err) { return std::strerror(err); }

std::string temporary_name(const fs::path& target) { return target.string() + ".tmp." + std::to_string(::getpid()); }

}  // namespace

void sync_directory(const fs::path& dir) {
  const fs::path d = dir.empty() ? fs::path(".") : dir;
  const int fd = ::open(d.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) throw WriteError("cannot open directory " + d.string() + " to flush it", reason(errno));
  const int rc = ::fsync(fd);
  const int err = errno;
  ::close(fd);
  // Some filesystems cannot fsync a directory (EINVAL): nothing to flush there.
  if (rc != 0 && err != EINVAL && err != EROFS) throw WriteError("cannot flush directory " + d.string(), reason(err));
}

AtomicFile::AtomicFile(fs::path target) : target_(std::move(target)), tmp_(temporary_name(target_)) {
  if (target_.filename().empty()) throw std::invalid_argument("'" + target_.string() + "' names a directory, not a file");
  if (target_.has_parent_path()) {
    std::error_code ec;
    fs::create_directories(target_.parent_path(), ec);
    if (ec) throw WriteError("cannot create directory " + target_.parent_path().string(), ec.message());
  }
  fd_ = ::open(tmp_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd_ < 0) throw WriteError("cannot write " + target_.string(), reason(errno));
}

AtomicFile::~AtomicFile() {
  if (fd_ >= 0) ::close(fd_);
  if (!committed_) ::unlink(tmp_.c_str());
}

void AtomicFile::fail(int err, const char* what) {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
  ::unlink(tmp_.c_str());
  committed_ = true;  // nothing left to clean up
  throw WriteError(std::string("cannot ") + what + " " + target_.string(), reason(err));
}

void AtomicFile::write(const void* data, size_t n) {
  if (fd_ < 0) throw WriteError("cannot write " + target_.string(), "already closed");
  if (error_ != 0) return;  // commit() reports it
  if (const int err = write_all(fd_, data, n)) fail(err, "write");
}

std::function<size_t(const void*, size_t)> AtomicFile::sink() {
  return [this](const void* data, size_t n) -> size_t {
    if (error_ == 0 && fd_ >= 0) {
      if (const int err = write_all(fd_, data, n)) error_ = err;
    }
    return n;  // never a short count: LibTorch would throw from its destructor
  };
}

void AtomicFile::commit() {
  if (committed_) throw WriteError("cannot write " + target_.string(), "already committed or failed");
  if (error_ != 0) fail(error_, "write");
  if (::fsync(fd_) != 0) fail(errno, "flush");
  const int fd = fd_;
  fd_ = -1;
  if (::close(fd) != 0) fail(errno, "close");
  if (::rename(tmp_.c_str(), target_.c_str()) != 0) fail(errno, "rename the temporary file over");
  committed_ = true;
  sync_directory(target_.parent_path());
}

void write_file(const fs::path& path, std::string_view bytes) {
  AtomicFile f(path);
  f.write(bytes);
  f.commit();
}

void write_file(const fs::path& path, const std::function<void(AtomicFile&)>& produce) {
  AtomicFile f(path);
  produce(f);
  f.commit();
}

void save_archive(const fs::path& path, torch::serialize::OutputArchive& archive) {
  AtomicFile f(path);
  archive.save_to(f.sink());
  f.commit();
}

void install_file(const fs::path& from, const fs::path& to) {
  auto undo = [&](const std::string& what, int err) {
    ::unlink(from.c_str());
    throw WriteError("cannot " + what + " " + to.string(), reason(err));
  };
  const int fd = ::open(from.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) undo("write", errno);
  const int rc = ::fsync(fd);
  const int err = errno;
  ::close(fd);
  if (rc != 0) undo("flush", err);
  if (::rename(from.c_str(), to.c_str()) != 0) undo("rename the temporary file over", errno);
  sync_directory(to.parent_path());
}

StagedDir::StagedDir(fs::path target) : target_(std::move(target)), tmp_(temporary_name(target_)) {
  std::error_code ec;
  fs::remove_all(tmp_, ec);
  fs::create_directories(tmp_, ec);
  if (ec) throw WriteError("cannot create " + tmp_.string() + " (to build " + target_.string() + ")", ec.message());
}

StagedDir::~StagedDir() {
  if (committed_) return;
  std::error_code ec;
  fs::remove_all(tmp_, ec);
}

void StagedDir::commit() {
  sync_directory(tmp_);
  std::error_code ec;
  const fs::path parent = target_.has_parent_path() ? target_.parent_path() : fs::path(".");
  if (fs::exists(target_, ec)) {
    // One atomic step: whoever reads target sees the old set or the new one.
    if (::renameat2(AT_FDCWD, tmp_.c_str(), AT_FDCWD, target_.c_str(), RENAME_EXCHANGE) == 0) {
      committed_ = true;
      fs::remove_all(tmp_, ec);  // now the old set
      sync_directory(parent);
      return;
    }
    if (errno != EINVAL && errno != ENOSYS && errno != ENOTSUP) {
      throw WriteError("cannot put " + target_.string() + " in place", reason(errno));
    }
    // A filesystem without RENAME_EXCHANGE: move the old set aside first.
    const fs::path old = target_.string() + ".old." + std::to_string(::getpid());
    fs::remove_all(old, ec);
    if (::rename(target_.c_str(), old.c_str()) != 0) {
      throw WriteError("cannot move the earlier " + target_.string() + " aside", reason(errno));
    }
    if (::rename(tmp_.c_str(), target_.c_str()) != 0) {
      const int err = errno;
      ::rename(old.c_str(), target_.c_str());
      throw WriteError("cannot put " + target_.string() + " in place", reason(err));
    }
    committed_ = true;
    fs::remove_all(old, ec);
    sync_directory(parent);
    return;
  }
  fs::create_directories(parent, ec);
  if (::rename(tmp_.c_str(), target_.c_str()) != 0) {
    throw WriteError("cannot put " + target_.string() + " in place", reason(errno));
  }
  committed_ = true;
  sync_directory(parent);
}

DirLock::DirLock(const fs::path& dir, const std::string& what) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) throw WriteError("cannot create " + what + " " + dir.string(), ec.message());
  const fs::path file = dir / kLockFile;
  fd_ = ::open(file.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd_ < 0) throw WriteError("cannot lock " + what + " " + dir.string(), reason(errno));
  if (::flock(fd_, LOCK_EX | LOCK_NB) != 0) {
    const int err = errno;
    char buf[32] = {0};
    const ssize_t n = ::pread(fd_, buf, sizeof buf - 1, 0);
    std::string holder = n > 0 ? std::string(buf, static_cast<size_t>(n)) : std::string();
    while (!holder.empty() && (holder.back() == '\n' || holder.back() == ' ')) holder.pop_back();
    ::close(fd_);
    fd_ = -1;
    if (err == EWOULDBLOCK) {
      throw std::invalid_argument(what + " " + dir.string() + " is in use by another leaves process" +
                                  (holder.empty() ? std::string() : " (pid " + holder + ")") +
                                  "; wait for it to finish or stop it");
    }
    throw WriteError("cannot lock " + what + " " + dir.string(), reason(err));
  }
  // Who holds it, for the message above (best effort: the lock is what counts).
  const std::string pid = std::to_string(::getpid()) + "\n";
  if (::ftruncate(fd_, 0) == 0) (void)!::pwrite(fd_, pid.data(), pid.size(), 0);
}

DirLock::~DirLock() {
  if (fd_ >= 0) ::close(fd_);  // releases the lock
}

fs::path normalize_dir(const fs::path& p) {
  if (p.empty()) throw std::invalid_argument("an empty path was given for a directory");
  fs::path n = fs::absolute(p).lexically_normal();
  while (n.filename().empty() && n.has_parent_path() && n != n.root_path()) n = n.parent_path();
  return n;
}

namespace {
// NAME.tmp.PID whose writer is gone (killed while writing): a leftover, not content.
bool stale_temporary(const fs::path& p) {
  const std::string name = p.filename().string();
  const auto at = name.rfind(".tmp.");
  if (at == std::string::npos) return false;
  const std::string digits = name.substr(at + 5);
  if (digits.empty() || digits.find_first_not_of("0123456789") != std::string::npos || digits.size() > 9) return false;
  const pid_t pid = static_cast<pid_t>(std::stol(digits));
  return pid != ::getpid() && ::kill(pid, 0) != 0;
}
}  // namespace

bool absent_or_empty(const fs::path& dir) {
  std::error_code ec;
  if (!fs::exists(dir, ec)) return true;
  if (!fs::is_directory(dir, ec)) return false;
  for (const auto& e : fs::directory_iterator(dir, ec))
    if (e.path().filename() != kLockFile && !stale_temporary(e.path())) return false;
  return !ec;
}

void require_new_or_own(const fs::path& dir, const std::string& option, const std::string& marker,
                        const std::string& what) {
  std::error_code ec;
  if (fs::exists(dir, ec) && !fs::is_directory(dir, ec)) {
    throw std::invalid_argument(option + " " + dir.string() + ": exists and is not a folder; choose a new folder");
  }
  if (absent_or_empty(dir) || (!marker.empty() && fs::is_regular_file(dir / marker, ec))) return;
  throw std::invalid_argument(option + " " + dir.string() + ": the folder is not empty and is not " + what +
                              "; choose a new or empty folder (nothing was changed)");
}

bool is_within(const fs::path& inner, const fs::path& outer) {
  const fs::path a = fs::weakly_canonical(normalize_dir(inner)), b = fs::weakly_canonical(normalize_dir(outer));
  auto ai = a.begin();
  for (auto bi = b.begin(); bi != b.end(); ++bi, ++ai) {
    if (bi->empty()) continue;  // a trailing separator
    if (ai == a.end() || *ai != *bi) return false;
  }
  return true;
}

void remove_stale_temporaries(const fs::path& dir) {
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(dir, ec)) {
    const std::string name = e.path().filename().string();
    const auto at = name.rfind(".tmp.");
    if (at == std::string::npos) continue;
    const std::string digits = name.substr(at + 5);
    if (digits.empty() || digits.find_first_not_of("0123456789") != std::string::npos || digits.size() > 9) continue;
    if (!stale_temporary(e.path()) && std::stol(digits) != ::getpid()) continue;  // its writer is still at work
    std::error_code ignore;
    fs::remove_all(e.path(), ignore);
  }
}

void JsonLinesLog::append(const nlohmann::json& record) const {
  const int fd = ::open(path_.c_str(), O_RDWR | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) throw WriteError("cannot append to " + path_.string(), reason(errno));
  struct stat st {};
  ::fstat(fd, &st);
  std::string line = record.dump() + "\n";
  // A line torn by a killed writer is closed first, so that it cannot swallow this one.
  char last = '\n';
  if (st.st_size > 0 && ::pread(fd, &last, 1, st.st_size - 1) == 1 && last != '\n') line.insert(line.begin(), '\n');
  int err = write_all(fd, line.data(), line.size());
  if (err == 0 && ::fdatasync(fd) != 0 && errno != EINVAL) err = errno;
  if (err != 0) {
    (void)!::ftruncate(fd, st.st_size);  // no half line left behind
    ::close(fd);
    throw WriteError("cannot append to " + path_.string(), reason(err));
  }
  if (::close(fd) != 0) throw WriteError("cannot append to " + path_.string(), reason(errno));
}

std::vector<nlohmann::json> JsonLinesLog::read() const {
  std::vector<nlohmann::json> out;
  std::ifstream f(path_);
  std::string line;
  while (std::getline(f, line)) {
    if (line.empty()) continue;
    auto j = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
    if (j.is_discarded()) continue;  // torn line from a crash
    out.push_back(std::move(j));
  }
  return out;
}

void JsonLinesLog::filter(const std::function<bool(const nlohmann::json&)>& keep) const {
  std::string text;
  for (const auto& j : read())
    if (keep(j)) text += j.dump() + "\n";
  write_file(path_, text);
}

namespace testing {
void fail_writes_after(int64_t bytes) { fault_budget().store(bytes < 0 ? -1 : bytes); }
}  // namespace testing

}  // namespace leaves::io
