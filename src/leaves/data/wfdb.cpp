#include "leaves/data/wfdb.h"
#include "leaves/io/output.h"

#include <cerrno>
#include <cmath>
#include <limits>
#include <cstdlib>
#include <fstream>
#include <map>
#include <sstream>
#include <stdexcept>

namespace leaves::data {

namespace fs = std::filesystem;

namespace {

[[noreturn]] void fail(const fs::path& file, const std::string& where, const std::string& what) {
  throw std::invalid_argument(file.string() + (where.empty() ? "" : ":" + where) + ": " + what);
}

bool parse_number(const std::string& s, double& out) {
  char* end = nullptr;
  out = std::strtod(s.c_str(), &end);
  return !s.empty() && end == s.c_str() + s.size();
}

int parse_int(const std::string& s, const fs::path& file, size_t line, const std::string& what) {
  char* end = nullptr;
  errno = 0;
  const long v = std::strtol(s.c_str(), &end, 10);
  if (s.empty() || end != s.c_str() + s.size()) fail(file, std::to_string(line), what + " '" + s + "' is not an integer");
  if (errno == ERANGE || v < std::numeric_limits<int>::min() || v > std::numeric_limits<int>::max()) {
    fail(file, std::to_string(line), what + " '" + s + "' is out of range");
  }
  return static_cast<int>(v);
}

// At most `limit` bytes of a regular file (the signal files never need more
// than the header's samples: a huge or endless file is not read whole).
std::vector<uint8_t> read_bytes(const fs::path& file, uintmax_t limit) {
  std::error_code ec;
  if (!fs::is_regular_file(file, ec)) fail(file, "", fs::exists(file, ec) ? "not a regular file" : "cannot open the file (missing)");
  std::ifstream in(file, std::ios::binary);
  if (!in) fail(file, "", "cannot open the file");
  const uintmax_t size = std::min<uintmax_t>(fs::file_size(file, ec), limit);
  std::vector<uint8_t> out(static_cast<size_t>(size));
  in.read(reinterpret_cast<char*>(out.data()), static_cast<std::streamsize>(size));
  out.resize(static_cast<size_t>(in.gcount()));
  return out;
}

// The most bytes a signal file may hold when the header gives no length: 4 GiB.
constexpr uintmax_t kMaxSignalFileBytes = uintmax_t{4} << 30;

}  // namespace

WfdbHeader read_wfdb_header(const fs::path& hea) {
  std::ifstream in(hea);
  if (!in) fail(hea, "", "cannot open the header");
  WfdbHeader h;
  std::string text;
  size_t line = 0;
  int nsig = -1;
  while (std::getline(in, text)) {
    ++line;
    if (!text.empty() && text.back() == '\r') text.pop_back();
    const auto first = text.find_first_not_of(" \t");
    if (first == std::string::npos) continue;
    if (text[first] == '#') {
      h.comments.push_back(text.substr(first + 1));
      continue;
    }
    std::istringstream words(text);
    std::vector<std::string> f;
    for (std::string w; words >> w;) f.push_back(w);
    const std::string at = std::to_string(line);
    if (nsig < 0) {  // record line: NAME[/SEGMENTS] NSIG [FS[/CF[(BC)]] [NSAMP [TIME [DATE]]]]
      if (f.size() < 2) fail(hea, at, "record line needs a name and a number of signals");
      if (f[0].find('/') != std::string::npos) fail(hea, at, "multi-segment records are not supported");
      h.record = f[0];
      nsig = parse_int(f[1], hea, line, "number of signals");
      if (nsig < 0 || nsig > 4096) fail(hea, at, "number of signals " + f[1] + " is not in [0, 4096]");
      if (f.size() > 2) {
        const std::string fs_text = f[2].substr(0, f[2].find_first_of("/("));
        if (!parse_number(fs_text, h.frequency) || !(h.frequency > 0) || !(h.frequency <= 1e9))
          fail(hea, at, "sampling frequency '" + f[2] + "' is not a positive number up to 1e9 Hz");
      }
      if (f.size() > 3) {
        double n = 0;
        if (!parse_number(f[3], n) || !(n >= 0 && n <= 1e15) || n != std::floor(n)) {
          fail(hea, at, "number of samples '" + f[3] + "' is not a whole number in [0, 1e15]");
        }
        h.length = static_cast<int64_t>(n);
      }
      continue;
    }
    if (static_cast<int>(h.signals.size()) == nsig) fail(hea, at, "more signal lines than the record line declares");
    // FILE FORMAT[xSPF][:SKEW][+OFFSET] [GAIN[(BASELINE)][/UNITS] [RES [ZERO [INIT [CHECKSUM [BLOCK [DESC...]]]]]]]
    if (f.size() < 2) fail(hea, at, "a signal line needs a file name and a format");
    WfdbSignal s;
    s.file = f[0];
    // Only a plain file name beside the header: never another folder, a device or "..".
    if (s.file.find('/') != std::string::npos || s.file.find('\\') != std::string::npos || s.file == "." ||
        s.file == ".." || s.file == "~") {
      fail(hea, at, "signal file '" + s.file + "' must be a plain file name beside the header");
    }
    const std::string fmt = f[1];
    if (fmt.find_first_of("x:+") != std::string::npos) {
      fail(hea, at, "format '" + fmt + "': samples per frame, skew and byte offsets are not supported");
    }
    s.format = parse_int(fmt, hea, line, "format");
    if (s.format != 16 && s.format != 212 && s.format != 80) {
      fail(hea, at, "signal format " + fmt + " is not supported (16, 212 and 80 are)");
    }
    bool has_baseline = false;
    if (f.size() > 2) {
      std::string g = f[2];
      const auto slash = g.find('/');
      if (slash != std::string::npos) {
        s.units = g.substr(slash + 1);
        g = g.substr(0, slash);
      }
      const auto paren = g.find('(');
      if (paren != std::string::npos) {
        const auto close = g.find(')', paren);
        if (close == std::string::npos) fail(hea, at, "unclosed baseline in '" + f[2] + "'");
        s.baseline = parse_int(g.substr(paren + 1, close - paren - 1), hea, line, "baseline");
        has_baseline = true;
        g = g.substr(0, paren);
      }
      if (!parse_number(g, s.gain) || !std::isfinite(s.gain)) fail(hea, at, "gain '" + f[2] + "' is not a finite number");
      if (s.gain == 0) s.gain = 200;
      // Physical values are (digital - baseline) / gain, stored as float32.
      if (std::fabs(s.gain) < 1e-20) fail(hea, at, "gain '" + f[2] + "' is too small (its values overflow float32)");
    }
    if (f.size() > 3) s.adc_resolution = parse_int(f[3], hea, line, "ADC resolution");
    if (f.size() > 4) s.adc_zero = parse_int(f[4], hea, line, "ADC zero");
    if (!has_baseline) s.baseline = s.adc_zero;
    if (f.size() > 5) {
      s.initial_value = parse_int(f[5], hea, line, "initial value");
      s.has_initial_value = true;
    }
    if (f.size() > 6) {
      s.checksum = parse_int(f[6], hea, line, "checksum");
      s.has_checksum = true;
    }
    if (f.size() > 7) s.block_size = parse_int(f[7], hea, line, "block size");
    for (size_t i = 8; i < f.size(); ++i) s.description += (i > 8 ? " " : "") + f[i];
    h.signals.push_back(s);
  }
  if (nsig < 0) fail(hea, "", "no record line");
  if (static_cast<int>(h.signals.size()) != nsig) {
    fail(hea, "", "the record line declares " + std::to_string(nsig) + " signals, the header describes " +
                      std::to_string(h.signals.size()));
  }
  return h;
}

WfdbRecord read_wfdb_record(const fs::path& hea, bool verify) {
  WfdbRecord r;
  r.header = read_wfdb_header(hea);
  const auto& sig = r.header.signals;
  const int64_t C = static_cast<int64_t>(sig.size());
  if (C == 0) fail(hea, "", "the record has no signals (its record line declares 0)");
  // Signals stored in the same file are interleaved, in header order.
  std::map<std::string, std::vector<int64_t>> groups;
  std::vector<std::string> order;
  for (int64_t c = 0; c < C; ++c) {
    if (!groups.count(sig[c].file)) order.push_back(sig[c].file);
    groups[sig[c].file].push_back(c);
  }
  std::vector<std::vector<int32_t>> data(C);
  int64_t length = r.header.length;
  for (const auto& name : order) {
    const auto& members = groups[name];
    const int format = sig[members[0]].format;
    for (auto c : members)
      if (sig[c].format != format) fail(hea, "", "signals in " + name + " mix formats");
    const auto path = hea.parent_path() / name;
    const int64_t n = static_cast<int64_t>(members.size());
    // What the header's length needs (format 212: 3 bytes per 2 samples).
    uintmax_t limit = kMaxSignalFileBytes;
    if (length >= 0) {
      const uintmax_t samples = static_cast<uintmax_t>(length) * static_cast<uintmax_t>(n);
      limit = format == 16 ? 2 * samples : format == 80 ? samples : (3 * samples + 1) / 2;
    }
    std::error_code ec;
    if (!fs::is_regular_file(path, ec)) {
      fail(hea, "", "signal file " + name + (fs::exists(path, ec) ? " is not a regular file" : " is missing"));
    }
    const auto bytes = read_bytes(path, limit);
    std::vector<int32_t> values;
    if (format == 16) {
      values.resize(bytes.size() / 2);
      for (size_t i = 0; i < values.size(); ++i)
        values[i] = static_cast<int16_t>(bytes[2 * i] | (bytes[2 * i + 1] << 8));
    } else if (format == 80) {
      values.resize(bytes.size());
      for (size_t i = 0; i < bytes.size(); ++i) values[i] = static_cast<int32_t>(bytes[i]) - 128;
    } else {  // 212: two 12-bit samples in three bytes
      values.reserve(bytes.size() / 3 * 2 + 1);
      for (size_t i = 0; i + 1 < bytes.size(); i += 3) {
        const int32_t a = bytes[i] | ((bytes[i + 1] & 0x0F) << 8);
        values.push_back(a >= 2048 ? a - 4096 : a);
        if (i + 2 < bytes.size()) {
          const int32_t c = bytes[i + 2] | ((bytes[i + 1] & 0xF0) << 4);
          values.push_back(c >= 2048 ? c - 4096 : c);
        }
      }
    }
    const int64_t frames = static_cast<int64_t>(values.size()) / n;
    if (length < 0) length = frames;
    if (frames < length) {
      fail(path, "", "truncated: the header of " + r.header.record + " says " + std::to_string(length) +
                         " samples per signal, the file holds " + std::to_string(frames));
    }
    for (int64_t k = 0; k < n; ++k) {
      auto& out = data[members[k]];
      out.resize(length);
      for (int64_t t = 0; t < length; ++t) out[t] = values[t * n + k];
    }
  }
  r.header.length = length;
  r.digital = torch::empty({C, std::max<int64_t>(length, 0)}, torch::kInt);
  r.physical = torch::empty({C, std::max<int64_t>(length, 0)}, torch::kFloat);
  auto d = r.digital.accessor<int32_t, 2>();
  auto p = r.physical.accessor<float, 2>();
  std::string mismatches;
  for (int64_t c = 0; c < C; ++c) {
    int32_t sum = 0;
    for (int64_t t = 0; t < length; ++t) {
      d[c][t] = data[c][t];
      p[c][t] = static_cast<float>((data[c][t] - sig[c].baseline) / sig[c].gain);
      sum += data[c][t];
    }
    const std::string label = "signal " + std::to_string(c) + " (" + sig[c].description + ")";
    if (sig[c].has_checksum && static_cast<int16_t>(sum) != static_cast<int16_t>(sig[c].checksum)) {
      mismatches += "; " + label + ": checksum " + std::to_string(static_cast<int16_t>(sum)) + ", header says " +
                    std::to_string(sig[c].checksum);
    }
    if (sig[c].has_initial_value && length > 0 && data[c][0] != sig[c].initial_value) {
      mismatches += "; " + label + ": first sample " + std::to_string(data[c][0]) + ", header says " +
                    std::to_string(sig[c].initial_value);
    }
  }
  if (verify && !mismatches.empty()) fail(hea, "", "record " + r.header.record + " does not match its header" + mismatches);
  return r;
}

std::string wfdb_symbol(int code) {
  static const char* names[] = {"",  "N", "L", "R", "a", "V", "F", "J", "A", "S", "E", "j", "/", "Q",
                                "~", "",  "|", "",  "s", "T", "*", "D", "\"", "=", "p", "B", "^", "t",
                                "+", "u", "?", "!", "[", "]", "e", "n", "@", "x", "f", "(", ")", "r"};
  if (code >= 0 && code < static_cast<int>(sizeof(names) / sizeof(names[0])) && names[code][0] != '\0')
    return names[code];
  return "[" + std::to_string(code) + "]";
}

std::vector<WfdbAnnotation> read_wfdb_annotations(const fs::path& file) {
  const auto b = read_bytes(file, kMaxSignalFileBytes);
  std::vector<WfdbAnnotation> out;
  bool ended = false;
  int64_t time = 0;
  int chan = 0, num = 0;
  size_t i = 0;
  auto word = [&](size_t at) {
    if (at + 1 >= b.size()) fail(file, "byte " + std::to_string(at), "truncated annotation file");
    return static_cast<int>(b[at] | (b[at + 1] << 8));
  };
  while (i + 1 < b.size()) {
    const int w = word(i);
    const int code = w >> 10, value = w & 0x3FF;
    if (code == 0 && value == 0) {  // end of file
      ended = true;
      break;
    }
    if (code == 59) {                    // SKIP: a 32-bit interval, high word first
      const int64_t hi = word(i + 2), lo = word(i + 4);
      time += static_cast<int32_t>(static_cast<uint32_t>((hi << 16) | lo));
      i += 6;
      continue;
    }
    if (code >= 60) {  // NUM, SUB, CHN, AUX modify the annotation just read
      if (out.empty()) fail(file, "byte " + std::to_string(i), "a modifier before any annotation");
      auto& a = out.back();
      i += 2;
      if (code == 60) {
        num = a.num = value;
      } else if (code == 61) {
        a.subtype = value;
      } else if (code == 62) {
        chan = a.chan = value;
      } else if (code == 63) {
        if (i + value > b.size()) fail(file, "byte " + std::to_string(i), "truncated AUX text");
        a.aux.assign(reinterpret_cast<const char*>(b.data() + i), value);
        while (!a.aux.empty() && a.aux.back() == '\0') a.aux.pop_back();
        i += value + (value & 1);
      }
      continue;
    }
    time += value;
    WfdbAnnotation a;
    a.sample = time;
    a.code = code;
    a.symbol = wfdb_symbol(code);
    a.chan = chan;
    a.num = num;
    out.push_back(a);
    i += 2;
  }
  // Every annotation file ends with a zero word: without it the file was cut
  // (an empty or truncated download), and its last annotations are missing.
  if (!ended) {
    fail(file, "", b.empty() ? "empty annotation file" : "truncated annotation file (no end marker after " +
                                                             std::to_string(out.size()) + " annotations)");
  }
  return out;
}

void write_wfdb_annotations(const fs::path& file, const std::vector<WfdbAnnotation>& annotations) {
  std::string out;
  auto word = [&](int code, int value) {
    const int w = (code << 10) | (value & 0x3FF);
    out.push_back(static_cast<char>(w & 0xFF));
    out.push_back(static_cast<char>(w >> 8));
  };
  int64_t time = 0;
  int chan = 0, num = 0;
  for (const auto& a : annotations) {
    if (a.code < 1 || a.code > 49) throw std::invalid_argument(file.string() + ": annotation code must be 1..49");
    int64_t delta = a.sample - time;
    if (delta < 0) throw std::invalid_argument(file.string() + ": annotations must be sorted by sample");
    if (delta > 1023) {  // SKIP with a 32-bit interval, high word first
      word(59, 0);
      const auto d = static_cast<uint32_t>(delta);
      word((d >> 16) >> 10, (d >> 16) & 0x3FF);
      word((d & 0xFFFF) >> 10, d & 0x3FF);
      delta = 0;
    }
    word(a.code, static_cast<int>(delta));
    time = a.sample;
    if (a.subtype != 0) word(61, a.subtype);
    if (a.chan != chan) word(62, chan = a.chan);
    if (a.num != num) word(60, num = a.num);
    if (!a.aux.empty()) {
      word(63, static_cast<int>(a.aux.size()));
      out += a.aux;
      if (a.aux.size() % 2) out.push_back('\0');
    }
  }
  word(0, 0);
  io::write_file(file, out);
}

}  // namespace leaves::data
