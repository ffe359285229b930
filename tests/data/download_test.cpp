// leaves download against a local HTTP server (tests/data/http_range_server.py)
// that serves the real Apnea-ECG files of ../shared/data with the publisher's
// real checksum lists.
#include "leaves/data/download.h"

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <thread>

#include "leaves/data/cache.h"
#include "testing.h"

namespace fs = std::filesystem;
using namespace leaves::data;

namespace {

std::string slurp_file(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

// python3 tests/data/http_range_server.py in a child process, on a free port.
class DownloadTestServer {
 public:
  DownloadTestServer(const fs::path& root, const std::vector<std::string>& flags) {
    port_file_ = leaves::testing::temp_dir("http-port");
    const std::string script = std::string(LEAVES_TEST_SOURCE_DIR) + "/tests/data/http_range_server.py";
    std::vector<std::string> argv{"python3", script, "--root", root.string(), "--port-file", port_file_.string()};
    argv.insert(argv.end(), flags.begin(), flags.end());
    pid_ = fork();
    if (pid_ == 0) {
      std::vector<char*> args;
      for (auto& a : argv) args.push_back(a.data());
      args.push_back(nullptr);
      execvp("python3", args.data());
      _exit(127);
    }
    for (int i = 0; i < 200 && !fs::exists(port_file_); ++i) {
      int status = 0;
      if (waitpid(pid_, &status, WNOHANG) == pid_) {
        pid_ = -1;
        return;  // python3 missing or the script failed
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    if (fs::exists(port_file_)) url_ = "http://127.0.0.1:" + slurp_file(port_file_) + "/";
  }
  ~DownloadTestServer() {
    if (pid_ > 0) {
      kill(pid_, SIGTERM);
      waitpid(pid_, nullptr, 0);
    }
    fs::remove(port_file_);
  }
  const std::string& url() const { return url_; }

 private:
  pid_t pid_ = -1;
  fs::path port_file_;
  std::string url_;
};

#define LEAVES_SERVER_OR_SKIP(server)                                                     \
  if ((server).url().empty()) GTEST_SKIP() << "python3 could not start the local HTTP " \
                                              "server: download test skipped"

DownloadOptions quiet_options(const std::string& url, const fs::path& dest) {
  DownloadOptions o;
  o.base_url = url;
  o.dest = dest;
  o.checksums = "SHA256SUMS";  // the name in ../shared/data (PhysioNet serves SHA256SUMS.txt)
  o.connect_timeout_s = 5;
  o.stall_timeout_s = 5;
  return o;
}

}  // namespace

TEST(Download, ChecksumListParsing) {
  auto list = parse_checksum_list("B7404271c576572ce8c99af1fe455cae2954dce1c18caf21a61a25bf1c00f803  a01.apn\r\n\n"
                                  "0cf9b8181e240136067f5e7fcbc3a16750e793350935fa473ca9becb5b71a9fc *sub/a01.dat\n",
                                  "SUMS");
  ASSERT_EQ(list.size(), 2u);
  EXPECT_EQ(list[0].digest.substr(0, 4), "b740");
  EXPECT_EQ(list[0].path, "a01.apn");
  EXPECT_EQ(list[1].path, "sub/a01.dat");
  EXPECT_EQ(digest_algorithm(list[0].digest), "sha256");
  EXPECT_EQ(digest_algorithm(std::string(40, 'a')), "sha1");
  leaves::testing::expect_invalid_argument([] { parse_checksum_list("abc  x\n", "SUMS"); }, "SUMS:1:");
  leaves::testing::expect_invalid_argument([] { parse_checksum_list(std::string(64, 'a') + "  ../etc/passwd\n", "S"); },
                                           "leaves the download folder");
  leaves::testing::expect_invalid_argument([] { parse_checksum_list(std::string(64, 'a') + "  /etc/passwd\n", "S"); },
                                           "leaves the download folder");
  leaves::testing::expect_invalid_argument(
      [] { parse_checksum_list(std::string(64, 'a') + "  x\n" + std::string(40, 'b') + "  y\n", "S"); },
      "S:2: digests of different lengths");
  leaves::testing::expect_invalid_argument([] { parse_checksum_list(std::string(64, 'g') + "  x\n", "S"); },
                                           "not hexadecimal");
  leaves::testing::expect_invalid_argument([] { parse_checksum_list("\n\n", "S"); }, "empty");
  leaves::testing::expect_invalid_argument([] { download_source("mnist"); }, "unknown study 'mnist'");
  EXPECT_EQ(download_source("sleep-edf").checksums, "SHA256SUMS.txt");
}

TEST(Download, RealApneaEcgFilesVerifiedAgainstThePublishersSha256Sums) {
  LEAVES_SHARED_DATA_OR_SKIP(shared);
  const auto root = shared / "formats" / "apnea-ecg";
  DownloadTestServer server(root, {});
  LEAVES_SERVER_OR_SKIP(server);
  const auto dest = leaves::testing::temp_dir("download");
  auto o = quiet_options(server.url(), dest);
  // The .dat signals are not in ../shared/data.
  o.only = {"a0[1-3].hea", "a0[1-3].apn", "RECORDS", "event-2.txt"};
  std::vector<std::string> lines;
  o.progress = [&](const std::string& l) { lines.push_back(l); };
  auto report = download(download_source("apnea-ecg"), o);
  EXPECT_EQ(report.files, 8);
  EXPECT_EQ(report.fetched, 8);
  EXPECT_EQ(report.already_present, 0);
  EXPECT_EQ(report.algorithm, "sha256");
  EXPECT_EQ(report.unverified, 1);  // event-2.txt: not in the publisher's list
  EXPECT_EQ(lines.size(), 8u);
  for (const char* f : {"a01.hea", "a02.apn", "a03.apn", "RECORDS", "event-2.txt"}) {
    ASSERT_TRUE(fs::exists(dest / f)) << f;
    EXPECT_EQ(slurp_file(dest / f), slurp_file(root / f)) << f;
    EXPECT_FALSE(fs::exists(dest / (std::string(f) + ".part"))) << f;
  }
  EXPECT_EQ(report.bytes, static_cast<int64_t>(fs::file_size(root / "event-2.txt") + fs::file_size(root / "RECORDS") +
                                               fs::file_size(root / "a01.hea") + fs::file_size(root / "a02.hea") +
                                               fs::file_size(root / "a03.hea") + fs::file_size(root / "a01.apn") +
                                               fs::file_size(root / "a02.apn") + fs::file_size(root / "a03.apn")));
  auto manifest = nlohmann::json::parse(slurp_file(dest / "leaves-download.json"));
  EXPECT_EQ(manifest["files"].size(), 8u);
  EXPECT_EQ(manifest["files"][0]["sha256"].get<std::string>(), sha256_file(dest / manifest["files"][0]["path"].get<std::string>()));
  EXPECT_TRUE(fs::exists(dest / "SHA256SUMS"));

  // A second run verifies what is there and fetches nothing.
  auto again = download(download_source("apnea-ecg"), o);
  EXPECT_EQ(again.already_present, 8);
  EXPECT_EQ(again.fetched, 0);
  EXPECT_EQ(again.bytes, 0);

  // A file changed on disk is fetched again.
  std::ofstream(dest / "a01.apn", std::ios::app) << "x";
  auto repaired = download(download_source("apnea-ecg"), o);
  EXPECT_EQ(repaired.fetched, 1);
  EXPECT_EQ(slurp_file(dest / "a01.apn"), slurp_file(root / "a01.apn"));

  // SHA-1 and MD5 lists of the same database verify the same files.
  o.checksums = "SHA1SUMS";
  EXPECT_EQ(download(download_source("apnea-ecg"), o).algorithm, "sha1");
  o.checksums = "MD5SUMS";
  EXPECT_EQ(download(download_source("apnea-ecg"), o).already_present, 8);
  fs::remove_all(dest);
}

TEST(Download, DroppedTransfersAreResumedWithRangeRequests) {
  LEAVES_SHARED_DATA_OR_SKIP(shared);
  const auto root = shared / "formats" / "apnea-ecg";
  DownloadTestServer server(root, {"--drop-after", "700"});
  LEAVES_SERVER_OR_SKIP(server);
  const auto dest = leaves::testing::temp_dir("download-resume");
  auto o = quiet_options(server.url(), dest);
  o.only = {"a0[1-4].apn", "event-2.txt"};  // each over 700 bytes
  auto report = download(download_source("apnea-ecg"), o);
  EXPECT_EQ(report.fetched, 5);
  EXPECT_EQ(report.resumed, 5);  // every file: 700 bytes, a cut, then the rest with Range
  for (const char* f : {"a01.apn", "a04.apn", "event-2.txt"}) EXPECT_EQ(slurp_file(dest / f), slurp_file(root / f));

  // Without retries the cut leaves the partial file, and a second run resumes it.
  DownloadTestServer fresh(root, {"--drop-after", "700", "--drop-suffix", "event-2.txt"});
  const auto dest2 = leaves::testing::temp_dir("download-resume2");
  auto o2 = quiet_options(fresh.url(), dest2);
  o2.only = {"event-2.txt"};
  o2.retries = 0;
  leaves::testing::expect_runtime_error([&] { download(download_source("apnea-ecg"), o2); }, "run again to resume");
  ASSERT_TRUE(fs::exists(dest2 / "event-2.txt.part"));
  EXPECT_EQ(fs::file_size(dest2 / "event-2.txt.part"), 700u);
  EXPECT_FALSE(fs::exists(dest2 / "event-2.txt"));
  auto second = download(download_source("apnea-ecg"), o2);
  EXPECT_EQ(second.resumed, 1);
  EXPECT_EQ(second.bytes, static_cast<int64_t>(fs::file_size(root / "event-2.txt")) - 700);
  EXPECT_EQ(slurp_file(dest2 / "event-2.txt"), slurp_file(root / "event-2.txt"));
  fs::remove_all(dest);
  fs::remove_all(dest2);
}

TEST(Download, StalePartialFileAndServerWithoutRanges) {
  LEAVES_SHARED_DATA_OR_SKIP(shared);
  const auto root = shared / "formats" / "apnea-ecg";
  const auto dest = leaves::testing::temp_dir("download-stale");
  fs::create_directories(dest);
  // A partial file that is not a prefix of the real one: the resumed file
  // fails its digest, is removed, and the next attempt starts from zero.
  std::ofstream(dest / "a05.apn.part") << "garbage that is not the start of a05.apn";
  {
    DownloadTestServer server(root, {});
    LEAVES_SERVER_OR_SKIP(server);
    auto o = quiet_options(server.url(), dest);
    o.only = {"a05.apn"};
    auto report = download(download_source("apnea-ecg"), o);
    EXPECT_EQ(report.fetched, 1);
    EXPECT_EQ(slurp_file(dest / "a05.apn"), slurp_file(root / "a05.apn"));
  }
  // A server that ignores Range answers 200: the partial file is replaced.
  std::ofstream(dest / "a06.apn.part") << "stale";
  DownloadTestServer plain(root, {"--no-ranges"});
  auto o = quiet_options(plain.url(), dest);
  o.only = {"a06.apn"};
  auto report = download(download_source("apnea-ecg"), o);
  EXPECT_EQ(report.resumed, 0);
  EXPECT_EQ(report.bytes, static_cast<int64_t>(fs::file_size(root / "a06.apn")));
  EXPECT_EQ(slurp_file(dest / "a06.apn"), slurp_file(root / "a06.apn"));
  fs::remove_all(dest);
}

TEST(Download, CorruptFilesAndMissingFilesAreReportedNotKept) {
  LEAVES_SHARED_DATA_OR_SKIP(shared);
  // A mirror whose a01.hea differs from what the real SHA256SUMS lists.
  const auto mirror = leaves::testing::temp_dir("download-mirror");
  fs::create_directories(mirror);
  const auto root = shared / "formats" / "apnea-ecg";
  fs::copy_file(root / "SHA256SUMS", mirror / "SHA256SUMS");
  std::ofstream(mirror / "a01.hea") << slurp_file(root / "a01.hea") << "# tampered\n";
  DownloadTestServer server(mirror, {});
  LEAVES_SERVER_OR_SKIP(server);
  const auto dest = leaves::testing::temp_dir("download-corrupt");
  auto o = quiet_options(server.url(), dest);
  o.retries = 1;
  o.only = {"a01.hea"};
  leaves::testing::expect_runtime_error([&] { download(download_source("apnea-ecg"), o); },
                                        "a01.hea: sha256 mismatch");
  o.retries = 0;  // the message also says the partial file is gone
  leaves::testing::expect_runtime_error([&] { download(download_source("apnea-ecg"), o); },
                                        "(the partial file was removed)");
  o.retries = 1;
  EXPECT_FALSE(fs::exists(dest / "a01.hea"));
  EXPECT_FALSE(fs::exists(dest / "a01.hea.part"));

  // Listed but absent on the server (the .dat signals here): HTTP 404, named.
  o.only = {"a01.dat"};
  leaves::testing::expect_runtime_error([&] { download(download_source("apnea-ecg"), o); }, "a01.dat: HTTP 404");
  // No checksum list on the server.
  o.checksums = "SHA256SUMS.txt";
  leaves::testing::expect_runtime_error([&] { download(download_source("apnea-ecg"), o); }, "SHA256SUMS.txt: HTTP 404");
  // A selection that matches nothing.
  o.checksums = "SHA256SUMS";
  o.only = {"nothing*"};
  leaves::testing::expect_invalid_argument([&] { download(download_source("apnea-ecg"), o); }, "matches the selection");
  // Nobody listening.
  o.base_url = "http://127.0.0.1:9/";
  o.only = {};
  EXPECT_THROW(download(download_source("apnea-ecg"), o), std::runtime_error);
  fs::remove_all(dest);
  fs::remove_all(mirror);
}
