#include "leaves/data/studies.h"

#include <fstream>

#include "leaves/data/edf.h"
#include "leaves/data/spec.h"
#include "leaves/data/wfdb.h"
#include "edf_testing.h"
#include "testing.h"

namespace fs = std::filesystem;
using namespace leaves::data;

TEST(ApneaEcg, RealTestSetAnswers) {
  LEAVES_SHARED_DATA_OR_SKIP(shared);
  auto answers = read_apnea_answers(shared / "formats" / "apnea-ecg" / "event-2.txt");
  EXPECT_EQ(answers.size(), 35u);
  int64_t total = 0, apnea = 0;
  for (const auto& [record, labels] : answers) {
    total += static_cast<int64_t>(labels.size());
    for (auto l : labels) apnea += l;
  }
  EXPECT_EQ(total, 17268);
  EXPECT_EQ(apnea, 6550);
  EXPECT_EQ(total - apnea, 10718);
  EXPECT_EQ(answers.at("x01")[25], 1);  // "NNNN...N" (25 N) then A
  EXPECT_EQ(answers.at("x01")[24], 0);
  // Fuzzing found an hour number beyond int64 (std::out_of_range before the fix).
  const auto bad = leaves::testing::temp_dir("answers");
  fs::create_directories(bad);
  std::ofstream(bad / "event-2.txt") << "x01\n99999999999999999999999 NNNN\n";
  leaves::testing::expect_invalid_argument([&] { read_apnea_answers(bad / "event-2.txt"); }, "is not a whole number in 0..1000");
  fs::remove_all(bad);
}

namespace {
// A one-lead record at 100 Hz whose minute k holds the digital value base + k
// everywhere, plus `extra` samples of a last, partial minute.
void write_record(const fs::path& root, const std::string& name, int minutes, int base, int extra) {
  const int64_t L = minutes * 6000 + extra;
  std::ofstream(root / (name + ".hea")) << name << " 1 100 " << L << "\n" << name << ".dat 16 200 12 0\n";
  std::string bytes;
  for (int64_t t = 0; t < L; ++t) {
    const int16_t v = static_cast<int16_t>(base + t / 6000);
    bytes.push_back(static_cast<char>(v & 0xFF));
    bytes.push_back(static_cast<char>((v >> 8) & 0xFF));
  }
  std::ofstream(root / (name + ".dat"), std::ios::binary) << bytes;
}
}  // namespace

TEST(ApneaEcg, BuildsMinuteSegmentsWithTheirLabelsAndThePapersSplits) {
  auto root = leaves::testing::temp_dir("apnea");
  fs::create_directories(root);
  std::ofstream(root / "RECORDS") << "a01\na01er\nb01\nc01\nx01\nx02\n";
  // Learning records with .apn labels; each has one labelled minute past the end of its signal.
  const std::vector<std::pair<std::string, std::string>> learning{{"a01", "NAAN"}, {"b01", "ANN"}, {"c01", "NN"}};
  int base = 0;
  for (const auto& [name, labels] : learning) {
    write_record(root, name, static_cast<int>(labels.size()) - 1, base, 1234);
    std::vector<WfdbAnnotation> ann;
    for (size_t k = 0; k < labels.size(); ++k) {
      WfdbAnnotation a;
      a.sample = static_cast<int64_t>(k) * 6000;
      a.code = labels[k] == 'A' ? 8 : 1;
      ann.push_back(a);
    }
    write_wfdb_annotations(root / (name + ".apn"), ann);
    base += 100;
  }
  write_record(root, "x01", 3, 1000, 0);
  write_record(root, "x02", 2, 2000, 10);
  std::ofstream(root / "event-2.txt") << "x01\n 0 ANA\n\nx02\n 0 NN\n";

  auto sp = build_apnea_ecg({root, 1, 0});
  EXPECT_EQ(sp.train.size() + sp.val.size(), 3 + 2 + 1);  // the minutes that fit the signals
  EXPECT_EQ(sp.test.size(), 5);
  EXPECT_EQ(sp.train.x.sizes().slice(1), (std::vector<int64_t>{1, 6000}));
  EXPECT_EQ(sp.test.class_names, (std::vector<std::string>{"normal", "apnea"}));
  EXPECT_TRUE(torch::equal(sp.test.y, torch::tensor({1, 0, 1, 0, 0}, torch::kLong)));
  // Segment k of x01 is minute k: digital 1000 + k, i.e. (1000 + k) / 200 mV everywhere.
  for (int k = 0; k < 3; ++k) {
    EXPECT_FLOAT_EQ(sp.test.x[k][0][0].item<float>(), (1000 + k) / 200.0f);
    EXPECT_FLOAT_EQ(sp.test.x[k][0][5999].item<float>(), (1000 + k) / 200.0f);
  }
  // Labels follow their minutes in the learning set too: a01 = N A A, b01 = A N, c01 = N.
  auto all_x = torch::cat({sp.train.x, sp.val.x}), all_y = torch::cat({sp.train.y, sp.val.y});
  const std::map<int, int64_t> expected{{0, 0}, {1, 1}, {2, 1}, {100, 1}, {101, 0}, {200, 0}};
  for (int64_t i = 0; i < all_x.size(0); ++i) {
    const int digital = static_cast<int>(std::lround(all_x[i][0][0].item<double>() * 200));
    EXPECT_EQ(all_y[i].item<int64_t>(), expected.at(digital)) << "segment with value " << digital;
  }
  // The validation split is whole records.
  EXPECT_TRUE(sp.val.size() == 3 || sp.val.size() == 2 || sp.val.size() == 1);
  // Through the data spec, and its errors.
  auto via_spec = load_splits(parse_data_spec("apnea-ecg:" + root.string() + ",val_records=1"));
  EXPECT_EQ(via_spec.test.size(), 5);
  leaves::testing::expect_invalid_argument([&] { build_apnea_ecg({root, 3, 0}); }, "val_records");
  fs::remove(root / "x02.dat");
  leaves::testing::expect_invalid_argument([&] { build_apnea_ecg({root, 1, 0}); }, "x02.dat");
  fs::remove_all(root);
}

