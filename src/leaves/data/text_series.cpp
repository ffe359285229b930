#include "leaves/data/text_series.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <charconv>
#include <limits>
#include <fstream>
#include <map>
#include <sstream>
#include <stdexcept>

namespace leaves::data {

namespace fs = std::filesystem;

MissingValues parse_missing_values(const std::string& name) {
  if (name == "error") return MissingValues::Error;
  if (name == "interpolate") return MissingValues::Interpolate;
  throw std::invalid_argument("missing must be 'error' or 'interpolate', got '" + name + "'");
}

namespace {

[[noreturn]] void fail(const fs::path& file, size_t line, const std::string& what) {
  throw std::invalid_argument(file.string() + ":" + std::to_string(line) + ": " + what);
}

std::vector<std::string> split(const std::string& s, const std::string& separators) {
  std::vector<std::string> out;
  size_t start = 0;
  while (true) {
    const auto end = s.find_first_of(separators, start);
    out.push_back(s.substr(start, end == std::string::npos ? std::string::npos : end - start));
    if (end == std::string::npos) break;
    start = end + 1;
  }
  return out;
}

// A number, or NaN for a missing-value token; anything else is an error.
double parse_value(const std::string& token, const fs::path& file, size_t line, bool question_mark_missing) {
  const std::string t = trim(token);
  if (question_mark_missing && t == "?") return std::nan("");
  if (t.empty()) fail(file, line, "empty value");
  char* end = nullptr;
  const double v = std::strtod(t.c_str(), &end);
  if (end != t.c_str() + t.size()) fail(file, line, "'" + t + "' is not a number");
  if (std::isinf(v)) fail(file, line, "infinite value '" + t + "'");
  if (std::fabs(v) > static_cast<double>(std::numeric_limits<float>::max())) {
    fail(file, line, "value '" + t + "' is beyond float32's range (about 3.4e38)");
  }
  return v;
}

// Fills NaN gaps of one series in place, or reports them.
void handle_missing(std::vector<double>& v, MissingValues policy, const fs::path& file, size_t line) {
  std::vector<size_t> known;
  for (size_t i = 0; i < v.size(); ++i)
    if (!std::isnan(v[i])) known.push_back(i);
  if (known.size() == v.size()) return;
  if (policy == MissingValues::Error) {
    fail(file, line,
         std::to_string(v.size() - known.size()) +
             " missing value(s) (NaN or ?); pass missing=interpolate in the data spec to fill them linearly");
  }
  if (known.empty()) fail(file, line, "a series with no values at all");
  for (size_t i = 0; i < v.size(); ++i) {
    if (!std::isnan(v[i])) continue;
    auto hi = std::upper_bound(known.begin(), known.end(), i);
    if (hi == known.begin()) {
      v[i] = v[*hi];
    } else if (hi == known.end()) {
      v[i] = v[*(hi - 1)];
    } else {
      const size_t a = *(hi - 1), b = *hi;
      v[i] = v[a] + (v[b] - v[a]) * double(i - a) / double(b - a);
    }
  }
}

Dataset assemble(const std::vector<std::vector<std::vector<double>>>& cases, const std::vector<int64_t>& labels,
                 std::vector<std::string> class_names, const fs::path& file) {
  if (cases.empty()) throw std::invalid_argument(file.string() + ": no data lines");
  const int64_t N = static_cast<int64_t>(cases.size()), C = static_cast<int64_t>(cases[0].size()),
                L = static_cast<int64_t>(cases[0][0].size());
  auto x = torch::empty({N, C, L}, torch::kFloat);
  auto a = x.accessor<float, 3>();
  for (int64_t n = 0; n < N; ++n)
    for (int64_t c = 0; c < C; ++c)
      for (int64_t t = 0; t < L; ++t) a[n][c][t] = static_cast<float>(cases[n][c][t]);
  Dataset d;
  d.x = x;
  d.y = torch::tensor(labels, torch::kLong);
  d.class_names = std::move(class_names);
  for (int64_t c = 0; c < C; ++c) d.channel_names.push_back(C == 1 ? "value" : "dim" + std::to_string(c));
  d.name = file.stem().string();
  return d;
}

std::ifstream open(const fs::path& file) {
  std::ifstream in(file);
  if (!in) throw std::invalid_argument(file.string() + ": cannot open the file");
  return in;
}

// The shortest text that reads back as exactly `v` (1234567, 1.0000001).
std::string format_label(double v) {
  char buf[64];
  const auto r = std::to_chars(buf, buf + sizeof buf, v);
  return std::string(buf, r.ptr);
}

}  // namespace

Dataset read_ucr_file(const fs::path& file, MissingValues missing, std::vector<double> class_labels) {
  auto in = open(file);
  std::vector<std::vector<std::vector<double>>> cases;
  std::vector<double> raw_labels;
  std::string text;
  size_t line = 0, length = 0;
  while (std::getline(in, text)) {
    ++line;
    if (trim(text).empty()) continue;
    auto fields = split(trim(text), text.find('\t') != std::string::npos ? "\t" : ",");
    if (fields.size() < 2) fail(file, line, "expected a label and at least one value");
    raw_labels.push_back(parse_value(fields[0], file, line, false));
    if (std::isnan(raw_labels.back())) fail(file, line, "the class label is NaN");
    std::vector<double> v;
    v.reserve(fields.size() - 1);
    for (size_t i = 1; i < fields.size(); ++i) v.push_back(parse_value(fields[i], file, line, false));
    if (length == 0) length = v.size();
    if (v.size() != length) {
      fail(file, line, "has " + std::to_string(v.size()) + " values, the first case has " + std::to_string(length) +
                           " (unequal lengths are not supported)");
    }
    handle_missing(v, missing, file, line);
    cases.push_back({std::move(v)});
  }
  if (class_labels.empty()) {
    class_labels = raw_labels;
    std::sort(class_labels.begin(), class_labels.end());
    class_labels.erase(std::unique(class_labels.begin(), class_labels.end()), class_labels.end());
  }
  std::vector<int64_t> y;
  for (size_t i = 0; i < raw_labels.size(); ++i) {
    auto it = std::find(class_labels.begin(), class_labels.end(), raw_labels[i]);
    if (it == class_labels.end()) {
      throw std::invalid_argument(file.string() + ": label " + format_label(raw_labels[i]) +
                                  " does not occur in the training file");
    }
    y.push_back(it - class_labels.begin());
  }
  std::vector<std::string> names;
  for (double v : class_labels) names.push_back(format_label(v));
  return assemble(cases, y, names, file);
}

Dataset read_uea_file(const fs::path& file, MissingValues missing) {
  auto in = open(file);
  std::vector<std::string> class_names;
  bool in_data = false, class_label = false;
  int64_t dimensions = -1;
  std::vector<std::vector<std::vector<double>>> cases;
  std::vector<int64_t> labels;
  std::string text;
  size_t line = 0, length = 0;
  while (std::getline(in, text)) {
    ++line;
    const std::string t = trim(text);
    if (t.empty() || t[0] == '#') continue;
    if (!in_data) {
      if (t[0] != '@') fail(file, line, "expected a @tag header line or @data before the data");
      std::istringstream words(t);
      std::string tag;
      words >> tag;
      std::transform(tag.begin(), tag.end(), tag.begin(), ::tolower);
      std::string value;
      words >> value;
      std::transform(value.begin(), value.end(), value.begin(), ::tolower);
      if (tag == "@data") {
        in_data = true;
      } else if (tag == "@timestamps" && value == "true") {
        fail(file, line, "time-stamped series are not supported");
      } else if (tag == "@dimensions") {
        dimensions = std::atoll(value.c_str());
        if (dimensions < 1) fail(file, line, "@dimensions must be a positive integer");
      } else if (tag == "@classlabel") {
        class_label = value == "true";
        std::string name;
        while (words >> name) class_names.push_back(name);
        if (class_label && class_names.empty()) fail(file, line, "@classLabel true without any class names");
      }
      continue;
    }
    if (!class_label) fail(file, line, "the header declares no class labels (@classLabel true ...)");
    auto parts = split(t, ":");
    if (parts.size() < 2) fail(file, line, "expected DIM1:...:DIMd:LABEL");
    const std::string label = trim(parts.back());
    parts.pop_back();
    if (dimensions > 0 && static_cast<int64_t>(parts.size()) != dimensions) {
      fail(file, line, "has " + std::to_string(parts.size()) + " dimensions, the header says " +
                           std::to_string(dimensions));
    }
    if (!cases.empty() && parts.size() != cases[0].size()) fail(file, line, "a different number of dimensions");
    auto it = std::find(class_names.begin(), class_names.end(), label);
    if (it == class_names.end()) fail(file, line, "label '" + label + "' is not declared in @classLabel");
    std::vector<std::vector<double>> dims;
    for (const auto& p : parts) {
      std::vector<double> v;
      for (const auto& tok : split(p, ",")) v.push_back(parse_value(tok, file, line, true));
      if (length == 0) length = v.size();
      if (v.size() != length) {
        fail(file, line, "a dimension has " + std::to_string(v.size()) + " values, the first has " +
                             std::to_string(length) + " (unequal lengths are not supported)");
      }
      handle_missing(v, missing, file, line);
      dims.push_back(std::move(v));
    }
    cases.push_back(std::move(dims));
    labels.push_back(it - class_names.begin());
  }
  if (!in_data) throw std::invalid_argument(file.string() + ": no @data section");
  return assemble(cases, labels, class_names, file);
}

namespace {
fs::path member(const fs::path& dir, const std::string& suffix) {
  auto name = fs::path(dir).lexically_normal();
  if (name.filename().empty()) name = name.parent_path();
  auto file = dir / (name.filename().string() + suffix);
  if (!fs::exists(file)) throw std::invalid_argument(file.string() + ": not found");
  return file;
}
}  // namespace

std::pair<Dataset, Dataset> read_ucr_archive(const fs::path& dir, MissingValues missing) {
  auto train = read_ucr_file(member(dir, "_TRAIN.tsv"), missing);
  std::vector<double> labels;
  for (const auto& n : train.class_names) labels.push_back(std::stod(n));
  auto test = read_ucr_file(member(dir, "_TEST.tsv"), missing, labels);
  if (test.length() != train.length()) {
    throw std::invalid_argument(member(dir, "_TEST.tsv").string() + ": its series have " + std::to_string(test.length()) +
                                " values, the training file's " + std::to_string(train.length()));
  }
  return {train, test};
}

std::pair<Dataset, Dataset> read_uea_archive(const fs::path& dir, MissingValues missing) {
  auto train = read_uea_file(member(dir, "_TRAIN.ts"), missing);
  auto test = read_uea_file(member(dir, "_TEST.ts"), missing);
  if (test.class_names != train.class_names || test.channels() != train.channels() ||
      test.length() != train.length()) {
    throw std::invalid_argument(member(dir, "_TEST.ts").string() + ": disagrees with the training file on classes, " +
                                "dimensions (" + std::to_string(test.channels()) + " against " +
                                std::to_string(train.channels()) + ") or length (" + std::to_string(test.length()) +
                                " against " + std::to_string(train.length()) + ")");
  }
  return {train, test};
}

}  // namespace leaves::data
