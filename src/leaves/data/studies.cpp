#include "leaves/data/studies.h"

#include <charconv>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <fstream>
#include <random>
#include <sstream>
#include <stdexcept>

// fast-cpp-csv-parser copies file names with strncpy into a fixed buffer (only
// used in its error messages); GCC warns about the possible truncation.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wstringop-truncation"
#endif
#include <libfccp/csv.h>
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif

#include "leaves/data/edf.h"
#include "leaves/data/tables.h"
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
    // Hours of a night: a small whole number (fuzzing found std::stoll overflowing).
    int64_t hour = -1;
    const auto parsed = std::from_chars(first.data(), first.data() + first.size(), hour);
    if (parsed.ec != std::errc() || parsed.ptr != first.data() + first.size() || hour < 0 || hour > 1000) {
      throw std::invalid_argument(file.string() + ":" + std::to_string(line) + ": hour '" + first +
                                  "' is not a whole number in 0..1000");
    }
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

// The pieces of a study collected per split (0 train, 1 validation, 2 test).
struct SplitParts {
  std::vector<torch::Tensor> x[3], targets[3];
  std::vector<int64_t> y[3];
  std::vector<std::string> channels;  ///< channel names

  // One split as a Dataset; `sample_shape` is [C, L] (for an empty split).
  Dataset make(int k, const std::vector<int64_t>& sample_shape, const std::vector<std::string>& classes,
               const std::string& name) const {
    Dataset d;
    d.x = x[k].empty() ? torch::zeros({0, sample_shape[0], sample_shape[1]}) : torch::cat(x[k], 0);
    d.y = torch::tensor(y[k], torch::kLong);
    if (!targets[k].empty()) d.targets = torch::cat(targets[k], 0);
    d.class_names = classes;
    d.channel_names = channels;
    d.rate = 100;
    d.name = name;
    return d;
  }
  Splits splits(const std::vector<int64_t>& sample_shape, const std::vector<std::string>& classes,
                const std::string& study) const {
    return {make(0, sample_shape, classes, study + "-train"), make(1, sample_shape, classes, study + "-val"),
            make(2, sample_shape, classes, study + "-test")};
  }
};

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

  SplitParts parts;
  parts.channels = {"ECG"};
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
    const int k = std::find(val.begin(), val.end(), r) != val.end() ? 1 : 0;
    cut_minutes(o.root, r, labels, parts.x[k], parts.y[k]);
  }
  for (const auto& r : test) {
    auto it = answers.find(r);
    if (it == answers.end()) throw std::invalid_argument((o.root / "event-2.txt").string() + ": no answers for " + r);
    cut_minutes(o.root, r, it->second, parts.x[2], parts.y[2]);
  }
  return parts.splits({1, 6000}, {"normal", "apnea"}, "apnea-ecg");
}

// ---------------------------------------------------------------------------
// PTB-XL

namespace {
const std::vector<std::string> kSuperclasses{"NORM", "MI", "STTC", "CD", "HYP"};
using Csv = ::io::CSVReader<4, ::io::trim_chars<' ', '\t'>, ::io::double_quote_escape<',', '"'>>;
using Csv3 = ::io::CSVReader<3, ::io::trim_chars<' ', '\t'>, ::io::double_quote_escape<',', '"'>>;

template <class F>
void csv_rows(const fs::path& file, F&& body) {
  if (!fs::exists(file)) throw std::invalid_argument(file.string() + ": not found");
  try {
    body();
  } catch (const ::io::error::base& e) {
    throw std::invalid_argument(file.string() + ": " + e.what());
  }
}
}  // namespace

std::map<std::string, std::string> read_ptbxl_superclasses(const fs::path& statements) {
  std::map<std::string, std::string> out;
  csv_rows(statements, [&] {
    Csv3 in(statements.string());
    // The first column (the code) has an empty name in the published file.
    in.read_header(::io::ignore_extra_column, "", "diagnostic", "diagnostic_class");
    std::string code, diagnostic, klass;
    while (in.read_row(code, diagnostic, klass)) {
      if (diagnostic == "1.0" || diagnostic == "1") out[code] = klass;
    }
  });
  if (out.empty()) throw std::invalid_argument(statements.string() + ": no diagnostic statements");
  return out;
}

