#include "leaves/data/download.h"
#include "leaves/option_error.h"

#if defined(LEAVES_WITH_CURL)
#include <curl/curl.h>
#endif
#include <fnmatch.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <mutex>
#include <nlohmann/json.hpp>
#include <sstream>
#include <stdexcept>

#include "leaves/data/cache.h"
#include "leaves/io/output.h"

namespace leaves::data {

namespace fs = std::filesystem;

DownloadSource download_source(const std::string& study) {
  // PhysioNet publishes SHA256SUMS.txt at the root of every project version.
  if (study == "apnea-ecg") {
    return {study,
            "https://physionet.org/files/apnea-ecg/1.0.0/",
            "SHA256SUMS.txt",
            {"RECORDS", "event-2.txt", "[abcx][0-9][0-9].hea", "[abcx][0-9][0-9].dat", "[abc][0-9][0-9].apn"},
            "leaves prepare apnea-ecg --root DEST --out DIR",
            {"event-2.txt"},  // the test-set answers are not in the 1.0.0 checksum list
            // 35 learning records (a01-a20, b01-b05, c01-c10) and 35 test records (x01-x35).
            {{"RECORDS", 1}, {"[abcx][0-9][0-9].hea", 70}, {"[abcx][0-9][0-9].dat", 70}, {"[abc][0-9][0-9].apn", 35}}};
  }
  if (study == "sleep-edf") {
    return {study,
            "https://physionet.org/files/sleep-edfx/1.0.0/",
            "SHA256SUMS.txt",
            {"sleep-cassette/SC4*-PSG.edf", "sleep-cassette/SC4*-Hypnogram.edf"},
            "leaves prepare sleep-edf --root DEST --out DIR",
            {},
            {{"sleep-cassette/SC4*-PSG.edf", 153}, {"sleep-cassette/SC4*-Hypnogram.edf", 153}}};
  }
  if (study == "ptb-xl") {
    return {study,
            "https://physionet.org/files/ptb-xl/1.0.3/",
            "SHA256SUMS.txt",
            {"ptbxl_database.csv", "scp_statements.csv", "records100/*"},
            "leaves prepare ptb-xl --root DEST --out DIR",
            {},
            // 21,799 records at 100 Hz in 1.0.3, a .hea and a .dat each.
            {{"ptbxl_database.csv", 1}, {"scp_statements.csv", 1}, {"records100/*", 2 * 21799}}};
  }
  if (study == "pamap2") {
    // UCI publishes no checksums: the file's SHA-256 is recorded in the
    // manifest instead, and the archive must be unpacked (twice: the UCI zip
    // holds PAMAP2_Dataset.zip) before `leaves prepare pamap2`.
    return {study,
            "https://archive.ics.uci.edu/static/public/231/",
            "",
            {"pamap2+physical+activity+monitoring.zip"},
            "unzip the archive (it holds PAMAP2_Dataset.zip; unzip that too), then "
            "leaves prepare pamap2 --root DEST/PAMAP2_Dataset --out DIR"};
  }
  throw std::invalid_argument("download: unknown study '" + study + "' (known: " + known_download_studies() + ")");
}

std::string known_download_studies() { return "apnea-ecg, sleep-edf, ptb-xl, pamap2"; }

std::string digest_algorithm(const std::string& hex) {
  switch (hex.size()) {
    case 64: return "sha256";
    case 40: return "sha1";
    case 32: return "md5";
    default: throw std::invalid_argument("a digest of " + std::to_string(hex.size()) + " hex digits is not SHA-256, SHA-1 or MD5");
  }
}

std::vector<ChecksumEntry> parse_checksum_list(const std::string& text, const std::string& name) {
  std::vector<ChecksumEntry> out;
  std::istringstream in(text);
  std::string line;
  for (int64_t number = 1; std::getline(in, line); ++number) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.find_first_not_of(" \t") == std::string::npos) continue;
    const auto where = name + ":" + std::to_string(number) + ": ";
    const auto space = line.find_first_of(" \t");
    if (space == std::string::npos) throw std::invalid_argument(where + "expected 'DIGEST  PATH'");
    ChecksumEntry e;
    e.digest = line.substr(0, space);
    for (char& c : e.digest) {
      if (!std::isxdigit(static_cast<unsigned char>(c))) throw std::invalid_argument(where + "the digest is not hexadecimal");
      c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    }
    try {
      digest_algorithm(e.digest);
    } catch (const std::invalid_argument& err) {
      throw std::invalid_argument(where + err.what());
    }
    auto start = line.find_first_not_of(" \t", space);
    if (start != std::string::npos && line[start] == '*') ++start;  // binary-mode marker
    if (start == std::string::npos || start >= line.size()) throw std::invalid_argument(where + "no path after the digest");
    e.path = line.substr(start);
    if (e.path.front() == '/' || ("/" + e.path + "/").find("/../") != std::string::npos) {
      throw std::invalid_argument(where + "path '" + e.path + "' leaves the download folder");
    }
    if (!out.empty() && e.digest.size() != out.front().digest.size()) {
      throw std::invalid_argument(where + "digests of different lengths in one list");
    }
    out.push_back(std::move(e));
  }
  if (out.empty()) throw std::invalid_argument(name + ": the checksum list is empty");
  return out;
}

