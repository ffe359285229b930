#include "leaves/data/text_series.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <charconv>
#include <limits>
#include <fstream>
#include <iostream>
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

// Drops the archives' padding (missing values at the end of a series), then
// fills NaN gaps in place, or reports them.
void handle_missing(std::vector<double>& v, MissingValues policy, const fs::path& file, size_t line) {
  while (!v.empty() && std::isnan(v.back())) v.pop_back();
  if (v.empty()) fail(file, line, "a series with no values at all");
  std::vector<size_t> known;
  for (size_t i = 0; i < v.size(); ++i)
    if (!std::isnan(v[i])) known.push_back(i);
  if (known.size() == v.size()) return;
  if (policy == MissingValues::Error) {
    fail(file, line,
         std::to_string(v.size() - known.size()) +
             " missing value(s) (NaN or ?); pass missing=interpolate in the data spec to fill them linearly");
  }
  for (size_t i = 0; i < v.size(); ++i) {
    if (!std::isnan(v[i])) continue;
    auto hi = std::upper_bound(known.begin(), known.end(), i);
    if (hi == known.begin()) {
      v[i] = v[*hi];
    } else {
      const size_t a = *(hi - 1), b = *hi;
      v[i] = v[a] + (v[b] - v[a]) * double(i - a) / double(b - a);
    }
  }
}

// A file's cases before they share one length: [case][dimension][value].
struct Ragged {
  std::vector<std::vector<std::vector<double>>> cases;
  std::vector<size_t> lines;  // each case's line, for messages
  std::vector<int64_t> labels;
  std::vector<std::string> class_names;
  fs::path file;
};

// The dimensions of one case must agree in length.
void check_case(const std::vector<std::vector<double>>& dims, const fs::path& file, size_t line) {
  for (const auto& d : dims) {
    if (d.size() != dims[0].size()) {
      fail(file, line, "its dimensions have " + std::to_string(dims[0].size()) + " and " + std::to_string(d.size()) +
                           " values (the dimensions of one case must have the same length)");
    }
  }
}

std::pair<size_t, size_t> length_range(const Ragged& r) {
  size_t lo = std::numeric_limits<size_t>::max(), hi = 0;
  for (const auto& c : r.cases) lo = std::min(lo, c[0].size()), hi = std::max(hi, c[0].size());
  return {lo, hi};
}

// The common length of a set whose training file is `train`.
size_t target_length(const Ragged& train, const LengthOptions& o) {
  if (o.length > 0) return static_cast<size_t>(o.length);
  const auto [lo, hi] = length_range(train);
  return o.unequal == UnequalLengths::Truncate ? lo : hi;
}

std::vector<double> to_length(const std::vector<double>& v, size_t L, UnequalLengths how) {
  if (v.size() == L) return v;
  std::vector<double> out(L);
  if (how == UnequalLengths::Resample) {
    for (size_t t = 0; t < L; ++t) {
      const double pos = L == 1 ? 0.0 : double(t) * double(v.size() - 1) / double(L - 1);
      const size_t i0 = std::min(static_cast<size_t>(pos), v.size() - 1), i1 = std::min(i0 + 1, v.size() - 1);
      out[t] = v[i0] + (v[i1] - v[i0]) * (pos - double(i0));
    }
  } else {  // pad with the last value, or cut
    for (size_t t = 0; t < L; ++t) out[t] = v[std::min(t, v.size() - 1)];
  }
  return out;
}

const char* policy_name(UnequalLengths u) {
  switch (u) {
    case UnequalLengths::Resample: return "resample";
    case UnequalLengths::Pad: return "pad";
    case UnequalLengths::Truncate: return "truncate";
    default: return "error";
  }
}

