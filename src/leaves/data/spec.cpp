#include "leaves/data/spec.h"
#include "leaves/option_error.h"

#include <filesystem>
#include <set>
#include <sstream>
#include <stdexcept>

#include "leaves/data/cache.h"
#include "leaves/data/studies.h"
#include "leaves/data/synthetic.h"
#include "leaves/data/tables.h"
#include "leaves/data/text_series.h"

namespace leaves::data {

DataSpec parse_data_spec(const std::string& text) {
  DataSpec spec;
  spec.text = text;
  const auto colon = text.find(':');
  spec.kind = text.substr(0, colon);
  if (spec.kind.empty()) throw OptionError("data", " '" + text + "': missing the data set kind");
  if (colon == std::string::npos && std::filesystem::exists(std::filesystem::path(text) / "prepared.json")) {
    spec.kind = "prepared";  // a directory written by `leaves prepare`
    spec.options["path"] = text;
    return spec;
  }
  if (colon == std::string::npos) return spec;
  std::stringstream rest(text.substr(colon + 1));
  std::string item;
  bool first = true;
  while (std::getline(rest, item, ',')) {
    const auto eq = item.find('=');
    if (first && eq == std::string::npos && !item.empty()) {  // KIND:PATH,... shorthand
      spec.options["path"] = item;
      first = false;
      continue;
    }
    first = false;
    if (eq == std::string::npos || eq == 0) {
      throw OptionError("data", " '" + text + "': expected KEY=VALUE, got '" + item + "'");
    }
    if (spec.options.count(item.substr(0, eq))) {
      throw OptionError("data", " '" + text + "': option " + item.substr(0, eq) + " is given twice");
    }
    spec.options[item.substr(0, eq)] = item.substr(eq + 1);
  }
  return spec;
}

std::string absolute_spec(const std::string& text) {
  const auto spec = parse_data_spec(text);
  auto absolute = [](const std::string& p) {
    return p.empty() ? p : std::filesystem::absolute(std::filesystem::path(p)).lexically_normal().string();
  };
  if (spec.kind == "prepared" && text.find(':') == std::string::npos) return absolute(spec.options.at("path"));
  if (spec.options.empty()) return text;
  std::string out = spec.kind + ":";
  bool first = true;
  if (spec.options.count("path")) out += absolute(spec.options.at("path")), first = false;
  for (const auto& [key, value] : spec.options) {
    if (key == "path") continue;
    out += (first ? "" : ",") + key + "=" + (key == "x" || key == "y" ? absolute(value) : value);
    first = false;
  }
  return out;
}

std::string known_data_kinds() { return "synthetic, ucr, uea, arrays, apnea-ecg, ptb-xl, sleep-edf, pamap2, prepared"; }

namespace {

class OptionReader {
 public:
  explicit OptionReader(const DataSpec& spec) : spec_(spec) {}
  template <class T>
  T get(const std::string& key, T fallback) {
    used_.insert(key);
    auto it = spec_.options.find(key);
    if (it == spec_.options.end()) return fallback;
    std::istringstream in(it->second);
    T value;
    // An unsigned option never takes a sign (">>" would wrap "-1" around).
    const bool signed_text = std::is_unsigned<T>::value && it->second.find('-') != std::string::npos;
    if (signed_text || !(in >> value) || !in.eof()) {
      throw OptionError("data", " '" + spec_.text + "': option " + key + " has a bad value '" + it->second +
                                  "'");
    }
    return value;
  }
  void reject_unknown() const {
    for (const auto& [key, value] : spec_.options) {
      if (!used_.count(key)) {
        std::string known;
        for (const auto& k : used_) known += (known.empty() ? "" : ", ") + k;
        throw OptionError("data", " '" + spec_.text + "': unknown option '" + key + "' (known: " + known + ")");
      }
    }
  }