std::string check_unverified_format(const fs::path& file, const std::string& name) {
  std::ifstream in(file, std::ios::binary);
  if (!in) return "cannot be read";
  const auto size = static_cast<int64_t>(fs::file_size(file));
  if (size == 0) return "is empty";
  std::string lower = name;
  for (auto& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  auto ends_with = [&](const std::string& tail) {
    return lower.size() >= tail.size() && lower.compare(lower.size() - tail.size(), tail.size(), tail) == 0;
  };
  if (ends_with(".zip")) {
    // The end-of-central-directory record: within the last 22 + 65535 bytes,
    // ending the file exactly, pointing at a central directory inside it.
    const int64_t tail = std::min<int64_t>(size, 22 + 65535);
    std::string t(static_cast<size_t>(tail), '\0');
    in.seekg(size - tail);
    in.read(t.data(), tail);
    auto u16 = [&](size_t at) { return uint32_t(uint8_t(t[at])) | uint32_t(uint8_t(t[at + 1])) << 8; };
    auto u32 = [&](size_t at) { return u16(at) | u16(at + 2) << 16; };
    for (int64_t at = tail - 22; at >= 0; --at) {
      if (t.compare(static_cast<size_t>(at), 4, "PK\x05\x06") != 0) continue;
      const auto p = static_cast<size_t>(at);
      const int64_t eocd = size - tail + at;
      const int64_t cd_size = u32(p + 12), cd_offset = u32(p + 16), comment = u16(p + 20);
      if (eocd + 22 + comment != size) continue;
      if (u16(p + 10) == 0 || cd_offset + cd_size > eocd) return "is not a complete zip archive (its central directory lies outside it)";
      char sig[4] = {0};
      in.clear();
      in.seekg(cd_offset);
      in.read(sig, 4);
      if (std::string(sig, 4) != "PK\x01\x02") return "is not a complete zip archive (no central directory where its end record points)";
      return "";
    }
    return "is not a complete zip archive (no end-of-central-directory record: truncated or not a zip)";
  }
  if (ends_with(".txt") || ends_with(".csv") || ends_with(".hea") || lower.find('.') == std::string::npos) {
    std::string head(static_cast<size_t>(std::min<int64_t>(size, 4096)), '\0');
    in.read(head.data(), static_cast<std::streamsize>(head.size()));
    if (head.find('\0') != std::string::npos) return "holds NUL bytes (not a text file)";
    // A text file ends with a line end: one cut in transfer ends mid-line.
    char last = 0;
    in.clear();
    in.seekg(size - 1);
    in.get(last);
    if (last != '\n') return "ends in the middle of a line (truncated?)";
    std::string start = head.substr(head.find_first_not_of(" \t\r\n\xef\xbb\xbf") == std::string::npos
                                        ? 0
                                        : head.find_first_not_of(" \t\r\n\xef\xbb\xbf"),
                                    64);
    for (auto& c : start) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (start.rfind("<!doctype html", 0) == 0 || start.rfind("<html", 0) == 0 || start.rfind("<?xml", 0) == 0) {
      return "is an HTML page (a server's error page?), not the data file";
    }
  }
  return "";
}

namespace {

enum class Outcome { Complete, Retry };

#if defined(LEAVES_WITH_CURL)
void global_init() {
  static std::once_flag once;
  std::call_once(once, [] {
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) throw std::runtime_error("download: libcurl failed to start");
  });
}

struct Handle {
  CURL* h = nullptr;
  Handle() : h(curl_easy_init()) {
    if (!h) throw std::runtime_error("download: libcurl failed to create a handle");
  }
  ~Handle() { curl_easy_cleanup(h); }
  Handle(const Handle&) = delete;
  Handle& operator=(const Handle&) = delete;
};

void common_options(CURL* h, const std::string& url, const DownloadOptions& o) {
  curl_easy_setopt(h, CURLOPT_URL, url.c_str());
  curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 1L);
  curl_easy_setopt(h, CURLOPT_MAXREDIRS, 10L);
  curl_easy_setopt(h, CURLOPT_USERAGENT, "leaves/0.1 (libcurl)");
  curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, o.connect_timeout_s);
  curl_easy_setopt(h, CURLOPT_LOW_SPEED_LIMIT, 1L);
  curl_easy_setopt(h, CURLOPT_LOW_SPEED_TIME, o.stall_timeout_s);
  curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
}