// Brings every case to length L (see the header), says so once, and builds the tensors.
Dataset assemble(Ragged r, size_t L, const LengthOptions& o) {
  if (r.cases.empty()) throw std::invalid_argument(r.file.string() + ": no data lines");
  const auto [lo, hi] = length_range(r);
  if (lo != L || hi != L) {
    if (o.unequal == UnequalLengths::Error) {
      size_t i = 0;
      while (r.cases[i][0].size() == L) ++i;
      fail(r.file, r.lines[i], "has " + std::to_string(r.cases[i][0].size()) + " values, the first case has " +
                                   std::to_string(L) + " (unequal lengths: pass unequal=resample, pad or truncate)");
    }
    const auto how = o.unequal == UnequalLengths::Truncate ? UnequalLengths::Pad : o.unequal;
    std::cerr << "leaves: note: " << r.file.string() << ": series of " << lo << (lo == hi ? "" : " to " + std::to_string(hi))
              << " values " << (how == UnequalLengths::Resample ? "resampled linearly" : "padded with their last value or cut")
              << " to " << L << " (unequal=" << policy_name(o.unequal)
              << (o.length > 0 ? ", length=" + std::to_string(o.length) : "") << ")\n";
    for (auto& c : r.cases)
      for (auto& d : c) d = to_length(d, L, how);
  }
  const int64_t N = static_cast<int64_t>(r.cases.size()), C = static_cast<int64_t>(r.cases[0].size()),
                T = static_cast<int64_t>(L);
  auto x = torch::empty({N, C, T}, torch::kFloat);
  auto a = x.accessor<float, 3>();
  for (int64_t n = 0; n < N; ++n)
    for (int64_t c = 0; c < C; ++c)
      for (int64_t t = 0; t < T; ++t) a[n][c][t] = static_cast<float>(r.cases[n][c][t]);
  Dataset d;
  d.x = x;
  d.y = torch::tensor(r.labels, torch::kLong);
  d.class_names = std::move(r.class_names);
  for (int64_t c = 0; c < C; ++c) d.channel_names.push_back(C == 1 ? "value" : "dim" + std::to_string(c));
  d.name = r.file.stem().string();
  return d;
}

Dataset assemble(Ragged r, const LengthOptions& o) {
  if (r.cases.empty()) throw std::invalid_argument(r.file.string() + ": no data lines");
  const size_t L = target_length(r, o);
  return assemble(std::move(r), L, o);
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

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::tolower(c); });
  return s;
}

std::string unquote(std::string s) {
  s = trim(s);
  if (s.size() >= 2 && (s.front() == '\'' || s.front() == '"') && s.back() == s.front()) s = s.substr(1, s.size() - 2);
  return s;
}

}  // namespace

namespace {

Ragged read_ucr_ragged(const fs::path& file, MissingValues missing, std::vector<double> class_labels) {
  auto in = open(file);
  Ragged r;
  r.file = file;
  std::vector<double> raw_labels;
  std::string text;
  size_t line = 0;
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
    handle_missing(v, missing, file, line);
    r.cases.push_back({std::move(v)});
    r.lines.push_back(line);
  }
  if (class_labels.empty()) {
    class_labels = raw_labels;
    std::sort(class_labels.begin(), class_labels.end());
    class_labels.erase(std::unique(class_labels.begin(), class_labels.end()), class_labels.end());
  }
  for (size_t i = 0; i < raw_labels.size(); ++i) {
    auto it = std::find(class_labels.begin(), class_labels.end(), raw_labels[i]);
    if (it == class_labels.end()) {
      throw std::invalid_argument(file.string() + ": label " + format_label(raw_labels[i]) +
                                  " does not occur in the training file");
    }
    r.labels.push_back(it - class_labels.begin());
  }
  for (double v : class_labels) r.class_names.push_back(format_label(v));
  return r;
}

