#include "leaves/data/edf.h"

#include <cmath>
#include <fstream>
#include <set>

#include "edf_testing.h"
#include "testing.h"

namespace fs = std::filesystem;
using namespace leaves::data;

TEST(Edf, SleepEdfHypnogramsHoldEveryStageLabel) {
  LEAVES_SHARED_DATA_OR_SKIP(shared);
  std::set<std::string> texts;
  int files = 0;
  for (const auto& e : fs::directory_iterator(shared / "formats" / "sleep-edf" / "hypnograms")) {
    if (e.path().extension() != ".edf") continue;
    auto info = read_edf_info(e.path());
    ++files;
    EXPECT_TRUE(info.plus) << e.path();
    EXPECT_TRUE(info.signals.empty()) << e.path();
    ASSERT_FALSE(info.annotations.empty()) << e.path();
    EXPECT_EQ(info.annotations.front().onset, 0.0);
    for (size_t i = 1; i < info.annotations.size(); ++i) {
      const auto& prev = info.annotations[i - 1];
      EXPECT_NEAR(info.annotations[i].onset, prev.onset + prev.duration, 1e-6) << "stages tile the night";
    }
    for (const auto& a : info.annotations) texts.insert(a.text);
  }
  EXPECT_EQ(files, 20);
  for (auto s : {"Sleep stage W", "Sleep stage 1", "Sleep stage 2", "Sleep stage 3", "Sleep stage 4", "Sleep stage R",
                 "Sleep stage ?", "Movement time"})
    EXPECT_TRUE(texts.count(s)) << s;
}

TEST(Edf, WrittenEdfPlusRoundTripsSignalsAndAnnotations) {
  auto d = leaves::testing::temp_dir("edf");
  fs::create_directories(d);
  const auto path = (d / "rec.edf").string();
  const int h = edfopen_file_writeonly(path.c_str(), EDFLIB_FILETYPE_EDFPLUS, 2);
  ASSERT_GE(h, 0);
  const int rates[2] = {100, 1};
  const char* labels[2] = {"EEG Fpz-Cz", "Resp oro-nasal"};
  for (int s = 0; s < 2; ++s) leaves::testing::define_edf_signal(h, s, rates[s], labels[s]);
  std::vector<double> eeg(100), resp(1);
  for (int sec = 0; sec < 10; ++sec) {
    for (int i = 0; i < 100; ++i) eeg[i] = 100 * std::sin(2 * M_PI * 3 * (sec + i / 100.0));
    resp[0] = sec * 10.0;
    ASSERT_EQ(edfwrite_physical_samples(h, eeg.data()), 0);
    ASSERT_EQ(edfwrite_physical_samples(h, resp.data()), 0);
  }
  edfwrite_annotation_utf8(h, 0, 300000LL, "Sleep stage W");  // 0 s for 30 s (units of 100 us)
  edfwrite_annotation_utf8(h, 50000LL, -1, "Lights off");
  ASSERT_EQ(edfclose_file(h), 0);

  auto info = read_edf_info(d / "rec.edf");
  EXPECT_TRUE(info.plus);
  EXPECT_NEAR(info.duration, 10.0, 1e-9);
  ASSERT_EQ(info.signals.size(), 2u);
  EXPECT_EQ(info.signals[0].label, "EEG Fpz-Cz");
  EXPECT_EQ(info.signals[0].rate, 100);
  EXPECT_EQ(info.signals[1].samples, 10);
  EXPECT_EQ(info.signals[0].unit, "uV");
  ASSERT_EQ(info.annotations.size(), 2u);
  EXPECT_EQ(info.annotations[0].text, "Sleep stage W");
  EXPECT_NEAR(info.annotations[0].duration, 30.0, 1e-6);
  EXPECT_NEAR(info.annotations[1].onset, 5.0, 1e-6);
  EXPECT_EQ(info.annotations[1].duration, -1.0);

  auto x = read_edf_signal(d / "rec.edf", "EEG Fpz-Cz");
  ASSERT_EQ(x.numel(), 1000);
  const double step = 400.0 / 65535.0;  // physical units per digital step
  for (int t : {0, 7, 333, 999}) EXPECT_NEAR(x[t].item<double>(), 100 * std::sin(2 * M_PI * 3 * t / 100.0), step);
  EXPECT_NEAR(read_edf_signal(d / "rec.edf", "Resp oro-nasal")[9].item<double>(), 90.0, step);
  leaves::testing::expect_invalid_argument([&] { read_edf_signal(d / "rec.edf", "EOG"); }, "'EEG Fpz-Cz'");

  // A truncated copy is refused with the file named.
  {
    std::ifstream in(d / "rec.edf", std::ios::binary);
    std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    std::ofstream(d / "cut.edf", std::ios::binary) << bytes.substr(0, bytes.size() - 500);
    std::ofstream(d / "junk.edf") << "this is not an EDF file";
  }
  leaves::testing::expect_invalid_argument([&] { read_edf_info(d / "cut.edf"); }, "cut.edf");
  leaves::testing::expect_invalid_argument([&] { read_edf_info(d / "junk.edf"); }, "junk.edf");
  leaves::testing::expect_invalid_argument([&] { read_edf_info(d / "none.edf"); }, "no such file");
  fs::remove_all(d);
}