bool is_file_url(const std::string& url) { return url.rfind("file://", 0) == 0; }

struct Capped {
  std::string body;
  bool too_big = false;
};

size_t to_string(char* data, size_t size, size_t n, void* user) {
  auto& c = *static_cast<Capped*>(user);
  if (static_cast<int64_t>(c.body.size() + size * n) > kMaxListBytes) {
    c.too_big = true;
    return 0;  // aborts the transfer
  }
  c.body.append(data, size * n);
  return size * n;
}

// One whole small file (the checksum list) into memory, at most kMaxListBytes.
// Retried whole after a dropped transfer.
std::string fetch_text(const std::string& url, const DownloadOptions& o) {
  for (int attempt = 0;; ++attempt) {
    Handle c;
    Capped body;
    common_options(c.h, url, o);
    curl_easy_setopt(c.h, CURLOPT_WRITEFUNCTION, to_string);
    curl_easy_setopt(c.h, CURLOPT_WRITEDATA, &body);
    const auto rc = curl_easy_perform(c.h);
    long code = 0;
    curl_easy_getinfo(c.h, CURLINFO_RESPONSE_CODE, &code);
    if (body.too_big) {
      throw std::runtime_error(url + ": larger than " + std::to_string(kMaxListBytes >> 20) +
                               " MiB; not a checksum list");
    }
    // file:// has no status code: success is the transfer's.
    if (rc == CURLE_OK && (code == 200 || (code == 0 && is_file_url(url)))) return body.body;
    const bool transient = rc != CURLE_OK || code >= 500;
    if (!transient || attempt >= o.retries) {
      throw std::runtime_error(url + ": " + (rc != CURLE_OK ? std::string(curl_easy_strerror(rc)) : "HTTP " + std::to_string(code)));
    }
  }
}

// State of one transfer into a .part file. The response status decides on the
// first byte whether the body continues the file (206, from exactly the offset
// asked for) or replaces it (200).
struct Transfer {
  CURL* h = nullptr;
  FILE* file = nullptr;
  bool file_url = false;
  int64_t offset = 0;
  bool decided = false;
  bool appending = false;
  bool writing = false;
  bool bad_range = false;       ///< a 206 that does not continue the file
  std::string content_range;    ///< the last Content-Range header
  long code = 0;
  int64_t received = 0;
  std::string error_body;
};