TEST(PtbXl, RealStatementsAndScpCodes) {
  LEAVES_SHARED_DATA_OR_SKIP(shared);
  auto classes = read_ptbxl_superclasses(shared / "formats" / "ptb-xl" / "scp_statements.csv");
  EXPECT_EQ(classes.size(), 44u);  // the 44 diagnostic statements
  EXPECT_EQ(classes.at("NORM"), "NORM");
  EXPECT_EQ(classes.at("IMI"), "MI");
  EXPECT_EQ(classes.at("NDT"), "STTC");
  EXPECT_EQ(classes.at("LAFB"), "CD");
  EXPECT_EQ(classes.at("LVH"), "HYP");
  EXPECT_FALSE(classes.count("SR"));  // a rhythm statement, not diagnostic
  // The scp_codes of ecg_id 1, as in ptbxl_database.csv.
  auto codes = parse_scp_codes("{'NORM': 100.0, 'LVOLT': 0.0, 'SR': 0.0}");
  EXPECT_EQ(codes.size(), 3u);
  EXPECT_EQ(codes.at("NORM"), 100.0);
  EXPECT_THROW(parse_scp_codes("NORM"), std::invalid_argument);
  EXPECT_THROW(parse_scp_codes("{'NORM': x}"), std::invalid_argument);
}

