#include "leaves/train/run_dir.h"

#include <fcntl.h>
#include <unistd.h>

#include <fstream>
#include <stdexcept>

namespace leaves::train {

namespace {
void fsync_path(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY);
  if (fd < 0) throw std::runtime_error("cannot reopen " + path + " to flush it");
  ::fsync(fd);
  ::close(fd);
}
}  // namespace

void commit_file(const std::filesystem::path& path, const std::function<void(const std::string&)>& write) {
  const std::string tmp = path.string() + ".tmp." + std::to_string(::getpid());
  try {
    write(tmp);
    fsync_path(tmp);
    std::filesystem::rename(tmp, path);
  } catch (...) {
    std::error_code ignore;
    std::filesystem::remove(tmp, ignore);
    throw;
  }
}

void write_file_atomically(const std::filesystem::path& path, const std::string& text) {
  commit_file(path, [&](const std::string& tmp) {
    std::ofstream f(tmp, std::ios::binary | std::ios::trunc);
    if (!f) throw std::runtime_error("cannot write " + tmp);
    f << text;
    f.flush();
    if (!f) throw std::runtime_error("failed writing " + tmp + " (disk full?)");
  });
}

void JsonLinesLog::append(const nlohmann::json& record) const {
  std::ofstream f(path_, std::ios::app);
  if (!f) throw std::runtime_error("cannot append to " + path_.string());
  f << record.dump() << '\n';
  f.flush();
  if (!f) throw std::runtime_error("failed writing " + path_.string());
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
  write_file_atomically(path_, text);
}

}  // namespace leaves::train