size_t on_header(char* data, size_t size, size_t n, void* user) {
  auto& t = *static_cast<Transfer*>(user);
  std::string line(data, size * n);
  const std::string key = "content-range:";
  std::string lower = line.substr(0, key.size());
  for (auto& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (lower == key) {
    t.content_range = line.substr(key.size());
    while (!t.content_range.empty() && std::isspace(static_cast<unsigned char>(t.content_range.back()))) t.content_range.pop_back();
    while (!t.content_range.empty() && std::isspace(static_cast<unsigned char>(t.content_range.front()))) t.content_range.erase(0, 1);
  }
  return size * n;
}

// "bytes START-END/TOTAL": START (or -1 when it does not parse).
int64_t range_start(const std::string& header) {
  long long start = -1, end = -1;
  char total[32] = {0};
  if (std::sscanf(header.c_str(), "bytes %lld-%lld/%31s", &start, &end, total) != 3 || start < 0 || end < start) return -1;
  return start;
}

size_t to_part(char* data, size_t size, size_t n, void* user) {
  auto& t = *static_cast<Transfer*>(user);
  const size_t bytes = size * n;
  if (!t.decided) {
    t.decided = true;
    curl_easy_getinfo(t.h, CURLINFO_RESPONSE_CODE, &t.code);
    if (t.code == 206) {
      if (t.offset == 0 || range_start(t.content_range) != t.offset) {
        t.bad_range = true;  // not the continuation asked for
        return 0;
      }
      t.writing = t.appending = true;
    } else if (t.code == 200 || (t.code == 0 && t.file_url)) {
      t.writing = true;  // the server ignored the range: start the file again
      if (std::fflush(t.file) != 0 || ftruncate(fileno(t.file), 0) != 0 || std::fseek(t.file, 0, SEEK_SET) != 0) return 0;
    }
  }
  if (!t.writing) {
    if (t.error_body.size() < 512) t.error_body.append(data, std::min<size_t>(bytes, 512));
    return bytes;
  }
  t.received += static_cast<int64_t>(bytes);
  return std::fwrite(data, 1, bytes, t.file);
}

void remove_if_empty(const fs::path& part) {
  std::error_code ec;
  if (fs::exists(part, ec) && fs::file_size(part, ec) == 0) fs::remove(part, ec);
}

// One attempt at URL -> part, continuing from the part's current size.
// `verified`: the file has a published digest (which then decides whether a
// complete-looking part is right).
Outcome attempt(const std::string& url, const fs::path& part, bool verified, const DownloadOptions& o,
                DownloadReport& report, std::string& why) {
  Handle c;
  Transfer t;
  t.h = c.h;
  t.file_url = is_file_url(url);
  if (t.file_url) fs::remove(part);  // no ranges for local files: always whole
  t.offset = fs::exists(part) ? static_cast<int64_t>(fs::file_size(part)) : 0;
  t.file = std::fopen(part.c_str(), "ab");
  if (!t.file) throw std::runtime_error(part.string() + ": cannot write the file");
  common_options(c.h, url, o);
  const std::string range = std::to_string(t.offset) + "-";
  if (t.offset > 0) curl_easy_setopt(c.h, CURLOPT_RANGE, range.c_str());
  curl_easy_setopt(c.h, CURLOPT_WRITEFUNCTION, to_part);
  curl_easy_setopt(c.h, CURLOPT_WRITEDATA, &t);
  curl_easy_setopt(c.h, CURLOPT_HEADERFUNCTION, on_header);
  curl_easy_setopt(c.h, CURLOPT_HEADERDATA, &t);
  const auto rc = curl_easy_perform(c.h);
  const bool closed = std::fclose(t.file) == 0;
  if (!t.decided) curl_easy_getinfo(c.h, CURLINFO_RESPONSE_CODE, &t.code);
  curl_off_t announced = -1;
  curl_easy_getinfo(c.h, CURLINFO_CONTENT_LENGTH_DOWNLOAD_T, &announced);
  report.bytes += t.received;
  if (t.appending) ++report.resumed;
  if (t.bad_range) {
    fs::remove(part);
    why = "the server answered the range request for bytes " + std::to_string(t.offset) + "- with Content-Range '" +
          t.content_range.substr(0, 80) + "'; starting again from zero";
    return Outcome::Retry;
  }
  if (!closed) throw std::runtime_error(part.string() + ": failed to write (disk full?)");
  if (rc == CURLE_WRITE_ERROR) throw std::runtime_error(part.string() + ": failed to write (disk full?)");
  if (t.code == 416 && t.offset > 0) {
    if (verified) return Outcome::Complete;  // nothing left to send: the digest decides
    // Without a digest a partial file longer than the server's cannot be
    // trusted: start again.
    fs::remove(part);
    why = "HTTP 416: the partial file is longer than the server's; starting again from zero";
    return Outcome::Retry;
  }
  if (t.code == 404 || t.code == 403 || t.code == 410 || t.code == 401) {
    remove_if_empty(part);
    throw std::runtime_error(url + ": HTTP " + std::to_string(t.code) + " (the file is not on the server)");
  }
  if (rc != CURLE_OK) {
    remove_if_empty(part);
    if (t.file_url) throw std::runtime_error(url + ": " + curl_easy_strerror(rc));
    why = curl_easy_strerror(rc);
    return Outcome::Retry;  // dropped connection, time-out: resume from what arrived
  }
  if (t.code != 200 && t.code != 206 && !(t.code == 0 && t.file_url)) {
    remove_if_empty(part);
    why = "HTTP " + std::to_string(t.code);
    return Outcome::Retry;
  }
  // The body must be as long as the server announced (a connection closed
  // early without an error looks complete otherwise).
  if (announced >= 0 && t.received != static_cast<int64_t>(announced)) {
    why = "received " + std::to_string(t.received) + " of the " + std::to_string(announced) + " bytes announced";
    return Outcome::Retry;
  }
  return Outcome::Complete;
}

#else
// A build without libcurl (e.g. a GPU machine without its headers): every
// other command works; downloading says why it cannot.
[[noreturn]] void no_curl() {
  throw std::invalid_argument("leaves download: this build has no libcurl (install libcurl4-openssl-dev and rebuild)");
}
void global_init() { no_curl(); }
std::string fetch_text(const std::string&, const DownloadOptions&) { no_curl(); }
Outcome attempt(const std::string&, const fs::path&, bool, const DownloadOptions&, DownloadReport&, std::string&) { no_curl(); }
#endif

std::string human_bytes(int64_t b) {
  std::ostringstream s;
  s.precision(3);
  if (b >= (1 << 20)) {
    s << double(b) / (1 << 20) << " MiB";
  } else if (b >= 1024) {
    s << double(b) / 1024 << " KiB";
  } else {
    s << b << " B";
  }
  return s.str();
}

}  // namespace

