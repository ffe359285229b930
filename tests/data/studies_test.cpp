#include "leaves/data/studies.h"

#include <fstream>

#include "leaves/data/spec.h"
#include "leaves/data/wfdb.h"
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