TEST(PtbXl, BuildsFoldsAndMultiLabelTargetsFromFilesInTheRealFormat) {
  LEAVES_SHARED_DATA_OR_SKIP(shared);
  const auto src = shared / "formats" / "ptb-xl";
  auto root = leaves::testing::temp_dir("ptbxl");
  fs::create_directories(root / "records100" / "00000");
  fs::copy_file(src / "scp_statements.csv", root / "scp_statements.csv");
  for (auto ext : {".hea", ".dat"})  // the real record of ecg_id 1
    fs::copy_file(src / "records100" / "00000" / (std::string("00001_lr") + ext),
                  root / "records100" / "00000" / (std::string("00001_lr") + ext));
  for (int id : {2, 3, 4}) {  // generated 12-lead records in format 16
    char name[32];
    std::snprintf(name, sizeof name, "%05d_lr", id);
    std::ofstream h(root / "records100" / "00000" / (std::string(name) + ".hea"));
    h << name << " 12 100 1000\n";
    for (int c = 0; c < 12; ++c) h << name << ".dat 16 1000.0(0)/mV 16 0\n";
    std::ofstream(root / "records100" / "00000" / (std::string(name) + ".dat"), std::ios::binary)
        << std::string(12 * 1000 * 2, static_cast<char>(id));
  }
  std::ofstream(root / "ptbxl_database.csv")
      << "ecg_id,patient_id,report,scp_codes,strat_fold,filename_lr\n"
      << "1,15709.0,\"sinusrhythmus, periphere niederspannung\",\"{'NORM': 100.0, 'LVOLT': 0.0, 'SR': 0.0}\",3,"
         "records100/00000/00001_lr\n"
      << "2,1.0,x,\"{'IMI': 50.0, 'NDT': 100.0}\",9,records100/00000/00002_lr\n"
      << "3,2.0,x,\"{'LAFB': 100.0, 'SR': 0.0}\",10,records100/00000/00003_lr\n"
      << "4,3.0,x,\"{'SR': 0.0}\",1,records100/00000/00004_lr\n";
  auto sp = build_ptbxl({root});
  EXPECT_EQ(sp.train.size(), 1);  // ecg_id 4 has no diagnostic statement and is left out
  EXPECT_EQ(sp.val.size(), 1);
  EXPECT_EQ(sp.test.size(), 1);
  EXPECT_EQ(sp.train.x.sizes(), (std::vector<int64_t>{1, 12, 1000}));
  EXPECT_EQ(sp.train.class_names[0], "NORM");
  EXPECT_EQ(sp.train.channel_names.front(), "I");  // lead names from the headers
  EXPECT_EQ(sp.train.channel_names.back(), "V6");
  EXPECT_EQ(sp.train.y[0].item<int64_t>(), 0);  // NORM
  EXPECT_NEAR(sp.train.x[0][0][0].item<double>(), -0.119, 1e-6);
  EXPECT_TRUE(torch::equal(sp.val.targets[0], torch::tensor({0.0f, 1.0f, 1.0f, 0.0f, 0.0f})));  // MI + STTC
  EXPECT_EQ(sp.val.y[0].item<int64_t>(), -1);                                                   // multi-label
  EXPECT_EQ(sp.test.y[0].item<int64_t>(), 3);                                                   // CD
  auto via_spec = load_splits(parse_data_spec("ptb-xl:" + root.string()));
  EXPECT_EQ(via_spec.test.size(), 1);
  std::ofstream(root / "bad.csv") << "ecg_id,scp_codes,strat_fold,filename_lr\n1,\"{'NORM': 1.0}\",11,x\n";
  leaves::testing::expect_invalid_argument([&] { build_ptbxl({root, "bad.csv"}); }, "strat_fold '11'");
  leaves::testing::expect_invalid_argument([&] { build_ptbxl({root, "none.csv"}); }, "none.csv: not found");
  fs::remove_all(root);
}

namespace {
// A PSG file with "EEG Fpz-Cz" and "EEG Pz-Oz" at 100 Hz in which epoch k holds
// the value 0.5 k (uV) everywhere.
void write_psg(const fs::path& path, int seconds) {
  const int h = edfopen_file_writeonly(path.c_str(), EDFLIB_FILETYPE_EDFPLUS, 2);
  ASSERT_GE(h, 0);
  const char* labels[2] = {"EEG Fpz-Cz", "EEG Pz-Oz"};
  for (int s = 0; s < 2; ++s) leaves::testing::define_edf_signal(h, s, 100, labels[s]);
  std::vector<double> buf(100);
  for (int sec = 0; sec < seconds; ++sec) {
    std::fill(buf.begin(), buf.end(), 0.5 * (sec / 30));
    for (int s = 0; s < 2; ++s) ASSERT_EQ(edfwrite_physical_samples(h, buf.data()), 0);
  }
  ASSERT_EQ(edfclose_file(h), 0);
}

void write_hypnogram(const fs::path& path, const std::vector<std::pair<int, std::string>>& stages) {
  const int h = edfopen_file_writeonly(path.c_str(), EDFLIB_FILETYPE_EDFPLUS, 1);
  ASSERT_GE(h, 0);
  leaves::testing::define_edf_signal(h, 0, 1, "unused");
  long long onset = 0;  // units of 100 us
  int total = 0;
  for (const auto& [epochs, text] : stages) {
    edfwrite_annotation_utf8(h, onset, epochs * 300000LL, text.c_str());
    onset += epochs * 300000LL;
    total += epochs * 30;
  }
  std::vector<double> zero(1, 0.0);
  for (int s = 0; s < total; ++s) edfwrite_physical_samples(h, zero.data());
  ASSERT_EQ(edfclose_file(h), 0);
}
}  // namespace

TEST(SleepEdf, FuzzFoundHypnogramWithAnOnsetBeyondAWeekIsAnError) {
  // tests/data/fuzz-regressions: an EDF+ hypnogram whose annotation onset asked
  // read_hypnogram_epochs for ~10^18 epochs (std::length_error before the fix).
  const auto file = fs::path(LEAVES_TEST_SOURCE_DIR) / "tests" / "data" / "fuzz-regressions" /
                    "hypnogram-onset-beyond-a-week.edf";
  leaves::testing::expect_invalid_argument([&] { read_hypnogram_epochs(file); }, "");
}