DownloadReport download(const DownloadSource& source, const DownloadOptions& o) {
  global_init();
  if (o.dest.empty()) throw OptionError("dest", ": give the folder to download into");
  if (o.retries < 0) throw OptionError("retries", " must be >= 0");
  auto base = o.base_url.empty() ? source.base_url : o.base_url;
  if (base.empty()) throw OptionError("base_url", " is empty");
  if (base.back() != '/') base += '/';
  const auto list_name = o.checksums.empty() ? source.checksums : o.checksums;
  fs::create_directories(o.dest);

  // The selection: entries of the checksum list matching the study's patterns
  // (and --only), or the study's plain file names when there is no list.
  std::vector<ChecksumEntry> entries;
  DownloadReport report;
  auto matches = [](const std::vector<std::string>& patterns, const std::string& path) {
    for (const auto& p : patterns)
      if (fnmatch(p.c_str(), path.c_str(), 0) == 0) return true;
    return false;
  };
  if (!list_name.empty()) {
    const auto text = fetch_text(base + list_name, o);
    for (auto& e : parse_checksum_list(text, base + list_name)) {
      if (matches(source.files, e.path) && (o.only.empty() || matches(o.only, e.path))) entries.push_back(e);
    }
    report.algorithm = entries.empty() ? "" : digest_algorithm(entries.front().digest);
    for (const auto& f : source.unlisted) {
      const bool listed = std::any_of(entries.begin(), entries.end(), [&](const ChecksumEntry& e) { return e.path == f; });
      if (!listed && (o.only.empty() || matches(o.only, f))) entries.push_back({"", f});
    }
    // A truncated or wrong list must not silently shrink the selection.
    for (const auto& f : source.files) {
      const bool plain = f.find_first_of("*?[") == std::string::npos;
      const bool unlisted = std::find(source.unlisted.begin(), source.unlisted.end(), f) != source.unlisted.end();
      if (!plain || unlisted || !(o.only.empty() || matches(o.only, f))) continue;
      if (std::none_of(entries.begin(), entries.end(), [&](const ChecksumEntry& e) { return e.path == f; })) {
        throw std::runtime_error(base + list_name + ": does not list " + f + ", which " + source.study +
                                 " needs (a truncated or wrong checksum list?)");
      }
    }
    if (o.only.empty()) {
      for (const auto& expected : source.expected_counts) {
        const std::string& pattern = expected.first;
        const int64_t count = expected.second;
        const auto n = std::count_if(entries.begin(), entries.end(), [&](const ChecksumEntry& e) {
          return !e.digest.empty() && fnmatch(pattern.c_str(), e.path.c_str(), 0) == 0;
        });
        if (n < count) {
          throw std::runtime_error(base + list_name + ": lists " + std::to_string(n) + " file(s) matching " + pattern +
                                   ", " + source.study + " has " + std::to_string(count) +
                                   " (a truncated or wrong checksum list?)");
        }
      }
    }
    io::write_file(o.dest / fs::path(list_name).filename(), text);
  } else {
    for (const auto& f : source.files)
      if (o.only.empty() || matches(o.only, f)) entries.push_back({"", f});
  }
  if (entries.empty()) {
    throw std::invalid_argument("download " + source.study + ": no file of " + base +
                                (list_name.empty() ? "" : list_name) + " matches the selection");
  }
  report.files = static_cast<int64_t>(entries.size());

  nlohmann::json manifest = {{"study", source.study}, {"base_url", base}, {"checksums", list_name}, {"files", nlohmann::json::array()}};
  for (const auto& e : entries) {
    const fs::path target = o.dest / e.path;
    const fs::path part = target.string() + ".part";
    const std::string url = base + e.path;
    const auto algorithm = e.digest.empty() ? std::string("sha256") : digest_algorithm(e.digest);
    fs::create_directories(target.parent_path());
    bool present = false;
    if (fs::is_regular_file(target)) {
      present = e.digest.empty() || digest_file(target, algorithm) == e.digest;
      if (!present) fs::remove(target);  // changed or corrupt: fetched again below
    }
    if (e.digest.empty()) {
      ++report.unverified;
      report.unverified_paths.push_back(e.path);
      // A file installed earlier is checked again (it may predate these checks).
      if (present) {
        if (const auto bad = check_unverified_format(target, e.path); !bad.empty()) {
          fs::remove(target);
          present = false;
        }
      }
    }
    if (present) {
      ++report.already_present;
      if (o.progress) o.progress(e.path + "  present, verified");
    } else {
      int attempts_left = o.retries + 1;
      const int64_t bytes_before = report.bytes;
      std::string why;
      for (;;) {
        const auto outcome = attempt(url, part, !e.digest.empty(), o, report, why);
        --attempts_left;
        if (outcome == Outcome::Complete) {
          const auto got = digest_file(part, algorithm);
          if (e.digest.empty() || got == e.digest) break;
          fs::remove(part);
          why = algorithm + " mismatch: the list says " + e.digest + ", the file has " + got;
          // A bad digest after a resume may come from a stale partial file:
          // the next attempt starts from zero; out of attempts, it is reported.
          if (attempts_left <= 0) {
            throw std::runtime_error(url + ": " + why + " (the partial file was removed)");
          }
        } else if (attempts_left <= 0) {
          throw std::runtime_error(url + ": transfer failed after " + std::to_string(o.retries + 1) +
                                   " attempt(s): " + why + " (" + part.string() + " is kept; run again to resume)");
        }
      }
      if (e.digest.empty()) {
        // No published digest: at least the format must be what it claims.
        if (const auto bad = check_unverified_format(part, e.path); !bad.empty()) {
          fs::remove(part);
          throw std::runtime_error(url + ": the file received " + bad + " (removed; no published digest to check it by)");
        }
      }
      io::install_file(part, target);
      ++report.fetched;
      if (o.progress) o.progress(e.path + "  " + human_bytes(report.bytes - bytes_before) + (e.digest.empty() ? ", no published digest (SHA-256 recorded)" : ", " + algorithm + " verified"));
    }
    manifest["files"].push_back({{"path", e.path},
                                 {"url", url},
                                 {"bytes", static_cast<int64_t>(fs::file_size(target))},
                                 {"sha256", algorithm == "sha256" && !e.digest.empty() ? e.digest : digest_file(target, "sha256")},
                                 {"listed_digest", e.digest}});
  }
  io::write_file(o.dest / "leaves-download.json", manifest.dump(2) + "\n");
  return report;
}

}  // namespace leaves::data
