#include "leaves/data/text_series.h"

#include <fstream>

#include "leaves/data/spec.h"
#include "testing.h"

namespace fs = std::filesystem;
using namespace leaves::data;

namespace {
fs::path write_text(const std::string& name, const std::string& text) {
  auto d = leaves::testing::temp_dir("text-" + name);
  fs::create_directories(d);
  std::ofstream(d / name) << text;
  return d / name;
}


const char* kHeader =
    "# a comment\n@problemName Toy\n@timeStamps false\n@missing true\n@univariate false\n@dimensions 2\n"
    "@equalLength true\n@seriesLength 3\n@classLabel true up down\n@data\n";
}  // namespace

TEST(Ucr, RealEcg200AndGunPoint) {
  LEAVES_SHARED_DATA_OR_SKIP(shared);
  auto [train, test] = read_ucr_archive(shared / "ucr" / "ECG200", MissingValues::Error);
  EXPECT_EQ(train.x.sizes(), (std::vector<int64_t>{100, 1, 96}));
  EXPECT_EQ(test.x.sizes(), (std::vector<int64_t>{100, 1, 96}));
  EXPECT_EQ(train.class_names, (std::vector<std::string>{"0", "1"}));
  EXPECT_EQ(train.y.sum().item<int64_t>(), 69);  // 31 of class 0, 69 of class 1
  EXPECT_NEAR(train.x[0][0][0].item<double>(), 0.50205548, 1e-6);  // first value of the file
  EXPECT_EQ(train.y[0].item<int64_t>(), 0);                          // its label is 0
  auto [gtrain, gtest] = read_ucr_archive(shared / "ucr" / "GunPoint", MissingValues::Error);
  EXPECT_EQ(gtrain.size(), 50);
  EXPECT_EQ(gtest.size(), 150);
  EXPECT_EQ(gtrain.length(), 150);
  EXPECT_EQ(gtrain.class_names.size(), 2u);
}

TEST(Uea, RealBasicMotions) {
  LEAVES_SHARED_DATA_OR_SKIP(shared);
  auto [train, test] = read_uea_archive(shared / "uea" / "BasicMotions", MissingValues::Error);
  EXPECT_EQ(train.x.sizes(), (std::vector<int64_t>{40, 6, 100}));
  EXPECT_EQ(test.x.sizes(), (std::vector<int64_t>{40, 6, 100}));
  EXPECT_EQ(train.class_names, (std::vector<std::string>{"Standing", "Running", "Walking", "Badminton"}));
  EXPECT_NEAR(train.x[0][0][0].item<double>(), 0.079106, 1e-6);
  EXPECT_EQ(torch::bincount(train.y).min().item<int64_t>(), 10);  // 10 cases per class
}

TEST(DataSpec, ArchivesKeepTheirTestSplitAndCarveValidationFromTrain) {
  LEAVES_SHARED_DATA_OR_SKIP(shared);
  auto sp = load_splits(parse_data_spec("ucr:" + (shared / "ucr" / "ECG200").string() + ",val=0.2"));
  EXPECT_EQ(sp.train.size() + sp.val.size(), 100);
  EXPECT_EQ(sp.test.size(), 100);
  EXPECT_NEAR(sp.val.size(), 20, 1);
  auto b = load_splits(parse_data_spec("uea:" + (shared / "uea" / "BasicMotions").string()));
  EXPECT_EQ(b.train.channels(), 6);
  EXPECT_EQ(b.val.size(), 8);  // 20 % of each class of 10
  EXPECT_THROW(load_splits(parse_data_spec("ucr:" + (shared / "ucr").string())), std::invalid_argument);
  EXPECT_THROW(load_splits(parse_data_spec("ucr:x,val=2")), std::invalid_argument);
}

TEST(Ucr, MalformedFilesNameTheFileAndLine) {
  leaves::testing::expect_invalid_argument([] { read_ucr_file(write_text("a.tsv", "1\t0.5\t0.7\n2\t0.1\n")); }, "a.tsv:2");
  leaves::testing::expect_invalid_argument([] { read_ucr_file(write_text("b.tsv", "1\t0.5\tabc\n")); }, "'abc' is not a number");
  leaves::testing::expect_invalid_argument([] { read_ucr_file(write_text("c.tsv", "1\t0.5\tNaN\n")); }, "missing value");
  leaves::testing::expect_invalid_argument([] { read_ucr_file(write_text("d.tsv", "")); }, "no data lines");
  leaves::testing::expect_invalid_argument([] { read_ucr_file("/nonexistent/x.tsv"); }, "cannot open");
  auto filled = read_ucr_file(write_text("e.tsv", "1\t1.0\tNaN\t3.0\tNaN\n2\tNaN\t2\t2\t2\n"), MissingValues::Interpolate);
  EXPECT_TRUE(torch::allclose(filled.x[0][0], torch::tensor({1.0f, 2.0f, 3.0f, 3.0f})));
  EXPECT_TRUE(torch::allclose(filled.x[1][0], torch::tensor({2.0f, 2.0f, 2.0f, 2.0f})));
}

TEST(Uea, MalformedFilesNameTheFileAndLine) {
  auto ok = read_uea_file(write_text("ok.ts", std::string(kHeader) + "1,2,3:4,5,6:up\n7,8,9:1,2,3:down\n"));
  EXPECT_EQ(ok.x.sizes(), (std::vector<int64_t>{2, 2, 3}));
  EXPECT_EQ(ok.y[1].item<int64_t>(), 1);
  EXPECT_FLOAT_EQ(ok.x[0][1][2].item<float>(), 6.0f);
  leaves::testing::expect_invalid_argument([] { read_uea_file(write_text("l.ts", std::string(kHeader) + "1,2,3:4,5,6:sideways\n")); },
               "l.ts:11: label 'sideways'");
  leaves::testing::expect_invalid_argument([] { read_uea_file(write_text("d.ts", std::string(kHeader) + "1,2,3:up\n")); }, "1 dimensions");
  leaves::testing::expect_invalid_argument([] { read_uea_file(write_text("n.ts", std::string(kHeader) + "1,?,3:4,5,6:up\n")); }, "missing");
  leaves::testing::expect_invalid_argument([] { read_uea_file(write_text("u.ts", std::string(kHeader) + "1,2,3:4,5:up\n")); }, "unequal");
  leaves::testing::expect_invalid_argument([] { read_uea_file(write_text("h.ts", "@problemName x\n1,2:up\n")); }, "@tag");
  leaves::testing::expect_invalid_argument([] { read_uea_file(write_text("e.ts", "@problemName x\n")); }, "no @data");
  leaves::testing::expect_invalid_argument([] { read_uea_file(write_text("t.ts", "@timeStamps true\n@data\n")); }, "time-stamped");
  auto filled =
      read_uea_file(write_text("f.ts", std::string(kHeader) + "1,?,3:4,5,6:up\n"), MissingValues::Interpolate);
  EXPECT_FLOAT_EQ(filled.x[0][0][1].item<float>(), 2.0f);
}