TEST(SleepEdf, RealHypnogramsGiveWholeEpochs) {
  LEAVES_SHARED_DATA_OR_SKIP(shared);
  auto epochs = read_hypnogram_epochs(shared / "formats" / "sleep-edf" / "hypnograms" / "SC4001EC-Hypnogram.edf");
  auto info = read_edf_info(shared / "formats" / "sleep-edf" / "hypnograms" / "SC4001EC-Hypnogram.edf");
  const auto& last = info.annotations.back();
  EXPECT_EQ(static_cast<double>(epochs.size()), (last.onset + last.duration) / 30.0);
  std::map<int64_t, int> counts;
  for (auto e : epochs) counts[e]++;
  for (int64_t k : {0, 1, 2, 3, 4}) EXPECT_GT(counts[k], 0) << "stage " << k;
}

TEST(SleepEdf, BuildsTrimmedEpochsAndSubjectSplitsFromFilesInTheRealFormat) {
  auto root = leaves::testing::temp_dir("sleepedf");
  fs::create_directories(root / "sleep-cassette");
  const std::vector<std::pair<int, std::string>> night{
      {90, "Sleep stage W"}, {2, "Sleep stage 1"}, {10, "Sleep stage 2"}, {3, "Sleep stage 3"},
      {2, "Sleep stage 4"},  {5, "Sleep stage R"}, {1, "Sleep stage ?"}, {1, "Movement time"},
      {4, "Sleep stage 2"},  {100, "Sleep stage W"}};
  for (const char* subject : {"SC4001", "SC4011", "SC4021", "SC4031"}) {
    write_psg(root / "sleep-cassette" / (std::string(subject) + "E0-PSG.edf"), 218 * 30);
    write_hypnogram(root / "sleep-cassette" / (std::string(subject) + "EC-Hypnogram.edf"), night);
  }
  SleepEdfOptions o;
  o.root = root;
  o.val_subjects = 1;
  auto sp = build_sleep_edf(o);
  // Per night: epochs 30..177 kept (60 wake epochs either side of sleep 90..117), less "?" and movement.
  EXPECT_EQ(sp.train.size(), 2 * 146);
  EXPECT_EQ(sp.val.size(), 146);
  EXPECT_EQ(sp.test.size(), 146);
  EXPECT_EQ(sp.test.x.sizes(), (std::vector<int64_t>{146, 1, 3000}));
  EXPECT_EQ(sp.test.class_names, (std::vector<std::string>{"W", "N1", "N2", "N3", "REM"}));
  EXPECT_TRUE(torch::equal(torch::bincount(sp.test.y), torch::tensor({120, 2, 14, 5, 5}, torch::kLong)));
  // Epoch alignment: the first kept epoch is epoch 30 (value 15 uV); the first N1 is epoch 90.
  const double step = 400.0 / 65535;
  EXPECT_NEAR(sp.test.x[0][0][0].item<double>(), 15.0, step);
  EXPECT_NEAR(sp.test.x[60][0][2999].item<double>(), 45.0, step);
  EXPECT_EQ(sp.test.y[60].item<int64_t>(), 1);
  auto via_spec = load_splits(parse_data_spec("sleep-edf:" + root.string() + ",val_subjects=1"));
  EXPECT_EQ(via_spec.test.size(), 146);
  // Subjects 0, 1 and 3 only: two (three quarters, rounded) train, subject 3 tests.
  auto three = load_splits(parse_data_spec("sleep-edf:" + root.string() + ",val_subjects=0,subjects=0-1+3"));
  EXPECT_EQ(three.train.size(), 2 * 146);
  EXPECT_EQ(three.test.size(), 146);
  leaves::testing::expect_invalid_argument(
      [&] { load_splits(parse_data_spec("sleep-edf:" + root.string() + ",subjects=0+5")); }, "subject 5 has no SC405*-PSG.edf");
  o.channel = "EEG C3";
  leaves::testing::expect_invalid_argument([&] { build_sleep_edf(o); }, "'EEG C3' not found");
  fs::remove(root / "sleep-cassette" / "SC4031EC-Hypnogram.edf");
  o.channel = "EEG Fpz-Cz";
  leaves::testing::expect_invalid_argument([&] { build_sleep_edf(o); }, "no hypnogram SC4031E");
  fs::remove_all(root);
}