std::map<std::string, double> parse_scp_codes(const std::string& text) {
  std::map<std::string, double> out;
  const std::string t = trim(text);
  if (t.size() < 2 || t.front() != '{' || t.back() != '}') {
    throw std::invalid_argument("scp_codes '" + text + "' is not a {'CODE': value, ...} literal");
  }
  size_t i = 1;
  while (true) {
    const auto q1 = t.find('\'', i);
    if (q1 == std::string::npos) break;
    const auto q2 = t.find('\'', q1 + 1);
    const auto colon = t.find(':', q2);
    if (q2 == std::string::npos || colon == std::string::npos) {
      throw std::invalid_argument("scp_codes '" + text + "': unbalanced quotes");
    }
    const auto end = t.find_first_of(",}", colon);
    const std::string value = trim(t.substr(colon + 1, end - colon - 1));
    char* stop = nullptr;
    const double v = std::strtod(value.c_str(), &stop);
    if (value.empty() || stop != value.c_str() + value.size()) {
      throw std::invalid_argument("scp_codes '" + text + "': value '" + value + "' is not a number");
    }
    out[t.substr(q1 + 1, q2 - q1 - 1)] = v;
    i = end + 1;
  }
  return out;
}

Splits build_ptbxl(const PtbXlOptions& o) {
  const auto classes = read_ptbxl_superclasses(o.root / "scp_statements.csv");
  const auto table = o.root / o.database;
  SplitParts parts;
  csv_rows(table, [&] {
    Csv in(table.string());
    in.read_header(::io::ignore_extra_column, "ecg_id", "scp_codes", "strat_fold", "filename_lr");
    std::string id, codes, fold_text, file;
    while (in.read_row(id, codes, fold_text, file)) {
      const int fold = std::atoi(fold_text.c_str());
      if (fold < 1 || fold > 10) {
        throw std::invalid_argument(table.string() + ": ecg_id " + id + " has strat_fold '" + fold_text + "'");
      }
      auto target = torch::zeros({static_cast<int64_t>(kSuperclasses.size())});
      for (const auto& [code, likelihood] : parse_scp_codes(codes)) {
        auto it = classes.find(code);
        if (it == classes.end()) continue;
        auto k = std::find(kSuperclasses.begin(), kSuperclasses.end(), it->second) - kSuperclasses.begin();
        if (k < static_cast<int64_t>(kSuperclasses.size())) target[k] = 1.0f;
      }
      const int64_t n_labels = static_cast<int64_t>(target.sum().item<float>());
      if (n_labels == 0) continue;
      const int split = fold <= 8 ? 0 : fold == 9 ? 1 : 2;
      auto rec = read_wfdb_record(o.root / (file + ".hea"));
      if (rec.physical.size(0) != 12 || rec.physical.size(1) != 1000) {
        std::ostringstream s;
        s << o.root.string() << "/" << file << ".hea: expected 12 leads x 1000 samples, got " << rec.physical.sizes();
        throw std::invalid_argument(s.str());
      }
      if (parts.channels.empty())
        for (const auto& sig : rec.header.signals) parts.channels.push_back(sig.description);
      parts.x[split].push_back(rec.physical.unsqueeze(0));
      parts.y[split].push_back(n_labels == 1 ? target.argmax().item<int64_t>() : -1);
      parts.targets[split].push_back(target.unsqueeze(0));
    }
  });
  auto out = parts.splits({12, 1000}, kSuperclasses, "ptb-xl");
  for (auto* d : {&out.train, &out.val, &out.test})
    if (!d->targets.defined()) d->targets = torch::zeros({0, static_cast<int64_t>(kSuperclasses.size())});
  return out;
}

// ---------------------------------------------------------------------------
// Sleep-EDF

