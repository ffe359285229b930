// Fetching the raw files of the four studies from their public homes
// (PhysioNet, UCI) with libcurl: partial files are resumed with HTTP range
// requests, and every file is verified against the publisher's checksum list
// (PhysioNet's SHA256SUMS.txt) before it is renamed into place.
//
// A file lands as DEST/PATH only when complete and verified; until then it is
// DEST/PATH.part. A file already present with the listed digest is not fetched
// again, so an interrupted download is re-run with the same command.
#pragma once
#include <cstdint>
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

namespace leaves::data {

/// Where a study's raw files live and which of them the study builders read.
struct DownloadSource {
  std::string study;
  std::string base_url;            ///< ends with '/'
  std::string checksums;           ///< the checksum list under base_url; empty: the publisher gives none
  std::vector<std::string> files;  ///< glob patterns (fnmatch) over the list's paths, or plain file names
  std::string after;               ///< what to run next, printed at the end
  /// Files the builders need that the checksum list does not name (Apnea-ECG's
  /// event-2.txt): fetched, their SHA-256 recorded, reported as unverified.
  std::vector<std::string> unlisted = {};
  /// How many list entries each pattern of `files` must match (a truncated
  /// checksum list must not silently shrink the selection); checked when no
  /// --only narrows the selection. Patterns without a glob must always match.
  std::vector<std::pair<std::string, int64_t>> expected_counts = {};
};

/// The public home of `study` (apnea-ecg, sleep-edf, ptb-xl, pamap2); throws
/// std::invalid_argument for another name.
DownloadSource download_source(const std::string& study);
std::string known_download_studies();

struct DownloadOptions {
  std::filesystem::path dest;
  std::string base_url;            ///< replaces the source's (a mirror, or a local server in tests)
  std::string checksums;           ///< replaces the source's checksum list name
  std::vector<std::string> only;   ///< keep only list entries matching one of these patterns
  int retries = 3;                 ///< further attempts per file after a dropped transfer or a bad digest
  long connect_timeout_s = 30;
  long stall_timeout_s = 60;       ///< abort a transfer that moved no byte for this long
  /// Install files the publisher gives no digest for after checking their
  /// announced length and format; without it they are installed too, but
  /// the command reports them and fails (the CLI exits non-zero).
  bool allow_unverified = false;
  std::function<void(const std::string&)> progress;  ///< one line per file (may be empty)
};

struct DownloadReport {
  int64_t files = 0;             ///< files selected
  int64_t already_present = 0;   ///< present and verified: not fetched again
  int64_t fetched = 0;           ///< fetched in this run
  int64_t resumed = 0;           ///< transfers that continued a partial file
  int64_t bytes = 0;             ///< bytes received in this run
  int64_t unverified = 0;        ///< files with no published digest (length and format checked, SHA-256 recorded)
  std::vector<std::string> unverified_paths;
  std::string algorithm;         ///< the digest of the checksum list (sha256, sha1, md5), or "" without one
};

struct ChecksumEntry {
  std::string digest;  ///< lower-case hex
  std::string path;    ///< relative, '/'-separated
};

/// Parses a `sha256sum`-style list ("HEX  PATH" or "HEX *PATH" per line). All
/// digests must have one length (64 = SHA-256, 40 = SHA-1, 32 = MD5); a path
/// must be relative and must not contain "..". Errors name `name` and the line.
std::vector<ChecksumEntry> parse_checksum_list(const std::string& text, const std::string& name);

/// Why `file` (named `name`, e.g. "event-2.txt" or "x.zip") cannot be what it
/// claims to be, or "" when it looks right: a zip must end with a consistent
/// end-of-central-directory record; a text file must hold no NUL byte and not
/// be an HTML page (a server's error page saved as data).
std::string check_unverified_format(const std::filesystem::path& file, const std::string& name);

/// The most bytes a checksum list or error page may have (64 MiB).
inline constexpr int64_t kMaxListBytes = int64_t{64} << 20;

/// sha256, sha1 or md5 from the length of a hex digest.
std::string digest_algorithm(const std::string& hex);

/// Downloads the selected files of `source` into options.dest and writes
/// DEST/leaves-download.json (every file with its SHA-256 and URL). Throws
/// std::runtime_error naming the URL for an HTTP error, a transfer that still
/// fails after the retries, or a digest mismatch (the partial file is removed).
DownloadReport download(const DownloadSource& source, const DownloadOptions& options);

}  // namespace leaves::data
