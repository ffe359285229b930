#include "leaves/data/tables.h"
#include "leaves/io/output.h"

#include <cctype>
#include <charconv>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iomanip>
#include <limits>
#include <iostream>
#include <map>
#include <sstream>
#include <stdexcept>

namespace leaves::data {

namespace fs = std::filesystem;

namespace {

[[noreturn]] void reject(const fs::path& file, const std::string& where, const std::string& what) {
  throw std::invalid_argument(file.string() + (where.empty() ? "" : ":" + where) + ": " + what);
}

std::ifstream open_text(const fs::path& file) {
  std::ifstream in(file);
  if (!in) reject(file, "", "cannot open the file");
  return in;
}

bool to_double(const std::string& token, double& v) {
  const std::string t = trim(token);
  if (t.empty()) return false;
  char* end = nullptr;
  v = std::strtod(t.c_str(), &end);  // accepts "NaN"
  return end == t.c_str() + t.size();
}

}  // namespace

// ---------------------------------------------------------------------------
// PAMAP2

std::vector<std::string> Pamap2Recording::channel_names() {
  std::vector<std::string> names{"heart_rate"};
  const char* imu_columns[17] = {"temperature", "acc16_x", "acc16_y", "acc16_z", "acc6_x",    "acc6_y",
                                 "acc6_z",      "gyro_x",  "gyro_y",  "gyro_z",  "mag_x",     "mag_y",
                                 "mag_z",       "orient_w", "orient_x", "orient_y", "orient_z"};
  for (const char* place : {"hand", "chest", "ankle"})
    for (const char* c : imu_columns) names.push_back(std::string(place) + "_" + c);
  return names;
}

std::string pamap2_activity_name(int id) {
  static const std::map<int, std::string> names{
      {0, "other"},           {1, "lying"},          {2, "sitting"},           {3, "standing"},
      {4, "walking"},         {5, "running"},        {6, "cycling"},           {7, "Nordic walking"},
      {9, "watching TV"},     {10, "computer work"}, {11, "car driving"},      {12, "ascending stairs"},
      {13, "descending stairs"}, {16, "vacuum cleaning"}, {17, "ironing"},     {18, "folding laundry"},
      {19, "house cleaning"}, {20, "playing soccer"}, {24, "rope jumping"}};
  auto it = names.find(id);
  if (it == names.end()) throw std::invalid_argument("unknown PAMAP2 activity id " + std::to_string(id));
  return it->second;
}

// strtod on one whitespace-free token (accepts "NaN", as the files write it).
static bool token_to_double(const char* begin, const char* end, double& v) {
  // from_chars: locale-free and several times faster than strtod; it accepts
  // "NaN" too, but not a leading '+', which falls back to strtod below.
  const auto parsed = std::from_chars(begin, end, v);
  if (parsed.ec == std::errc() && parsed.ptr == end) return true;
  char buf[64];
  const size_t n = static_cast<size_t>(end - begin);
  if (n == 0 || n >= sizeof buf) return false;
  std::memcpy(buf, begin, n);
  buf[n] = '\0';
  char* stop = nullptr;
  v = std::strtod(buf, &stop);
  return stop == buf + n;
}

Pamap2Recording read_pamap2(const fs::path& file) {
  auto in = open_text(file);
  std::vector<double> time;
  std::vector<int64_t> activity;
  std::vector<float> values;  // row-major [T, 52]
  std::string text;
  size_t line = 0;
  // Tokens of the current line as [begin, end) pointers: no allocation per row.
  std::vector<std::pair<const char*, const char*>> f;
  f.reserve(64);
  while (std::getline(in, text)) {
    ++line;
    f.clear();
    for (const char *p = text.data(), *end = p + text.size(); p < end;) {
      while (p < end && std::isspace(static_cast<unsigned char>(*p))) ++p;
      const char* q = p;
      while (q < end && !std::isspace(static_cast<unsigned char>(*q))) ++q;
      if (q > p) f.emplace_back(p, q);
      p = q;
    }
    if (f.empty()) continue;
    auto word = [&](size_t c) { return std::string(f[c].first, f[c].second); };
    auto at = [&] { return std::to_string(line); };
    if (f.size() != 54) reject(file, at(), "expected 54 columns, found " + std::to_string(f.size()));
    double t = 0, a = 0;
    if (!token_to_double(f[0].first, f[0].second, t) || !std::isfinite(t)) {
      reject(file, at(), "timestamp '" + word(0) + "' is not a finite number");
    }
    if (!time.empty() && !(t > time.back())) reject(file, at(), "timestamps must increase");
    if (!token_to_double(f[1].first, f[1].second, a) || a != std::floor(a) || !(a >= 0 && a <= 1000)) {
      reject(file, at(), "activity id '" + word(1) + "' is not an integer in [0, 1000]");
    }
    if (activity.empty() || activity.back() != static_cast<int64_t>(a)) {
      try {
        pamap2_activity_name(static_cast<int>(a));
      } catch (const std::invalid_argument& e) {
        reject(file, at(), e.what());
      }
    }
    time.push_back(t);
    activity.push_back(static_cast<int64_t>(a));
    for (size_t c = 2; c < 54; ++c) {
      double v = 0;
      if (!token_to_double(f[c].first, f[c].second, v)) {
        reject(file, at(), "column " + std::to_string(c + 1) + ": '" + word(c) + "' is not a number");
      }
      // NaN marks a dropped sample (the PAMAP2 readme); infinity or a value
      // beyond float32 is a corrupt file.
      if (std::isinf(v) || std::fabs(v) > static_cast<double>(std::numeric_limits<float>::max())) {
        reject(file, at(), "column " + std::to_string(c + 1) + ": '" + word(c) + "' is beyond float32's range");
      }
      values.push_back(static_cast<float>(v));
    }
  }
  if (time.empty()) reject(file, "", "no data rows");
  const int64_t T = static_cast<int64_t>(time.size());
  Pamap2Recording r;
  r.time = torch::tensor(time, torch::kDouble);
  r.activity = torch::tensor(activity, torch::kLong);
  r.values = torch::from_blob(values.data(), {T, 52}, torch::kFloat).t().contiguous();
  return r;
}

// ---------------------------------------------------------------------------
// CSV

CsvHeader parse_csv_header(const std::string& text, const std::string& option) {
  if (text == "auto") return CsvHeader::Auto;
  if (text == "yes") return CsvHeader::Yes;
  if (text == "no") return CsvHeader::No;
  throw std::invalid_argument(option + ": expected auto, yes or no, got '" + text + "'");
}

torch::Tensor read_csv(const fs::path& file, CsvHeader header, bool* header_taken) {
  auto in = open_text(file);
  std::vector<float> cells;
  size_t columns = 0, rows = 0, line = 0;
  bool first = true;
  if (header_taken) *header_taken = false;
  std::string text;
  while (std::getline(in, text)) {
    ++line;
    if (trim(text).empty()) continue;
    const char sep = text.find('\t') != std::string::npos ? '\t' : text.find(';') != std::string::npos ? ';' : ',';
    std::vector<std::string> f;
    std::stringstream ss(text);
    for (std::string cell; std::getline(ss, cell, sep);) f.push_back(cell);
    const bool is_first = first;
    first = false;
    if (is_first && header == CsvHeader::Yes) {
      columns = f.size();
      if (header_taken) *header_taken = true;
      continue;
    }
    std::vector<double> row;
    size_t numbers = 0;
    std::string bad_cell;
    for (const auto& cell : f) {
      double v = 0;
      if (to_double(cell, v)) {
        ++numbers;
      } else if (bad_cell.empty()) {
        bad_cell = trim(cell);
      }
      row.push_back(v);
    }
    if (numbers != f.size()) {
      if (is_first && header == CsvHeader::Auto && numbers == 0) {  // every cell a name: a header row
        columns = f.size();
        if (header_taken) *header_taken = true;
        continue;
      }
      std::string cell = bad_cell.substr(0, 60);
      for (auto& c : cell)
        if (static_cast<unsigned char>(c) < 0x20) c = '?';
      reject(file, std::to_string(line),
             "a cell is not a number: '" + cell + "'" +
                 (is_first && header == CsvHeader::Auto ? " (a header row has no numbers; give header=yes in the data spec "
                                                         "if this row is one)"
                                                       : ""));
    }
    if (columns == 0) columns = row.size();
    if (row.size() != columns) {
      reject(file, std::to_string(line),
             "has " + std::to_string(row.size()) + " columns, expected " + std::to_string(columns));
    }
    for (double v : row) {
      if (std::isinf(v) || std::fabs(v) > static_cast<double>(std::numeric_limits<float>::max())) {
        reject(file, std::to_string(line), "a value is infinite or beyond float32's range (about 3.4e38)");
      }
      cells.push_back(static_cast<float>(v));
    }
    ++rows;
  }
  if (rows == 0) reject(file, "", "no numeric rows");
  return torch::tensor(cells, torch::kFloat).view({static_cast<int64_t>(rows), static_cast<int64_t>(columns)});
}

// ---------------------------------------------------------------------------
// NPY

void write_npy(const fs::path& file, const torch::Tensor& t) {
  static const std::map<torch::ScalarType, std::string> types{
      {torch::kFloat, "<f4"}, {torch::kDouble, "<f8"}, {torch::kLong, "<i8"}, {torch::kInt, "<i4"}};
  auto it = types.find(t.scalar_type());
  if (it == types.end()) throw std::invalid_argument(file.string() + ": only float32/float64/int32/int64 tensors are written");
  auto c = t.to(torch::kCPU).contiguous();
  std::string shape = "(";
  for (auto d : c.sizes()) shape += std::to_string(d) + ",";
  if (c.dim() > 1) shape.pop_back();
  shape += ")";
  std::string header = "{'descr': '" + it->second + "', 'fortran_order': False, 'shape': " + shape + ", }";
  // Magic (6) + version (2) + length (2) + header, padded with spaces to a
  // multiple of 64 and ended by a newline.
  const size_t total = ((10 + header.size() + 1 + 63) / 64) * 64;
  header.append(total - 10 - header.size() - 1, ' ');
  header.push_back('\n');
  io::write_file(file, [&](io::AtomicFile& out) {
    const uint16_t n = static_cast<uint16_t>(header.size());
    out.write("\x93NUMPY\x01\x00", 8);
    const char len[2] = {static_cast<char>(n & 0xFF), static_cast<char>(n >> 8)};
    out.write(len, 2);
    out.write(header);
    out.write(c.data_ptr(), static_cast<size_t>(c.numel() * c.element_size()));
  });
}

torch::Tensor read_npy(const fs::path& file) {
  std::ifstream in(file, std::ios::binary);
  if (!in) reject(file, "", "cannot open the file");
  char magic[8];
  if (!in.read(magic, 8) || std::memcmp(magic, "\x93NUMPY", 6) != 0) reject(file, "byte 0", "not a NumPy .npy file");
  const int major = static_cast<unsigned char>(magic[6]);
  uint32_t header_len = 0;
  unsigned char len[4] = {0, 0, 0, 0};
  if (major == 1) {
    if (!in.read(reinterpret_cast<char*>(len), 2)) reject(file, "byte 8", "truncated header");
    header_len = len[0] | (len[1] << 8);
  } else if (major == 2 || major == 3) {
    if (!in.read(reinterpret_cast<char*>(len), 4)) reject(file, "byte 8", "truncated header");
    header_len = len[0] | (len[1] << 8) | (len[2] << 16) | (static_cast<uint32_t>(len[3]) << 24);
  } else {
    reject(file, "byte 6", "unsupported .npy format version " + std::to_string(major));
  }
  // Checked against the file before allocating (fuzzing found a 4 GB header length).
  const auto header_start = static_cast<uintmax_t>(in.tellg());
  if (header_len > fs::file_size(file) - std::min<uintmax_t>(header_start, fs::file_size(file))) {
    reject(file, "byte 8", "the header length " + std::to_string(header_len) + " runs past the end of the file");
  }
  std::string header(header_len, '\0');
  if (!in.read(header.data(), header_len)) reject(file, "byte 10", "truncated header");
  auto value_of = [&](const std::string& key) {
    const auto k = header.find("'" + key + "'");
    if (k == std::string::npos) reject(file, "header", "no '" + key + "' entry");
    return header.substr(header.find(':', k) + 1);
  };
  const std::string descr_field = value_of("descr");
  const auto q1 = descr_field.find('\''), q2 = descr_field.find('\'', q1 + 1);
  const std::string descr = descr_field.substr(q1 + 1, q2 - q1 - 1);
  if (trim(value_of("fortran_order")).rfind("True", 0) == 0) {
    reject(file, "header", "Fortran-ordered arrays are not supported (save with numpy.ascontiguousarray)");
  }
  std::vector<int64_t> shape;
  {
    std::string s = value_of("shape");
    s = s.substr(s.find('(') + 1, s.find(')') - s.find('(') - 1);
    std::stringstream ss(s);
    for (std::string item; std::getline(ss, item, ',');) {
      const auto dim = trim(item);
      if (dim.empty()) continue;
      int64_t d = -1;
      const auto parsed = std::from_chars(dim.data(), dim.data() + dim.size(), d);
      if (parsed.ec != std::errc() || parsed.ptr != dim.data() + dim.size() || d < 0) {
        reject(file, "header", "shape entry '" + dim + "' is not a non-negative integer");
      }
      shape.push_back(d);
    }
  }
  static const std::map<std::string, std::pair<torch::Dtype, int>> types{
      {"<f4", {torch::kFloat, 4}}, {"<f8", {torch::kDouble, 8}}, {"<i4", {torch::kInt, 4}},
      {"<i8", {torch::kLong, 8}},  {"|u1", {torch::kByte, 1}},   {"|b1", {torch::kBool, 1}}};
  auto t = types.find(descr);
  if (t == types.end()) reject(file, "header", "dtype '" + descr + "' is not supported (little-endian f4/f8/i4/i8/u1/b1)");
  // The data must be exactly what the shape promises, checked before allocating.
  const auto data_start = static_cast<uintmax_t>(in.tellg());
  const uintmax_t available = fs::file_size(file) - std::min<uintmax_t>(data_start, fs::file_size(file));
  uintmax_t count = 1;
  for (auto d : shape) {
    if (d != 0 && count > available / static_cast<uintmax_t>(d)) {
      reject(file, "header", "the shape promises more data than the file holds (" + std::to_string(available) + " bytes)");
    }
    count *= static_cast<uintmax_t>(d);
  }
  const uintmax_t expected = count * static_cast<uintmax_t>(t->second.second);
  if (expected != available) {
    reject(file, "", "the shape promises " + std::to_string(expected) + " bytes of data, the file holds " +
                         std::to_string(available) + (expected > available ? " (truncated)" : " (trailing bytes)"));
  }
  auto out = torch::empty(shape, t->second.first);
  const auto bytes = static_cast<std::streamsize>(expected);
  if (!in.read(static_cast<char*>(out.data_ptr()), bytes)) {
    reject(file, "", "truncated: the header promises " + std::to_string(bytes) + " bytes of data");
  }
  return out;
}

// ---------------------------------------------------------------------------

namespace {
torch::Tensor read_any(const fs::path& file, CsvHeader header) {
  const auto ext = file.extension().string();
  if (ext == ".npy") return read_npy(file);
  if (ext == ".csv" || ext == ".tsv" || ext == ".txt") {
    bool taken = false;
    auto t = read_csv(file, header, &taken);
    if (taken && header == CsvHeader::Auto) {
      std::cerr << "leaves: note: " << file.string()
                << ": its first row has no numbers and was taken as a header (header=auto; give header=no or "
                   "header=yes in the data spec to decide)\n";
    }
    return t;
  }
  reject(file, "", "unknown array format (expected .npy or .csv)");
}
}  // namespace

Dataset read_array_dataset(const fs::path& series, const fs::path& labels, CsvHeader header) {
  auto x = read_any(series, header).to(torch::kFloat);
  if (x.dim() == 2) x = x.unsqueeze(1);
  if (x.dim() != 3) reject(series, "", "expected an [N, C, L] or [N, L] array");
  if (x.size(0) == 0 || x.size(2) == 0) reject(series, "", "holds no series (or series of no samples)");
  if (auto bad = torch::isfinite(x).logical_not(); bad.any().item<bool>()) {
    const auto first = bad.flatten().nonzero()[0][0].item<int64_t>();
    const int64_t C = x.size(1), L = x.size(2);
    reject(series, "",
           std::to_string(bad.sum().item<int64_t>()) + " NaN or infinite value(s), the first at series " +
               std::to_string(first / (C * L)) + ", channel " + std::to_string(first / L % C) + ", sample " +
               std::to_string(first % L) + " (0-based; as float32)");
  }
  auto y = read_any(labels, header);
  if (y.dim() == 2 && y.size(1) == 1) y = y.flatten();
  if (y.dim() != 1 || y.size(0) != x.size(0)) {
    reject(labels, "", "expected " + std::to_string(x.size(0)) + " labels, one per series");
  }
  auto yd = y.to(torch::kDouble);
  if (!torch::isfinite(yd).all().item<bool>() || !torch::equal(yd, yd.round()) || yd.min().item<double>() < 0) {
    reject(labels, "", "labels must be non-negative integers (class indices)");
  }
  // At most one class per series: a stray huge label is an error, not a
  // request for a billion empty classes.
  if (const double top = yd.max().item<double>(); top >= static_cast<double>(std::max<int64_t>(x.size(0), 2))) {
    std::ostringstream v;
    v << std::setprecision(17) << top;
    reject(labels, "", "label " + v.str() + " is not a class index: " + std::to_string(x.size(0)) +
                           " series have at most " + std::to_string(std::max<int64_t>(x.size(0), 2)) +
                           " classes, numbered from 0");
  }
  Dataset d;
  d.x = x.contiguous();
  d.y = y.to(torch::kLong);
  const int64_t K = d.y.max().item<int64_t>() + 1;
  for (int64_t k = 0; k < K; ++k) d.class_names.push_back(std::to_string(k));
  d.name = series.stem().string();
  return d;
}

}  // namespace leaves::data
