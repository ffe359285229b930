#include "leaves/data/wfdb.h"

#include <fstream>
#include <map>

#include "testing.h"

namespace fs = std::filesystem;
using namespace leaves::data;

namespace {
fs::path scratch(const std::string& name) {
  auto d = leaves::testing::temp_dir("wfdb-" + name);
  fs::create_directories(d);
  return d;
}
void write_bytes(const fs::path& p, const std::vector<uint8_t>& b) {
  std::ofstream(p, std::ios::binary).write(reinterpret_cast<const char*>(b.data()), static_cast<std::streamsize>(b.size()));
}
}  // namespace

TEST(Wfdb, MitBih100Format212WithChecksumsAndAnnotations) {
  LEAVES_SHARED_DATA_OR_SKIP(shared);
  const auto dir = shared / "formats" / "mit-bih";
  auto h = read_wfdb_header(dir / "100.hea");
  EXPECT_EQ(h.record, "100");
  EXPECT_EQ(h.frequency, 360);
  EXPECT_EQ(h.length, 650000);
  ASSERT_EQ(h.signals.size(), 2u);
  EXPECT_EQ(h.signals[0].format, 212);
  EXPECT_EQ(h.signals[0].baseline, 1024);  // no baseline given: the ADC zero
  EXPECT_EQ(h.signals[0].checksum, -22131);
  EXPECT_EQ(h.signals[1].description, "V5");
  EXPECT_EQ(h.comments.size(), 3u);
  auto r = read_wfdb_record(dir / "100.hea");  // verifies both checksums and initial values
  EXPECT_EQ(r.digital.sizes(), (std::vector<int64_t>{2, 650000}));
  EXPECT_EQ(r.digital[0][0].item<int>(), 995);
  EXPECT_EQ(r.digital[1][0].item<int>(), 1011);
  EXPECT_NEAR(r.physical[0][0].item<double>(), -0.145, 1e-6);  // (995 - 1024) / 200 mV
  auto ann = read_wfdb_annotations(dir / "100.atr");
  std::map<std::string, int> counts;
  for (const auto& a : ann) counts[a.symbol]++;
  EXPECT_EQ(counts["N"], 2239);
  EXPECT_EQ(counts["A"], 33);
  EXPECT_EQ(counts["V"], 1);
  EXPECT_EQ(counts["+"], 1);
  EXPECT_EQ(ann.front().symbol, "+");
  EXPECT_EQ(ann.front().aux, "(N");
  for (size_t i = 1; i < ann.size(); ++i) ASSERT_GE(ann[i].sample, ann[i - 1].sample);
  EXPECT_LT(ann.back().sample, 650000);
}

TEST(Wfdb, PtbXlRecordFormat16) {
  LEAVES_SHARED_DATA_OR_SKIP(shared);
  auto r = read_wfdb_record(shared / "formats" / "ptb-xl" / "records100" / "00000" / "00001_lr.hea");
  EXPECT_EQ(r.physical.sizes(), (std::vector<int64_t>{12, 1000}));
  EXPECT_EQ(r.header.frequency, 100);
  EXPECT_EQ(r.header.signals[0].gain, 1000);
  EXPECT_EQ(r.header.signals[0].units, "mV");
  EXPECT_EQ(r.header.signals[11].description, "V6");
  EXPECT_NEAR(r.physical[0][0].item<double>(), -0.119, 1e-6);
}

TEST(Wfdb, ApneaEcgLearningSetAnnotationCounts) {
  LEAVES_SHARED_DATA_OR_SKIP(shared);
  const auto dir = shared / "formats" / "apnea-ecg";
  int a = 0, n = 0, records = 0;
  for (const char* prefix : {"a", "b", "c"}) {
    const int last = prefix[0] == 'a' ? 20 : prefix[0] == 'b' ? 5 : 10;
    for (int i = 1; i <= last; ++i) {
      char name[16];
      std::snprintf(name, sizeof name, "%s%02d.apn", prefix, i);
      auto ann = read_wfdb_annotations(dir / name);
      ++records;
      for (const auto& x : ann) (x.symbol == "A" ? a : n) += 1;
      // One label per minute at 100 Hz.
      for (size_t k = 1; k < ann.size(); ++k) ASSERT_EQ(ann[k].sample - ann[k - 1].sample, 6000) << name;
    }
  }
  EXPECT_EQ(records, 35);
  EXPECT_EQ(a, 6514);
  EXPECT_EQ(n, 10531);
  auto h = read_wfdb_header(dir / "a01r.hea");
  EXPECT_EQ(h.signals.size(), 4u);
  EXPECT_EQ(h.signals[0].description, "Resp C");
}