 private:
  const DataSpec& spec_;
  std::set<std::string> used_;
};

}  // namespace

namespace {
Splits load_raw(const DataSpec& spec, OptionReader& opt);
}  // namespace

Splits load_splits(const DataSpec& spec) {
  OptionReader opt(spec);
  Preprocess pre;
  pre.normalize = opt.get<std::string>("normalize", pre.normalize);
  pre.resample = opt.get<double>("resample", pre.resample);
  const auto select = opt.get<std::string>("select", "");
  std::stringstream names(select);
  for (std::string name; std::getline(names, name, '+');)
    if (!name.empty()) pre.select.push_back(name);
  if (pre.normalize != "none" && pre.normalize != "zscore" && pre.normalize != "minmax") {
    throw OptionError("data", " '" + spec.text + "': normalize must be none, zscore or minmax");
  }
  if (pre.resample < 0) throw OptionError("data", " '" + spec.text + "': resample must be >= 0 Hz");
  auto splits = load_raw(spec, opt);
  Splits out;
  try {
    out = {preprocess(splits.train, pre), preprocess(splits.val, pre), preprocess(splits.test, pre)};
  } catch (const std::invalid_argument& e) {
    throw OptionError("data", " '" + spec.text + "': " + e.what());
  }
  // Whatever the reader, nothing non-finite and no label outside the classes
  // reaches training (a value finite as double but not as float, a corrupt
  // gain, an overflowing label would otherwise fail deep inside LibTorch).
  for (const auto& [name, d] : {std::pair<const char*, const Dataset*>{"train", &out.train}, {"validation", &out.val},
                                {"test", &out.test}}) {
    if (!d->x.defined() || d->x.numel() == 0) continue;
    if (auto bad = torch::isfinite(d->x).logical_not(); bad.any().item<bool>()) {
      const auto first = bad.flatten().nonzero()[0][0].item<int64_t>();
      const int64_t C = d->x.size(1), L = d->x.size(2);
      throw OptionError("data", " '" + spec.text + "': the " + name + " split holds " +
                                  std::to_string(bad.sum().item<int64_t>()) +
                                  " NaN or infinite value(s) as float32, the first at series " +
                                  std::to_string(first / (C * L)) + ", channel " + std::to_string(first / L % C) +
                                  ", sample " + std::to_string(first % L) +
                                  " (0-based): a value beyond float32's range (about 3.4e38) or a corrupt gain in the source");
    }
    if (d->y.defined() && d->y.dim() == 1 && d->y.numel() > 0) {
      const int64_t K = static_cast<int64_t>(d->class_names.size());
      const int64_t lo = d->y.min().item<int64_t>(), hi = d->y.max().item<int64_t>();
      if (lo < -1 || hi >= K) {  // -1: unlabelled
        throw OptionError("data", " '" + spec.text + "': the " + name + " split has label index " +
                                    std::to_string(lo < -1 ? lo : hi) + " outside its " + std::to_string(K) + " classes");
      }
    }
  }
  return out;
}

namespace {
// The `path` option every file-based kind needs, or one error saying how to give it.
std::string required_path(OptionReader& opt, const DataSpec& spec) {
  auto path = opt.get<std::string>("path", "");
  if (path.empty()) {
    throw OptionError("data", " '" + spec.text + "': give the data set folder, e.g. " + spec.kind + ":DIR");
  }
  return path;
}

Splits load_raw(const DataSpec& spec, OptionReader& opt) {
  const auto split_seed = opt.get<uint64_t>("split_seed", 0);
  if (spec.kind == "synthetic") {
    SyntheticEcgOptions o;
    o.size(opt.get<int64_t>("size", o.size()))
        .length(opt.get<int64_t>("length", o.length()))
        .channels(opt.get<int64_t>("channels", o.channels()))
        .rate(opt.get<double>("rate", o.rate()))
        .noise(opt.get<double>("noise", o.noise()))
        .seed(opt.get<uint64_t>("seed", o.seed()));
    opt.reject_unknown();
    try {
      return stratified_split(make_synthetic_ecg(o), 0.15, 0.15, split_seed);
    } catch (const std::invalid_argument& e) {
      throw OptionError("data", " '" + spec.text + "': " + e.what());
    }
  }
  if (spec.kind == "ucr" || spec.kind == "uea") {
    const auto path = required_path(opt, spec);
    const auto val = opt.get<double>("val", 0.2);
    const auto missing = opt.get<std::string>("missing", "error");
    LengthOptions lengths;
    const auto unequal = opt.get<std::string>("unequal", "resample");
    lengths.length = opt.get<int64_t>("length", 0);
    opt.reject_unknown();
    if (!(val > 0 && val < 1)) throw OptionError("data", " '" + spec.text + "': val must be in (0, 1)");
    if (lengths.length < 0 || lengths.length > (int64_t{1} << 24)) {
      throw OptionError("data", " '" + spec.text + "': length must be in [1, 2^24] (0: from the training file)");
    }
    MissingValues policy;
    try {
      policy = parse_missing_values(missing);
      lengths.unequal = parse_unequal_lengths(unequal);
    } catch (const std::invalid_argument& e) {
      throw OptionError("data", " '" + spec.text + "': " + e.what());
    }
    auto [train, test] =
        spec.kind == "ucr" ? read_ucr_archive(path, policy, lengths) : read_uea_archive(path, policy, lengths);
    // The archive's test split stays the test split; validation comes out of TRAIN.
    auto inner = stratified_split(train, val, 0.0, split_seed);
    return {inner.train, inner.val, test};
  }
  if (spec.kind == "apnea-ecg") {
    ApneaEcgOptions o;
    o.root = required_path(opt, spec);
    o.val_records = opt.get<int64_t>("val_records", o.val_records);
    o.seed = split_seed;
    opt.reject_unknown();
    return build_apnea_ecg(o);
  }
  if (spec.kind == "ptb-xl") {
    PtbXlOptions o;
    o.root = required_path(opt, spec);
    o.database = opt.get<std::string>("database", o.database);
    opt.reject_unknown();
    return build_ptbxl(o);
  }
  if (spec.kind == "sleep-edf") {
    SleepEdfOptions o;
    o.root = required_path(opt, spec);
    o.channel = opt.get<std::string>("channel", o.channel);
    o.val_subjects = opt.get<int64_t>("val_subjects", o.val_subjects);
    const auto subjects = opt.get<std::string>("subjects", "");
    if (!subjects.empty()) o.subjects = parse_subjects(subjects);
    o.seed = split_seed;
    opt.reject_unknown();
    return build_sleep_edf(o);
  }
  if (spec.kind == "pamap2") {
    Pamap2Options o;
    o.root = required_path(opt, spec);
    const auto activities = opt.get<int64_t>("activities", 12);
    opt.reject_unknown();
    if (activities == 11) {
      o.activities.pop_back();  // ViewMaker's set: without rope jumping
    } else if (activities != 12) {
      throw OptionError("data", " '" + spec.text + "': activities must be 12 (the paper's) or 11 (ViewMaker's)");
    }
    return build_pamap2(o);
  }
  if (spec.kind == "prepared") {
    const auto path = required_path(opt, spec);
    opt.reject_unknown();
    const auto why = prepared_staleness(path);
    if (!why.empty()) {
      throw OptionError("data", " '" + spec.text + "': the prepared data is stale (" + why +
                                  "); prepare it again with leaves prepare");
    }
    return load_prepared(path);
  }
  if (spec.kind == "arrays") {
    const auto x = opt.get<std::string>("x", "");
    const auto y = opt.get<std::string>("y", "");
    const auto val = opt.get<double>("val", 0.15);
    const auto test = opt.get<double>("test", 0.15);
    const auto header = parse_csv_header(opt.get<std::string>("header", "auto"), "--data '" + spec.text + "': header");
    opt.reject_unknown();
    if (x.empty() || y.empty()) {
      throw OptionError("data", " '" + spec.text + "': give the series and labels files: arrays:x=X.npy,y=Y.npy");
    }
    if (!(val > 0 && test > 0 && val + test < 1)) {
      throw OptionError("data", " '" + spec.text + "': need val > 0, test > 0 and val + test < 1");
    }
    return stratified_split(read_array_dataset(x, y, header), val, test, split_seed);
  }
  throw OptionError("data", " '" + spec.text + "': unknown data set kind '" + spec.kind +
                              "' (known: " + known_data_kinds() + ")");
}

}  // namespace

}  // namespace leaves::data
