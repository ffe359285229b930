#include "leaves/data/cache.h"
#include "leaves/io/output.h"

#include <openssl/evp.h>

#include <chrono>
#include <fstream>
#include <iomanip>
#include <sstream>
#include <stdexcept>
#include <sys/stat.h>
#include <unistd.h>
#include <ctime>

namespace leaves::data {

namespace fs = std::filesystem;
using nlohmann::json;

std::string sha256_file(const fs::path& file) { return digest_file(file, "sha256"); }

std::string digest_file(const fs::path& file, const std::string& algorithm) {
  const EVP_MD* md = algorithm == "sha256" ? EVP_sha256()
                     : algorithm == "sha1" ? EVP_sha1()
                     : algorithm == "md5"  ? EVP_md5()
                                           : nullptr;
  if (!md) throw std::invalid_argument("unknown digest '" + algorithm + "' (known: sha256, sha1, md5)");
  std::ifstream in(file, std::ios::binary);
  if (!in) throw std::invalid_argument(file.string() + ": cannot open the file");
  std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx(EVP_MD_CTX_new(), EVP_MD_CTX_free);
  EVP_DigestInit_ex(ctx.get(), md, nullptr);
  std::vector<char> buf(1 << 20);
  while (in) {
    in.read(buf.data(), static_cast<std::streamsize>(buf.size()));
    EVP_DigestUpdate(ctx.get(), buf.data(), static_cast<size_t>(in.gcount()));
  }
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int n = 0;
  EVP_DigestFinal_ex(ctx.get(), digest, &n);
  std::ostringstream hex;
  for (unsigned int i = 0; i < n; ++i) hex << std::hex << std::setw(2) << std::setfill('0') << int(digest[i]);
  return hex.str();
}

namespace {

// The files a folder of each kind holds that its reader reads (documentation,
// notes and anything else beside the data are not sources: editing a README
// must not make a prepared set stale).
bool is_data_file(const std::string& kind, const fs::path& p) {
  const std::string name = p.filename().string(), ext = p.extension().string();
  auto ends_with = [&](const std::string& tail) {
    return name.size() >= tail.size() && name.compare(name.size() - tail.size(), tail.size(), tail) == 0;
  };
  if (kind == "ucr") return ends_with("_TRAIN.tsv") || ends_with("_TEST.tsv");
  if (kind == "uea") {
    return ends_with("_TRAIN.ts") || ends_with("_TEST.ts") || ends_with("_TRAIN.arff") || ends_with("_TEST.arff");
  }
  if (kind == "apnea-ecg") return ext == ".hea" || ext == ".dat" || ext == ".apn" || name == "event-2.txt";
  if (kind == "sleep-edf") return ext == ".edf";
  if (kind == "ptb-xl") return ext == ".hea" || ext == ".dat" || ext == ".csv";
  if (kind == "pamap2") return ext == ".dat";
  return true;  // a kind whose files are all data
}

}  // namespace

std::vector<fs::path> spec_sources(const DataSpec& spec) {
  std::vector<fs::path> out;
  auto add = [&](const std::string& key) {
    auto it = spec.options.find(key);
    if (it == spec.options.end()) return;
    const fs::path p(it->second);
    if (fs::is_regular_file(p)) {
      out.push_back(fs::canonical(p));
    } else if (fs::is_directory(p)) {
      for (const auto& e : fs::recursive_directory_iterator(p))
        if (e.is_regular_file() && is_data_file(spec.kind, e.path())) out.push_back(fs::canonical(e.path()));
    }
  };
  for (const char* key : {"path", "x", "y"}) add(key);
  std::sort(out.begin(), out.end());
  return out;
}

namespace {

// A file's modification time, readable and exact: "2026-12-04T21:03:07.123456789Z" (UTC).
std::string modified_of(const fs::path& p) {
  struct stat st {};
  if (::stat(p.c_str(), &st) != 0) return "";
  std::tm tm{};
  gmtime_r(&st.st_mtim.tv_sec, &tm);
  char date[32], out[48];
  std::strftime(date, sizeof date, "%Y-%m-%dT%H:%M:%S", &tm);
  std::snprintf(out, sizeof out, "%s.%09ldZ", date, static_cast<long>(st.st_mtim.tv_nsec));
  return out;
}

json describe_sources(const DataSpec& spec) {
  json sources = json::array();
  for (const auto& p : spec_sources(spec)) {
    sources.push_back({{"path", p.string()}, {"size", fs::file_size(p)}, {"modified", modified_of(p)}, {"sha256", sha256_file(p)}});
  }
  return sources;
}

json describe_split(const Dataset& d) {
  std::vector<int64_t> counts(d.class_names.size(), 0);
  auto y = d.y.accessor<int64_t, 1>();
  for (int64_t i = 0; i < d.y.size(0); ++i)
    if (y[i] >= 0 && y[i] < static_cast<int64_t>(counts.size())) ++counts[y[i]];
  return {{"size", d.size()}, {"shape", d.x.sizes().vec()}, {"class_counts", counts}};
}

}  // namespace

namespace {
void require_own_prepared_set(const fs::path& out) {
  io::require_new_or_own(out, "--out", "prepared.json",
                         "a data set prepared by leaves (no prepared.json; leaves replaces only its own prepared sets)");
}
}  // namespace

void check_prepare_target(const DataSpec& spec, const fs::path& out) {
  const fs::path dir = io::normalize_dir(out);
  // The raw data is never inside what would be replaced, nor the set inside the raw data.
  auto it = spec.options.find("path");
  if (it != spec.options.end() && !it->second.empty()) {
    const fs::path root(it->second);
    if (io::is_within(dir, root)) {
      throw std::invalid_argument(out.string() + ": the output folder is (or is inside) the raw data folder " + root.string() +
                                  "; choose a folder outside it (nothing was changed)");
    }
  }
  for (const auto& source : spec_sources(spec)) {
    if (io::is_within(source, dir)) {
      throw std::invalid_argument(out.string() + ": the output folder holds the raw data (" + source.string() +
                                  "), which replacing it would delete; choose another folder (nothing was changed)");
    }
  }
  require_own_prepared_set(out);
}

json prepare_dataset(const DataSpec& spec, const fs::path& out) {
  check_prepare_target(spec, out);  // before the (long) build: a refusal costs nothing
  const fs::path dir = io::normalize_dir(out);
  const auto splits = load_splits(spec);
  json info{{"spec", spec.text},
            {"kind", spec.kind},
            {"options", spec.options},
            {"sources", describe_sources(spec)},
            {"class_names", splits.train.class_names},
            {"channel_names", splits.train.channel_names},
            {"rate", splits.train.rate},
            {"channels", splits.train.channels()},
            {"length", splits.train.length()},
            {"splits",
             {{"train", describe_split(splits.train)},
              {"val", describe_split(splits.val)},
              {"test", describe_split(splits.test)}}}};
  require_own_prepared_set(out);  // the folder may have changed while the data was read
  // Built whole beside the target, then swapped in: the earlier set stays
  // until the new one is complete on disk.
  io::StagedDir staged(dir);
  try {
    for (const auto& [name, d] : {std::pair<std::string, const Dataset*>{"train", &splits.train},
                                  {"val", &splits.val},
                                  {"test", &splits.test}}) {
      torch::serialize::OutputArchive a;
      a.write("x", d->x);
      a.write("y", d->y);
      if (d->targets.defined()) a.write("targets", d->targets);
      io::save_archive(staged.path() / (name + ".pt"), a);
    }
    io::write_file(staged.path() / "prepared.json", info.dump(2) + "\n");
    staged.commit();
  } catch (const io::WriteError& e) {
    throw io::WriteError("cannot write the prepared set " + out.string(),
                         e.reason() + (fs::exists(dir / "prepared.json") ? "; the earlier set there is unchanged" : ""));
  }
  return info;
}

json read_prepared_info(const fs::path& dir) {
  std::ifstream in(dir / "prepared.json");
  if (!in) throw std::invalid_argument(dir.string() + ": not a prepared data set (no prepared.json)");
  auto j = json::parse(in, nullptr, false);
  if (j.is_discarded() || !j.contains("splits")) throw std::invalid_argument((dir / "prepared.json").string() + ": corrupt");
  return j;
}

std::string prepared_staleness(const fs::path& dir) {
  const auto info = read_prepared_info(dir);
  for (const auto& s : info["sources"]) {
    const fs::path p = s["path"].get<std::string>();
    if (!fs::exists(p)) return p.string() + " is gone";
    if (fs::file_size(p) != s["size"].get<uintmax_t>()) return p.string() + " changed size";
    // Same size and time stamp: unchanged. Otherwise compare contents.
    // (Sets written before "modified" have only a raw "mtime": their contents are compared.)
    if (modified_of(p) != s.value("modified", std::string()) && sha256_file(p) != s["sha256"].get<std::string>()) {
      return p.string() + " changed";
    }
  }
  return "";
}

Splits load_prepared(const fs::path& dir) {
  const auto info = read_prepared_info(dir);
  auto load = [&](const std::string& name) {
    Dataset d;
    torch::serialize::InputArchive a;
    try {
      a.load_from((dir / (name + ".pt")).string());
      a.read("x", d.x);
      a.read("y", d.y);
      a.try_read("targets", d.targets);
    } catch (const c10::Error& e) {
      throw std::invalid_argument((dir / (name + ".pt")).string() + ": cannot be read: " + e.what_without_backtrace());
    }
    d.class_names = info["class_names"].get<std::vector<std::string>>();
    d.channel_names = info.value("channel_names", std::vector<std::string>{});
    d.rate = info["rate"].get<double>();
    d.name = info["kind"].get<std::string>() + "-" + name;
    return d;
  };
  return {load("train"), load("val"), load("test")};
}

Splits load_cached(const DataSpec& spec, const fs::path& dir) {
  bool fresh = false;
  if (fs::exists(dir / "prepared.json")) {
    const auto info = read_prepared_info(dir);
    fresh = info["spec"] == spec.text && info["options"] == json(spec.options) && prepared_staleness(dir).empty();
  }
  if (!fresh) prepare_dataset(spec, dir);
  return load_prepared(dir);
}

}  // namespace leaves::data