Ragged read_uea_ragged(const fs::path& file, MissingValues missing) {
  auto in = open(file);
  Ragged r;
  r.file = file;
  bool in_data = false, class_label = false;
  int64_t dimensions = -1;
  std::string text;
  size_t line = 0;
  while (std::getline(in, text)) {
    ++line;
    const std::string t = trim(text);
    if (t.empty() || t[0] == '#') continue;
    if (!in_data) {
      if (t[0] != '@') fail(file, line, "expected a @tag header line or @data before the data");
      std::istringstream words(t);
      std::string tag, value;
      words >> tag >> value;
      tag = lower(tag);
      value = lower(value);
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
        while (words >> name) r.class_names.push_back(name);
        if (class_label && r.class_names.empty()) fail(file, line, "@classLabel true without any class names");
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
    if (!r.cases.empty() && parts.size() != r.cases[0].size()) fail(file, line, "a different number of dimensions");
    auto it = std::find(r.class_names.begin(), r.class_names.end(), label);
    if (it == r.class_names.end()) fail(file, line, "label '" + label + "' is not declared in @classLabel");
    std::vector<std::vector<double>> dims;
    for (const auto& p : parts) {
      std::vector<double> v;
      for (const auto& tok : split(p, ",")) v.push_back(parse_value(tok, file, line, true));
      handle_missing(v, missing, file, line);
      dims.push_back(std::move(v));
    }
    check_case(dims, file, line);
    r.cases.push_back(std::move(dims));
    r.lines.push_back(line);
    r.labels.push_back(it - r.class_names.begin());
  }
  if (!in_data) throw std::invalid_argument(file.string() + ": no @data section");
  return r;
}

// The last comma outside quotes (where an ARFF row's label starts).
size_t last_separator(const std::string& t) {
  char quote = 0;
  size_t at = std::string::npos;
  for (size_t i = 0; i < t.size(); ++i) {
    const char c = t[i];
    if (quote) {
      if (c == '\\' && i + 1 < t.size()) {
        ++i;
      } else if (c == quote) {
        quote = 0;
      }
    } else if (c == '\'' || c == '"') {
      quote = c;
    } else if (c == ',') {
      at = i;
    }
  }
  return at;
}

Ragged read_arff_ragged(const fs::path& file, MissingValues missing) {
  auto in = open(file);
  Ragged r;
  r.file = file;
  bool in_data = false, relational = false, inside_relational = false, have_class = false;
  int64_t numeric = 0;
  std::string text;
  size_t line = 0;
  while (std::getline(in, text)) {
    ++line;
    const std::string t = trim(text);
    if (t.empty() || t[0] == '%') continue;
    if (!in_data) {
      if (t[0] != '@') fail(file, line, "expected an @relation, @attribute or @data line before the data");
      std::istringstream words(t);
      std::string tag;
      words >> tag;
      tag = lower(tag);
      if (tag == "@data") {
        in_data = true;
        if (!have_class) fail(file, line, "no nominal class attribute ({a,b,...}) before @data");
        if (numeric == 0) fail(file, line, "no numeric attribute before @data");
      } else if (tag == "@end") {
        inside_relational = false;
      } else if (tag == "@attribute") {
        const auto brace = t.find('{');
        if (have_class && !inside_relational) fail(file, line, "an attribute after the class attribute (it must come last)");
        if (brace != std::string::npos) {
          const auto close = t.rfind('}');
          if (close == std::string::npos || close < brace) fail(file, line, "a nominal attribute without its closing }");
          for (const auto& name : split(t.substr(brace + 1, close - brace - 1), ",")) r.class_names.push_back(unquote(name));
          if (r.class_names.empty()) fail(file, line, "a class attribute without classes");
          have_class = true;
          continue;
        }
        std::string name, type;
        words >> name >> type;
        type = lower(type);
        if (type == "relational") {
          relational = inside_relational = true;
        } else if (type == "numeric" || type == "real" || type == "integer") {
          ++numeric;
        } else {
          fail(file, line, "attribute type '" + type + "' is not numeric, relational or nominal {...}");
        }
      }
      continue;
    }
    const auto comma = last_separator(t);
    if (comma == std::string::npos) fail(file, line, "expected the values, then the class label");
    const std::string label = unquote(t.substr(comma + 1));
    auto it = std::find(r.class_names.begin(), r.class_names.end(), label);
    if (it == r.class_names.end()) fail(file, line, "label '" + label + "' is not one of the class attribute's");
    std::vector<std::vector<double>> dims;
    if (relational) {
      std::string body = trim(t.substr(0, comma));
      if (body.size() < 2 || (body.front() != '\'' && body.front() != '"') || body.back() != body.front()) {
        fail(file, line, "a relational row must be a quoted string of dimensions separated by \\n");
      }
      body = body.substr(1, body.size() - 2);
      size_t from = 0;
      while (true) {
        const auto sep = body.find("\\n", from);
        std::vector<double> v;
        for (const auto& tok : split(body.substr(from, sep == std::string::npos ? std::string::npos : sep - from), ","))
          v.push_back(parse_value(tok, file, line, true));
        handle_missing(v, missing, file, line);
        dims.push_back(std::move(v));
        if (sep == std::string::npos) break;
        from = sep + 2;
      }
    } else {
      std::vector<double> v;
      for (const auto& tok : split(t.substr(0, comma), ",")) v.push_back(parse_value(tok, file, line, true));
      if (static_cast<int64_t>(v.size()) != numeric) {
        fail(file, line, "has " + std::to_string(v.size()) + " values, the header declares " + std::to_string(numeric));
      }
      handle_missing(v, missing, file, line);
      dims.push_back(std::move(v));
    }
    if (!r.cases.empty() && dims.size() != r.cases[0].size()) fail(file, line, "a different number of dimensions");
    check_case(dims, file, line);
    r.cases.push_back(std::move(dims));
    r.lines.push_back(line);
    r.labels.push_back(it - r.class_names.begin());
  }
  if (!in_data) throw std::invalid_argument(file.string() + ": no @data section");
  return r;
}

}  // namespace

UnequalLengths parse_unequal_lengths(const std::string& name) {
  if (name == "resample") return UnequalLengths::Resample;
  if (name == "pad") return UnequalLengths::Pad;
  if (name == "truncate") return UnequalLengths::Truncate;
  if (name == "error") return UnequalLengths::Error;
  throw std::invalid_argument("unequal must be resample, pad, truncate or error, got '" + name + "'");
}