std::vector<int64_t> read_hypnogram_epochs(const fs::path& hypnogram) {
  static const std::map<std::string, int64_t> stage{
      {"Sleep stage W", 0}, {"Sleep stage 1", 1}, {"Sleep stage 2", 2},  {"Sleep stage 3", 3},
      {"Sleep stage 4", 3}, {"Sleep stage R", 4}, {"Sleep stage ?", -1}, {"Movement time", -1}};
  std::vector<int64_t> epochs;
  for (const auto& a : read_edf_info(hypnogram).annotations) {
    auto it = stage.find(trim(a.text));
    if (it == stage.end()) throw std::invalid_argument(hypnogram.string() + ": unknown stage '" + a.text + "'");
    // A night is hours long; an annotation outside a week is a corrupt file (and
    // would otherwise ask for an absurd number of epochs).
    if (!(a.onset >= 0 && a.onset + std::max(0.0, a.duration) <= 7 * 86400.0)) {
      throw std::invalid_argument(hypnogram.string() + ": '" + a.text + "' at " + std::to_string(a.onset) + " s for " +
                                  std::to_string(a.duration) + " s lies outside the first week of the recording");
    }
    const double first = a.onset / 30.0, count = a.duration / 30.0;
    if (std::abs(first - std::round(first)) > 1e-6 || count < 0 || std::abs(count - std::round(count)) > 1e-6) {
      throw std::invalid_argument(hypnogram.string() + ": '" + a.text + "' at " + std::to_string(a.onset) +
                                  " s is not a whole number of 30-s epochs");
    }
    const auto begin = static_cast<size_t>(std::llround(first)), n = static_cast<size_t>(std::llround(count));
    if (epochs.size() < begin) epochs.resize(begin, -1);  // gaps count as unscored
    epochs.resize(begin);
    epochs.insert(epochs.end(), n, it->second);
  }
  if (std::none_of(epochs.begin(), epochs.end(), [](int64_t e) { return e >= 0; })) {
    throw std::invalid_argument(hypnogram.string() + ": holds no scored sleep stage (is it a hypnogram? a PSG file "
                                "has no stage annotations)");
  }
  return epochs;
}

