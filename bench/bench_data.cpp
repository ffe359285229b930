// Parsing raw files versus loading the prepared cache, on synthetic raw sets
// in the real formats and at the real studies' sizes (scaled):
//   PAMAP2:    subject101..109.dat of the protocol, 54 space-separated columns,
//              heart rate NaN 9 rows in 10, with the published row counts
//              (2,872,533 rows in all at scale 1);
//   Sleep-EDF: 153 nights of 22 h (sleep cassette) at scale 1, each an EDF+ PSG
//              with three 100-Hz and four 1-Hz signals plus its hypnogram.
// LEAVES_BENCH_SCALE (default 0.1) scales both; the raw sets are written once
// under LEAVES_BENCH_DIR (default: the system temp folder) and removed at exit.
// Run: build/leaves_bench_data [--benchmark_filter=Pamap2]
#include <benchmark/benchmark.h>
#include <edflib.h>
#include <torch/torch.h>

#include <unistd.h>

#include <charconv>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <random>

#include "leaves/data/cache.h"
#include "leaves/data/spec.h"

namespace fs = std::filesystem;
using namespace leaves::data;

namespace {

double scale() {
  const char* s = std::getenv("LEAVES_BENCH_SCALE");
  return s ? std::atof(s) : 0.1;
}

fs::path bench_root() {
  // Never destroyed: the atexit handler below runs after static destructors.
  static const fs::path* root = new fs::path([] {
    const char* d = std::getenv("LEAVES_BENCH_DIR");
    auto r = (d ? fs::path(d) : fs::temp_directory_path()) / ("leaves-bench-data-" + std::to_string(::getpid()));
    fs::create_directories(r);
    return r;
  }());
  static const bool cleanup = [] { return std::atexit([] { fs::remove_all(*root); }) == 0; }();
  (void)cleanup;
  return *root;
}

void append_number(std::string& line, double v) {
  char buf[32];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v, std::chars_format::fixed, 5);
  line.push_back(' ');
  line.append(buf, end);
}

// The protocol of one subject: activities of ~3 min separated by transients.
const fs::path& pamap2_root() {
  static const fs::path root = [] {
    const auto r = bench_root() / "pamap2";
    fs::create_directories(r / "Protocol");
    const int64_t rows[9] = {376417, 447000, 252833, 329576, 374783, 361817, 313599, 408031, 8477};
    const int activities[12] = {1, 2, 3, 4, 5, 6, 7, 12, 13, 16, 17, 24};
    std::mt19937_64 rng(0);
    std::normal_distribution<double> noise(0.0, 1.0);
    int64_t total = 0;
    for (int s = 0; s < 9; ++s) {
      const int64_t n = std::max<int64_t>(3000, static_cast<int64_t>(rows[s] * scale()));
      total += n;
      std::ofstream f(r / "Protocol" / ("subject" + std::to_string(101 + s) + ".dat"));
      std::string line;
      for (int64_t t = 0; t < n; ++t) {
        const int64_t block = t / 19000, within = t % 19000;
        const int activity = within >= 18000 ? 0 : activities[block % 12];
        line.clear();
        char buf[32];
        auto [end, ec] = std::to_chars(buf, buf + sizeof buf, 5.0 + t * 0.01, std::chars_format::fixed, 2);
        line.append(buf, end);
        line += ' ' + std::to_string(activity);
        if (t % 10 == 0) {
          append_number(line, 100 + 20 * std::sin(t * 1e-4));
        } else {
          line += " NaN";
        }
        for (int c = 3; c < 54; ++c) append_number(line, c + noise(rng));
        line.push_back('\n');
        f << line;
      }
    }
    std::cerr << "PAMAP2-sized raw set: " << total << " rows, "
              << [&] {
                   uintmax_t b = 0;
                   for (const auto& e : fs::directory_iterator(r / "Protocol")) b += e.file_size();
                   return b >> 20;
                 }()
              << " MiB\n";
    return r;
  }();
  return root;
}