Dataset read_ucr_file(const fs::path& file, MissingValues missing, std::vector<double> class_labels,
                      const LengthOptions& lengths) {
  return assemble(read_ucr_ragged(file, missing, std::move(class_labels)), lengths);
}

Dataset read_uea_file(const fs::path& file, MissingValues missing, const LengthOptions& lengths) {
  return assemble(read_uea_ragged(file, missing), lengths);
}

Dataset read_arff_file(const fs::path& file, MissingValues missing, const LengthOptions& lengths) {
  return assemble(read_arff_ragged(file, missing), lengths);
}

namespace {
std::string folder_name(const fs::path& dir) {
  auto name = fs::path(dir).lexically_normal();
  if (name.filename().empty()) name = name.parent_path();
  return name.filename().string();
}

fs::path member(const fs::path& dir, const std::string& suffix) {
  auto file = dir / (folder_name(dir) + suffix);
  if (!fs::exists(file)) throw std::invalid_argument(file.string() + ": not found");
  return file;
}

// One length for both files, from the training file.
std::pair<Dataset, Dataset> assemble_pair(Ragged train, Ragged test, const LengthOptions& o) {
  if (train.cases.empty()) throw std::invalid_argument(train.file.string() + ": no data lines");
  const size_t L = target_length(train, o);
  return {assemble(std::move(train), L, o), assemble(std::move(test), L, o)};
}

// The per-dimension ARFF files of one split: NAMEDimension1_SPLIT.arff, ...
Ragged read_arff_dimensions(const fs::path& dir, const std::string& split_name, MissingValues missing) {
  Ragged all;
  for (int d = 1;; ++d) {
    const auto file = dir / (folder_name(dir) + "Dimension" + std::to_string(d) + "_" + split_name + ".arff");
    if (!fs::exists(file)) {
      if (d == 1) throw std::invalid_argument(file.string() + ": not found");
      break;
    }
    auto r = read_arff_ragged(file, missing);
    if (d == 1) {
      all = std::move(r);
      continue;
    }
    if (r.cases.size() != all.cases.size() || r.labels != all.labels || r.class_names != all.class_names) {
      throw std::invalid_argument(file.string() + ": its cases or labels differ from " + all.file.string() +
                                  "'s (the files of one split must hold the same cases in the same order)");
    }
    for (size_t i = 0; i < r.cases.size(); ++i) {
      all.cases[i].push_back(std::move(r.cases[i][0]));
      check_case(all.cases[i], file, r.lines[i]);
    }
  }
  return all;
}
}  // namespace

std::pair<Dataset, Dataset> read_ucr_archive(const fs::path& dir, MissingValues missing, const LengthOptions& lengths) {
  auto train = read_ucr_ragged(member(dir, "_TRAIN.tsv"), missing, {});
  std::vector<double> labels;
  for (const auto& n : train.class_names) labels.push_back(std::stod(n));
  auto test = read_ucr_ragged(member(dir, "_TEST.tsv"), missing, labels);
  return assemble_pair(std::move(train), std::move(test), lengths);
}

std::pair<Dataset, Dataset> read_uea_archive(const fs::path& dir, MissingValues missing, const LengthOptions& lengths) {
  const auto name = folder_name(dir);
  Ragged train, test;
  if (fs::exists(dir / (name + "_TRAIN.ts"))) {
    train = read_uea_ragged(member(dir, "_TRAIN.ts"), missing);
    test = read_uea_ragged(member(dir, "_TEST.ts"), missing);
  } else if (fs::exists(dir / (name + "_TRAIN.arff"))) {
    train = read_arff_ragged(member(dir, "_TRAIN.arff"), missing);
    test = read_arff_ragged(member(dir, "_TEST.arff"), missing);
  } else if (fs::exists(dir / (name + "Dimension1_TRAIN.arff"))) {
    train = read_arff_dimensions(dir, "TRAIN", missing);
    test = read_arff_dimensions(dir, "TEST", missing);
  } else {
    throw std::invalid_argument((dir / (name + "_TRAIN.ts")).string() + ": not found, nor " + name + "_TRAIN.arff or " +
                                name + "Dimension1_TRAIN.arff beside it");
  }
  if (test.class_names != train.class_names || (!test.cases.empty() && !train.cases.empty() &&
                                                test.cases[0].size() != train.cases[0].size())) {
    throw std::invalid_argument(test.file.string() + ": disagrees with the training file on classes or dimensions (" +
                                std::to_string(test.cases.empty() ? 0 : test.cases[0].size()) + " against " +
                                std::to_string(train.cases.empty() ? 0 : train.cases[0].size()) + ")");
  }
  return assemble_pair(std::move(train), std::move(test), lengths);
}

}  // namespace leaves::data