TEST(Wfdb, WrittenFormat80And16RecordsRoundTrip) {
  auto d = scratch("write");
  // Two signals in format 16 (interleaved) and one in format 80, 3 samples each.
  write_bytes(d / "r16.dat", {0x10, 0x00, 0xFF, 0xFF, 0x20, 0x00, 0xFE, 0xFF, 0x30, 0x00, 0xFD, 0xFF});
  write_bytes(d / "r80.dat", {128, 130, 126});
  std::ofstream(d / "r.hea") << "r 3 50 3\n"
                                "r16.dat 16 100(0)/mV 16 0 16 96 0 lead I\n"
                                "r16.dat 16 100(0)/mV 16 0 -1 -6 0 lead II\n"
                                "r80.dat 80 10(-2)/uV 8 0 0 0 0 resp\n";
  auto r = read_wfdb_record(d / "r.hea");
  EXPECT_TRUE(torch::equal(r.digital[0], torch::tensor({16, 32, 48}, torch::kInt)));
  EXPECT_TRUE(torch::equal(r.digital[1], torch::tensor({-1, -2, -3}, torch::kInt)));
  EXPECT_TRUE(torch::equal(r.digital[2], torch::tensor({0, 2, -2}, torch::kInt)));
  EXPECT_NEAR(r.physical[2][1].item<double>(), 0.4, 1e-6);  // (2 - (-2)) / 10
  EXPECT_EQ(r.header.signals[2].units, "uV");
  EXPECT_EQ(r.header.signals[0].description, "lead I");
}

TEST(Wfdb, BadRecordsAreClearErrors) {
  auto d = scratch("bad");
  write_bytes(d / "x.dat", {1, 0, 2, 0});
  std::ofstream(d / "short.hea") << "x 1 100 5\nx.dat 16 200 16 0 1 3 0 ECG\n";
  leaves::testing::expect_invalid_argument([&] { read_wfdb_record(d / "short.hea"); }, "truncated");
  std::ofstream(d / "sum.hea") << "x 1 100 2\nx.dat 16 200 16 0 1 4 0 ECG\n";
  leaves::testing::expect_invalid_argument([&] { read_wfdb_record(d / "sum.hea"); }, "checksum 3, header says 4");
  EXPECT_NO_THROW(read_wfdb_record(d / "sum.hea", /*verify=*/false));
  std::ofstream(d / "fmt.hea") << "x 1 100 2\nx.dat 311 200\n";
  leaves::testing::expect_invalid_argument([&] { read_wfdb_header(d / "fmt.hea"); }, "fmt.hea:2: signal format 311");
  std::ofstream(d / "count.hea") << "x 2 100 2\nx.dat 16 200\n";
  leaves::testing::expect_invalid_argument([&] { read_wfdb_header(d / "count.hea"); }, "declares 2 signals");
  std::ofstream(d / "gain.hea") << "x 1 100 2\nx.dat 16 abc\n";
  leaves::testing::expect_invalid_argument([&] { read_wfdb_header(d / "gain.hea"); }, "gain.hea:2");
  leaves::testing::expect_invalid_argument([&] { read_wfdb_header(d / "missing.hea"); }, "cannot open");
  write_bytes(d / "t.atr", {0x05, 0x04, 0x00, 0xEC, 0x00});  // N at 5, then a cut-off SKIP
  leaves::testing::expect_invalid_argument([&] { read_wfdb_annotations(d / "t.atr"); }, "truncated");
}

TEST(Wfdb, AnnotationWriterRoundTripsSkipsAuxChannelsAndNumbers) {
  auto d = scratch("ann");
  std::vector<WfdbAnnotation> in(4);
  in[0].sample = 0, in[0].code = 28, in[0].aux = "(AFIB";
  in[1].sample = 500, in[1].code = 1;
  in[2].sample = 700000, in[2].code = 5, in[2].chan = 1, in[2].subtype = 2;  // needs a SKIP
  in[3].sample = 700001, in[3].code = 8, in[3].chan = 1, in[3].num = 3, in[3].aux = "xy";
  write_wfdb_annotations(d / "r.atr", in);
  auto out = read_wfdb_annotations(d / "r.atr");
  ASSERT_EQ(out.size(), in.size());
  for (size_t i = 0; i < in.size(); ++i) {
    EXPECT_EQ(out[i].sample, in[i].sample) << i;
    EXPECT_EQ(out[i].code, in[i].code) << i;
    EXPECT_EQ(out[i].aux, in[i].aux) << i;
    EXPECT_EQ(out[i].chan, in[i].chan) << i;
    EXPECT_EQ(out[i].num, in[i].num) << i;
    EXPECT_EQ(out[i].subtype, in[i].subtype) << i;
  }
  EXPECT_EQ(out[0].symbol, "+");
  EXPECT_EQ(out[2].symbol, "V");
  leaves::testing::expect_invalid_argument([&] { write_wfdb_annotations(d / "bad.atr", {in[1], in[0]}); }, "sorted");
}