void write_night(const fs::path& dir, const std::string& prefix, int seconds, std::mt19937_64& rng) {
  const auto psg = dir / (prefix + "0-PSG.edf");
  const int h = edfopen_file_writeonly(psg.c_str(), EDFLIB_FILETYPE_EDFPLUS, 7);
  if (h < 0) throw std::runtime_error(psg.string() + ": EDFlib cannot write");
  const char* labels[7] = {"EEG Fpz-Cz", "EEG Pz-Oz", "EOG horizontal", "Resp oro-nasal", "EMG submental",
                           "Temp rectal", "Event marker"};
  for (int s = 0; s < 7; ++s) {
    edf_set_samplefrequency(h, s, s < 3 ? 100 : 1);
    edf_set_physical_maximum(h, s, 200.0);
    edf_set_physical_minimum(h, s, -200.0);
    edf_set_digital_maximum(h, s, 32767);
    edf_set_digital_minimum(h, s, -32768);
    edf_set_label(h, s, labels[s]);
    edf_set_physical_dimension(h, s, "uV");
  }
  std::normal_distribution<double> eeg(0.0, 30.0);
  std::vector<double> fast(100), slow(1);
  for (int sec = 0; sec < seconds; ++sec) {
    for (int s = 0; s < 7; ++s) {
      if (s < 3) {
        for (auto& v : fast) v = std::clamp(eeg(rng), -199.0, 199.0);
        edfwrite_physical_samples(h, fast.data());
      } else {
        slow[0] = 0;
        edfwrite_physical_samples(h, slow.data());
      }
    }
  }
  edfclose_file(h);
  // Hypnogram: wake, ~8 h of sleep cycles, wake to the end.
  const auto hyp = dir / (prefix + "C-Hypnogram.edf");
  const int a = edfopen_file_writeonly(hyp.c_str(), EDFLIB_FILETYPE_EDFPLUS, 1);
  edf_set_samplefrequency(a, 0, 1);
  edf_set_physical_maximum(a, 0, 1.0);
  edf_set_physical_minimum(a, 0, -1.0);
  edf_set_digital_maximum(a, 0, 32767);
  edf_set_digital_minimum(a, 0, -32768);
  edf_set_label(a, 0, "unused");
  const int epochs = seconds / 30;
  const int sleep_start = epochs / 3, sleep_end = std::min(epochs - 1, sleep_start + 960);
  const char* stages[6] = {"Sleep stage 1", "Sleep stage 2", "Sleep stage 3", "Sleep stage 4", "Sleep stage R",
                           "Sleep stage W"};
  std::uniform_int_distribution<int> pick(0, 5), run(1, 20);
  long long onset = 0;
  auto annotate = [&](int n, const char* text) {
    edfwrite_annotation_utf8(a, onset, n * 300000LL, text);
    onset += n * 300000LL;
  };
  annotate(sleep_start, "Sleep stage W");
  for (int e = sleep_start; e < sleep_end;) {
    const int n = std::min(run(rng), sleep_end - e);
    annotate(n, stages[pick(rng)]);
    e += n;
  }
  annotate(epochs - sleep_end, "Sleep stage W");
  for (int sec = 0; sec < seconds; ++sec) edfwrite_physical_samples(a, slow.data());
  edfclose_file(a);
}

const fs::path& sleep_root() {
  static const fs::path root = [] {
    const auto r = bench_root() / "sleep-edf";
    fs::create_directories(r / "sleep-cassette");
    const int nights = std::max(8, static_cast<int>(std::lround(153 * scale())));
    std::mt19937_64 rng(1);
    for (int n = 0; n < nights; ++n) {
      char prefix[16];
      std::snprintf(prefix, sizeof prefix, "SC4%02d%dE", n / 2, 1 + n % 2);
      write_night(r / "sleep-cassette", prefix, 22 * 3600, rng);
    }
    uintmax_t b = 0;
    for (const auto& e : fs::directory_iterator(r / "sleep-cassette")) b += e.file_size();
    std::cerr << "Sleep-EDF-sized raw set: " << nights << " nights of 22 h, " << (b >> 20) << " MiB\n";
    return r;
  }();
  return root;
}

void parse(benchmark::State& state, const std::string& spec_text) {
  const auto spec = parse_data_spec(spec_text);
  int64_t n = 0;
  for (auto _ : state) {
    auto sp = load_splits(spec);
    n = sp.train.size() + sp.val.size() + sp.test.size();
    benchmark::DoNotOptimize(sp.train.x.data_ptr());
  }
  state.counters["windows"] = static_cast<double>(n);
}

void cached(benchmark::State& state, const std::string& spec_text, const fs::path& dir) {
  const auto spec = parse_data_spec(spec_text);
  prepare_dataset(spec, dir);  // not timed: the first, parsing load
  int64_t n = 0;
  for (auto _ : state) {
    auto sp = load_cached(spec, dir);  // checks the sources, then reads the tensors
    n = sp.train.size() + sp.val.size() + sp.test.size();
    benchmark::DoNotOptimize(sp.train.x.data_ptr());
  }
  state.counters["windows"] = static_cast<double>(n);
}

void BM_Pamap2Parse(benchmark::State& state) { parse(state, "pamap2:" + pamap2_root().string()); }
void BM_Pamap2CachedLoad(benchmark::State& state) {
  cached(state, "pamap2:" + pamap2_root().string(), bench_root() / "pamap2-prepared");
}
void BM_SleepEdfParse(benchmark::State& state) { parse(state, "sleep-edf:" + sleep_root().string()); }
void BM_SleepEdfCachedLoad(benchmark::State& state) {
  cached(state, "sleep-edf:" + sleep_root().string(), bench_root() / "sleep-prepared");
}

}  // namespace

BENCHMARK(BM_Pamap2Parse)->Unit(benchmark::kMillisecond)->Iterations(2);
BENCHMARK(BM_Pamap2CachedLoad)->Unit(benchmark::kMillisecond)->Iterations(5);
BENCHMARK(BM_SleepEdfParse)->Unit(benchmark::kMillisecond)->Iterations(2);
BENCHMARK(BM_SleepEdfCachedLoad)->Unit(benchmark::kMillisecond)->Iterations(5);
BENCHMARK_MAIN();