TEST(Pamap2Study, WindowsWithinOneActivityInterpolatedAndSplitBySubject) {
  auto root = leaves::testing::temp_dir("pamap2");
  fs::create_directories(root / "Protocol");
  // Per subject: 1300 samples of walking (4), 200 transient (0), 1300 of rope jumping (24).
  for (int subject = 101; subject <= 109; ++subject) {
    std::ofstream f(root / "Protocol" / ("subject" + std::to_string(subject) + ".dat"));
    int64_t t = 0;
    for (auto [activity, n] : std::vector<std::pair<int, int>>{{4, 1300}, {0, 200}, {24, 1300}}) {
      for (int i = 0; i < n; ++i, ++t) {
        f << t * 0.01 << ' ' << activity << ' ' << (t % 10 == 0 ? std::to_string(100 + t / 10) : "NaN");
        for (int c = 3; c < 54; ++c) f << ' ' << (c == 10 && t == 5 ? std::string("NaN") : std::to_string(subject));
        f << '\n';
      }
    }
  }
  auto sp = build_pamap2({root});
  // Each 1300-sample activity gives windows at 0 and 300 (1000 long, stride 300): 2 per activity.
  EXPECT_EQ(sp.train.size(), 7 * 4);
  EXPECT_EQ(sp.val.size(), 4);
  EXPECT_EQ(sp.test.size(), 4);
  EXPECT_EQ(sp.test.x.sizes(), (std::vector<int64_t>{4, 52, 1000}));
  EXPECT_EQ(sp.test.class_names.size(), 12u);
  EXPECT_TRUE(torch::equal(sp.test.y, torch::tensor({3, 3, 11, 11}, torch::kLong)));  // walking, rope jumping
  EXPECT_TRUE(torch::isfinite(sp.train.x).all().item<bool>());
  // Heart rate known every 10th sample, linearly interpolated in between.
  EXPECT_NEAR(sp.test.x[0][0][15].item<double>(), 101.5, 1e-4);
  EXPECT_NEAR(sp.test.x[0][8][5].item<double>(), 106.0, 1e-4);  // column 10 = channel 8, one NaN filled
  EXPECT_FLOAT_EQ(sp.val.x[0][20][0].item<float>(), 105.0f);
  // ViewMaker's 11 activities leave out rope jumping.
  auto eleven = load_splits(parse_data_spec("pamap2:" + root.string() + ",activities=11"));
  EXPECT_EQ(eleven.test.size(), 2);
  EXPECT_EQ(eleven.test.class_names.size(), 11u);
  fs::remove(root / "Protocol" / "subject109.dat");
  leaves::testing::expect_invalid_argument([&] { build_pamap2({root}); }, "subject109.dat: not found");
  fs::remove_all(root);
}

// The paper's cohort by subject: lists as the specs write them, and the real
// hypnograms of ../shared/data (subjects 0-9, two nights each) selected by subject.
TEST(SleepEdf, SubjectsSelectTheCohortOnTheRealHypnograms) {
  EXPECT_EQ(parse_subjects("0-19").size(), 20u);
  EXPECT_EQ(parse_subjects("3+7+1-2"), (std::vector<int>{1, 2, 3, 7}));
  leaves::testing::expect_invalid_argument([] { parse_subjects("0-x"); }, "subjects '0-x': expected subject numbers");
  leaves::testing::expect_invalid_argument([] { parse_subjects("5-2"); }, "runs backwards");
  LEAVES_SHARED_DATA_OR_SKIP(shared);
  const auto root = shared / "formats" / "sleep-edf" / "hypnograms";
  const auto all = sleep_edf_files(root, {}, "-Hypnogram.edf");
  EXPECT_EQ(all.size(), 10u);
  const auto some = sleep_edf_files(root, parse_subjects("0-4"), "-Hypnogram.edf");
  ASSERT_EQ(some.size(), 5u);
  size_t nights = 0;
  int64_t epochs = 0;
  for (const auto& [subject, files] : some) {
    EXPECT_LE(subject, 4);
    nights += files.size();
    for (const auto& f : files) epochs += static_cast<int64_t>(read_hypnogram_epochs(f).size());
  }
  EXPECT_EQ(nights, 10u);
  EXPECT_EQ(some.at(0).front().filename(), "SC4001EC-Hypnogram.edf");
  EXPECT_GT(epochs, 10 * 2000);  // whole recordings of about a day each
  // The 2013 cohort asks for subjects 10-19 too: this folder lacks them, and says which.
  leaves::testing::expect_invalid_argument([&] { sleep_edf_files(root, parse_subjects("0-19"), "-Hypnogram.edf"); },
                                           "subject 10 has no SC410*-Hypnogram.edf");
}
