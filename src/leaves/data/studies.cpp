#include "leaves/data/studies.h"

#include <algorithm>
#include <fstream>
#include <random>
#include <sstream>
#include <stdexcept>

#include "leaves/data/wfdb.h"

namespace leaves::data {

namespace fs = std::filesystem;

std::map<std::string, std::vector<int64_t>> read_apnea_answers(const fs::path& file) {
  std::ifstream in(file);
  if (!in) throw std::invalid_argument(file.string() + ": cannot open the file");
  std::map<std::string, std::vector<int64_t>> out;
  std::string text, record;
  size_t line = 0;
  while (std::getline(in, text)) {
    ++line;
    const std::string t = trim(text);
    if (t.empty()) continue;
    std::istringstream words(t);
    std::string first, labels;
    words >> first;
    if (!std::isdigit(static_cast<unsigned char>(first[0]))) {  // a record name
      record = first;
      if (out.count(record)) throw std::invalid_argument(file.string() + ":" + std::to_string(line) + ": record " + record + " appears twice");
      out[record] = {};
      continue;
    }
    if (record.empty()) throw std::invalid_argument(file.string() + ":" + std::to_string(line) + ": labels before any record name");
    const int64_t hour = std::stoll(first);
    words >> labels;
    auto& v = out[record];
    if (static_cast<int64_t>(v.size()) != hour * 60) {
      throw std::invalid_argument(file.string() + ":" + std::to_string(line) + ": hour " + first + " of " + record +
                                  " does not follow the previous hour");
    }
    for (char c : labels) {
      if (c != 'A' && c != 'N') {
        throw std::invalid_argument(file.string() + ":" + std::to_string(line) + ": label '" + std::string(1, c) +
                                    "' is neither A nor N");
      }
      v.push_back(c == 'A' ? 1 : 0);
    }
  }
  return out;
}

namespace {

// Appends the one-minute segments of `record` whose labels are given.
void cut_minutes(const fs::path& root, const std::string& record, const std::vector<int64_t>& labels,
                 std::vector<torch::Tensor>& xs, std::vector<int64_t>& ys) {
  const auto hea = root / (record + ".hea");
  auto rec = read_wfdb_record(hea);
  if (rec.header.frequency != 100) {
    throw std::invalid_argument(hea.string() + ": expected 100 Hz, the header says " + std::to_string(rec.header.frequency));
  }
  const int64_t L = rec.header.length, minutes = std::min<int64_t>(labels.size(), L / 6000);
  if (minutes == 0) return;
  auto ecg = rec.physical.select(0, 0).narrow(0, 0, minutes * 6000).reshape({minutes, 1, 6000});
  xs.push_back(ecg.clone());
  ys.insert(ys.end(), labels.begin(), labels.begin() + minutes);
}

Dataset make(std::vector<torch::Tensor>& xs, std::vector<int64_t>& ys, const std::string& name) {
  Dataset d;
  d.x = xs.empty() ? torch::zeros({0, 1, 6000}) : torch::cat(xs, 0);
  d.y = torch::tensor(ys, torch::kLong);
  d.class_names = {"normal", "apnea"};
  d.rate = 100;
  d.name = name;
  return d;
}

}  // namespace

Splits build_apnea_ecg(const ApneaEcgOptions& o) {
  std::ifstream list(o.root / "RECORDS");
  if (!list) throw std::invalid_argument((o.root / "RECORDS").string() + ": not found (is this the Apnea-ECG folder?)");
  std::vector<std::string> learning, test;
  for (std::string r; list >> r;) {
    if (r.size() == 3 && (r[0] == 'a' || r[0] == 'b' || r[0] == 'c')) learning.push_back(r);
    if (r.size() == 3 && r[0] == 'x') test.push_back(r);
  }
  if (learning.empty() || test.empty()) {
    throw std::invalid_argument((o.root / "RECORDS").string() + ": lists no learning (a, b, c) or test (x) records");
  }
  if (o.val_records < 0 || o.val_records >= static_cast<int64_t>(learning.size())) {
    throw std::invalid_argument("apnea-ecg: val_records must be in [0, " + std::to_string(learning.size()) + ")");
  }
  const auto answers = read_apnea_answers(o.root / "event-2.txt");
  // Validation records: a seeded shuffle of the learning set.
  auto order = learning;
  std::mt19937_64 rng(o.seed);
  std::shuffle(order.begin(), order.end(), rng);
  std::vector<std::string> val(order.begin(), order.begin() + o.val_records);

  std::vector<torch::Tensor> tx, vx, sx;
  std::vector<int64_t> ty, vy, sy;
  for (const auto& r : learning) {
    std::vector<int64_t> labels;
    for (const auto& a : read_wfdb_annotations(o.root / (r + ".apn"))) {
      if (a.sample != static_cast<int64_t>(labels.size()) * 6000) {
        throw std::invalid_argument((o.root / (r + ".apn")).string() + ": minute labels are not one per 6000 samples");
      }
      if (a.symbol != "A" && a.symbol != "N") {
        throw std::invalid_argument((o.root / (r + ".apn")).string() + ": unexpected label '" + a.symbol + "'");
      }
      labels.push_back(a.symbol == "A" ? 1 : 0);
    }
    const bool is_val = std::find(val.begin(), val.end(), r) != val.end();
    cut_minutes(o.root, r, labels, is_val ? vx : tx, is_val ? vy : ty);
  }
  for (const auto& r : test) {
    auto it = answers.find(r);
    if (it == answers.end()) throw std::invalid_argument((o.root / "event-2.txt").string() + ": no answers for " + r);
    cut_minutes(o.root, r, it->second, sx, sy);
  }
  return {make(tx, ty, "apnea-ecg-train"), make(vx, vy, "apnea-ecg-val"), make(sx, sy, "apnea-ecg-test")};
}

}  // namespace leaves::data