std::vector<int> parse_subjects(const std::string& text) {
  std::vector<int> out;
  std::stringstream in(text);
  auto number = [&](const std::string& t) {
    size_t used = 0;
    int v = -1;
    try {
      v = std::stoi(t, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    if (used != t.size() || v < 0 || v > 99) {
      throw std::invalid_argument("subjects '" + text + "': expected subject numbers 0-99 joined by '+' or spanned by '-' "
                                  "(0-19, 3+7+12), got '" + t + "'");
    }
    return v;
  };
  for (std::string item; std::getline(in, item, '+');) {
    const auto dash = item.find('-');
    const int a = number(item.substr(0, dash)), b = dash == std::string::npos ? a : number(item.substr(dash + 1));
    if (b < a) throw std::invalid_argument("subjects '" + text + "': the span " + item + " runs backwards");
    for (int s = a; s <= b; ++s)
      if (std::find(out.begin(), out.end(), s) == out.end()) out.push_back(s);
  }
  if (out.empty()) throw std::invalid_argument("subjects '" + text + "': no subject");
  std::sort(out.begin(), out.end());
  return out;
}

std::map<int, std::vector<fs::path>> sleep_edf_files(const fs::path& root, const std::vector<int>& subjects,
                                                     const std::string& suffix) {
  std::map<int, std::vector<fs::path>> by_subject;
  for (const auto& e : fs::recursive_directory_iterator(root)) {
    const std::string name = e.path().filename().string();
    if (name.size() < 7 + suffix.size() || name.compare(0, 3, "SC4") != 0 ||
        name.compare(name.size() - suffix.size(), suffix.size(), suffix) != 0 || !std::isdigit(name[3]) ||
        !std::isdigit(name[4])) {
      continue;
    }
    const int subject = std::atoi(name.substr(3, 2).c_str());
    if (subjects.empty() || std::count(subjects.begin(), subjects.end(), subject)) by_subject[subject].push_back(e.path());
  }
  for (int s : subjects) {
    if (!by_subject.count(s)) {
      throw std::invalid_argument(root.string() + ": subject " + std::to_string(s) + " has no SC4" + (s < 10 ? "0" : "") +
                                  std::to_string(s) + "*" + suffix + " (leaves download sleep-edf --subjects LIST)");
    }
  }
  for (auto& [s, files] : by_subject) std::sort(files.begin(), files.end());
  return by_subject;
}

Splits build_sleep_edf(const SleepEdfOptions& o) {
  if (!fs::is_directory(o.root)) throw std::invalid_argument(o.root.string() + ": not a folder");
  if (!(o.train_fraction > 0 && o.train_fraction < 1)) throw std::invalid_argument("sleep-edf: train_fraction must be in (0, 1)");
  std::map<std::string, fs::path> psg, hyp;  // by the SC4ssN prefix
  for (const auto& e : fs::recursive_directory_iterator(o.root)) {
    const std::string name = e.path().filename().string();
    auto ends_with = [&](const std::string& tail) {
      return name.size() >= 7 + tail.size() && name.compare(name.size() - tail.size(), tail.size(), tail) == 0;
    };
    if (ends_with("-PSG.edf")) psg[name.substr(0, 7)] = e.path();
    if (ends_with("-Hypnogram.edf")) hyp[name.substr(0, 7)] = e.path();
  }
  if (psg.empty()) throw std::invalid_argument(o.root.string() + ": no *-PSG.edf files");
  if (!o.subjects.empty()) {  // the subjects asked for (each must have a night)
    std::map<std::string, fs::path> kept;
    for (const auto& [subject, files] : sleep_edf_files(o.root, o.subjects, "-PSG.edf"))
      for (const auto& f : files) kept[f.filename().string().substr(0, 7)] = f;
    psg = kept;
  }
  std::map<int, std::vector<std::string>> by_subject;
  for (const auto& [prefix, path] : psg) {
    if (!hyp.count(prefix)) throw std::invalid_argument(path.string() + ": no hypnogram " + prefix + "*-Hypnogram.edf beside it");
    by_subject[std::atoi(prefix.substr(3, 2).c_str())].push_back(prefix);
  }
  std::vector<int> subjects;
  for (const auto& [s, _] : by_subject) subjects.push_back(s);
  const auto n_train = static_cast<size_t>(std::llround(o.train_fraction * subjects.size()));
  if (n_train < 1 || n_train >= subjects.size()) {
    throw std::invalid_argument("sleep-edf: " + std::to_string(subjects.size()) + " subjects cannot be split " +
                                std::to_string(o.train_fraction) + " / rest");
  }
  if (o.val_subjects < 0 || static_cast<size_t>(o.val_subjects) >= n_train) {
    throw std::invalid_argument("sleep-edf: val_subjects must be in [0, " + std::to_string(n_train) + ")");
  }
  std::vector<int> train_subjects(subjects.begin(), subjects.begin() + n_train);
  std::shuffle(train_subjects.begin(), train_subjects.end(), std::mt19937_64(o.seed));
  std::vector<int> val_subjects(train_subjects.begin(), train_subjects.begin() + o.val_subjects);

  SplitParts parts;
  parts.channels = {o.channel};
  for (size_t i = 0; i < subjects.size(); ++i) {
    const int s = subjects[i];
    const int split = i >= n_train ? 2 : std::count(val_subjects.begin(), val_subjects.end(), s) ? 1 : 0;
    for (const auto& prefix : by_subject[s]) {
      const auto labels = read_hypnogram_epochs(hyp[prefix]);
      const auto info = read_edf_info(psg[prefix]);
      double rate = 0;
      for (const auto& sig : info.signals)
        if (sig.label == o.channel) rate = sig.rate;
      if (rate != 100) {
        throw std::invalid_argument(psg[prefix].string() + ": channel '" + o.channel +
                                    (rate == 0 ? "' not found" : "' is not sampled at 100 Hz"));
      }
      auto eeg = read_edf_signal(psg[prefix], o.channel);
      const int64_t available = std::min<int64_t>(labels.size(), eeg.numel() / 3000);
      int64_t first = -1, last = -1;
      for (int64_t k = 0; k < available; ++k) {
        if (labels[k] > 0) {
          if (first < 0) first = k;
          last = k;
        }
      }
      if (first < 0) continue;  // no sleep scored
      const int64_t from = std::max<int64_t>(0, first - o.wake_margin), to = std::min(available, last + o.wake_margin + 1);
      std::vector<int64_t> keep;
      for (int64_t k = from; k < to; ++k)
        if (labels[k] >= 0) keep.push_back(k);
      auto epochs = eeg.narrow(0, 0, available * 3000).view({available, 1, 3000});
      parts.x[split].push_back(epochs.index_select(0, torch::tensor(keep, torch::kLong)));
      for (auto k : keep) parts.y[split].push_back(labels[k]);
    }
  }
  return parts.splits({1, 3000}, {"W", "N1", "N2", "N3", "REM"}, "sleep-edf");
}

// ---------------------------------------------------------------------------
// PAMAP2

Splits build_pamap2(const Pamap2Options& o) {
  if (o.window < 1 || o.stride < 1) throw std::invalid_argument("pamap2: window and stride must be >= 1");
  if (o.activities.empty()) throw std::invalid_argument("pamap2: no activities to keep");
  std::vector<std::string> names;
  for (int a : o.activities) names.push_back(pamap2_activity_name(a));
  SplitParts parts;
  parts.channels = Pamap2Recording::channel_names();
  for (int subject = 101; subject <= 109; ++subject) {
    const std::string file = "subject" + std::to_string(subject) + ".dat";
    fs::path path = o.root / file;
    if (!fs::exists(path)) path = o.root / "Protocol" / file;
    if (!fs::exists(path)) throw std::invalid_argument((o.root / file).string() + ": not found (nor in Protocol/)");
    const int split = subject == 105 ? 1 : subject == 106 ? 2 : 0;
    auto rec = read_pamap2(path);
    // Linear interpolation of the missing values of every channel over time.
    auto v = rec.values.to(torch::kDouble);
    const int64_t C = v.size(0), T = v.size(1);
    auto a = v.accessor<double, 2>();
    for (int64_t c = 0; c < C; ++c) {
      int64_t prev = -1;
      for (int64_t t = 0; t <= T; ++t) {
        if (t < T && std::isnan(a[c][t])) continue;
        if (t == T && prev < 0) {
          throw std::invalid_argument(path.string() + ": channel " + Pamap2Recording::channel_names()[c] +
                                      " has no values at all");
        }
        for (int64_t u = prev + 1; u < t; ++u) {  // fill the gap (prev, t)
          a[c][u] = prev < 0 ? a[c][t] : t == T ? a[c][prev] : a[c][prev] + (a[c][t] - a[c][prev]) * (u - prev) / double(t - prev);
        }
        prev = t;
      }
    }
    auto values = v.to(torch::kFloat);
    auto act = rec.activity.accessor<int64_t, 1>();
    std::vector<int64_t> starts, labels;
    for (int64_t s = 0; s + o.window <= T; s += o.stride) {
      const int64_t id = act[s];
      auto cls = std::find(o.activities.begin(), o.activities.end(), static_cast<int>(id)) - o.activities.begin();
      if (cls == static_cast<int64_t>(o.activities.size())) continue;
      bool pure = true;
      for (int64_t t = s; t < s + o.window && pure; ++t) pure = act[t] == id;
      if (!pure) continue;
      starts.push_back(s);
      labels.push_back(cls);
    }
    if (starts.empty()) continue;
    auto idx = torch::tensor(starts, torch::kLong).view({-1, 1}) + torch::arange(o.window).view({1, -1});  // [W, window]
    parts.x[split].push_back(values.index_select(1, idx.flatten()).view({C, -1, o.window}).permute({1, 0, 2}).contiguous());
    parts.y[split].insert(parts.y[split].end(), labels.begin(), labels.end());
  }
  return parts.splits({52, o.window}, names, "pamap2");
}

}  // namespace leaves::data
