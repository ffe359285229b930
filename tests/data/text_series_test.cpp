#include "leaves/data/text_series.h"

#include <algorithm>
#include <fstream>
#include <iomanip>
#include <sstream>

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
  LengthOptions strict;
  strict.unequal = UnequalLengths::Error;
  leaves::testing::expect_invalid_argument(
      [&] { read_ucr_file(write_text("a.tsv", "1\t0.5\t0.7\n2\t0.1\n"), MissingValues::Error, {}, strict); },
      "a.tsv:2: has 1 values, the first case has 2 (unequal lengths");
  leaves::testing::expect_invalid_argument([] { read_ucr_file(write_text("b.tsv", "1\t0.5\tabc\n")); }, "'abc' is not a number");
  leaves::testing::expect_invalid_argument([] { read_ucr_file(write_text("c.tsv", "1\t0.5\tNaN\t0.7\n")); }, "missing value");
  leaves::testing::expect_invalid_argument([] { read_ucr_file(write_text("g.tsv", "1\tNaN\tNaN\n")); }, "no values at all");
  leaves::testing::expect_invalid_argument([] { read_ucr_file(write_text("d.tsv", "")); }, "no data lines");
  leaves::testing::expect_invalid_argument([] { read_ucr_file("/nonexistent/x.tsv"); }, "cannot open");
  // The trailing NaN is the archive's padding: the first series has 3 values,
  // resampled to the longest (4) with its ends kept.
  auto filled = read_ucr_file(write_text("e.tsv", "1\t1.0\tNaN\t3.0\tNaN\n2\tNaN\t2\t2\t2\n"), MissingValues::Interpolate);
  EXPECT_TRUE(torch::allclose(filled.x[0][0], torch::tensor({1.0f, 5.0f / 3, 7.0f / 3, 3.0f})));
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
  leaves::testing::expect_invalid_argument([] { read_uea_file(write_text("u.ts", std::string(kHeader) + "1,2,3:4,5:up\n")); },
                                           "u.ts:11: its dimensions have 3 and 2 values");
  leaves::testing::expect_invalid_argument([] { read_uea_file(write_text("h.ts", "@problemName x\n1,2:up\n")); }, "@tag");
  leaves::testing::expect_invalid_argument([] { read_uea_file(write_text("e.ts", "@problemName x\n")); }, "no @data");
  leaves::testing::expect_invalid_argument([] { read_uea_file(write_text("t.ts", "@timeStamps true\n@data\n")); }, "time-stamped");
  auto filled =
      read_uea_file(write_text("f.ts", std::string(kHeader) + "1,?,3:4,5,6:up\n"), MissingValues::Interpolate);
  EXPECT_FLOAT_EQ(filled.x[0][0][1].item<float>(), 2.0f);
}

TEST(Uea, UnequalLengthsResamplePadOrTruncateToOneLength) {
  const auto file = write_text("v.ts", std::string(kHeader) + "0,2:0,4:up\n1,2,3,4:5,6,7,8:down\n");
  auto r = read_uea_file(file);  // default: linear resampling to the longest, 4
  EXPECT_EQ(r.x.sizes(), (std::vector<int64_t>{2, 2, 4}));
  EXPECT_TRUE(torch::allclose(r.x[0][0], torch::tensor({0.0f, 2.0f / 3, 4.0f / 3, 2.0f})));
  EXPECT_TRUE(torch::allclose(r.x[1][1], torch::tensor({5.0f, 6.0f, 7.0f, 8.0f})));  // untouched
  LengthOptions pad;
  pad.unequal = UnequalLengths::Pad;
  auto p = read_uea_file(file, MissingValues::Error, pad);
  EXPECT_TRUE(torch::allclose(p.x[0][1], torch::tensor({0.0f, 4.0f, 4.0f, 4.0f})));
  LengthOptions cut;
  cut.unequal = UnequalLengths::Truncate;
  auto t = read_uea_file(file, MissingValues::Error, cut);
  EXPECT_EQ(t.length(), 2);
  EXPECT_TRUE(torch::allclose(t.x[1][0], torch::tensor({1.0f, 2.0f})));
  LengthOptions fixed;
  fixed.length = 3;
  auto f = read_uea_file(file, MissingValues::Error, fixed);
  EXPECT_TRUE(torch::allclose(f.x[1][0], torch::tensor({1.0f, 2.5f, 4.0f})));
  LengthOptions strict;
  strict.unequal = UnequalLengths::Error;
  leaves::testing::expect_invalid_argument([&] { read_uea_file(file, MissingValues::Error, strict); },
                                           "v.ts:11: has 2 values, the first case has 4");
  EXPECT_THROW(parse_unequal_lengths("stretch"), std::invalid_argument);
}

TEST(Uea, RealJapaneseVowelsOfUnequalLengths) {
  LEAVES_SHARED_DATA_OR_SKIP(shared);
  const auto dir = shared / "uea" / "JapaneseVowels";
  auto [train, test] = read_uea_archive(dir, MissingValues::Error);
  // 270 train / 370 test, 12 channels, 9 speakers; 7-26 (train) and 7-29
  // (test) values, resampled to the longest training series.
  EXPECT_EQ(train.x.sizes(), (std::vector<int64_t>{270, 12, 26}));
  EXPECT_EQ(test.x.sizes(), (std::vector<int64_t>{370, 12, 26}));
  EXPECT_EQ(train.class_names, (std::vector<std::string>{"1", "2", "3", "4", "5", "6", "7", "8", "9"}));
  EXPECT_EQ(torch::bincount(train.y).min().item<int64_t>(), 30);  // 30 utterances per speaker
  EXPECT_NEAR(train.x[0][0][0].item<double>(), 1.860936, 1e-6);   // first value of the file, an end: kept
  LengthOptions pad;
  pad.unequal = UnequalLengths::Pad;
  auto [ptrain, ptest] = read_uea_archive(dir, MissingValues::Error, pad);
  EXPECT_EQ(ptest.length(), 26);
  // The first case has 20 values: padded with its last one.
  EXPECT_EQ(ptrain.x[0][0][19].item<float>(), ptrain.x[0][0][25].item<float>());
  auto sp = load_splits(parse_data_spec("uea:" + dir.string() + ",unequal=truncate"));
  EXPECT_EQ(sp.train.length(), 7);
  EXPECT_THROW(load_splits(parse_data_spec("uea:" + dir.string() + ",unequal=error")), std::invalid_argument);
  EXPECT_THROW(load_splits(parse_data_spec("uea:" + dir.string() + ",unequal=squash")), std::invalid_argument);
}

namespace {
// Writes `d` as the UEA archive's ARFF files: one relational file, and one
// univariate file per dimension, with the archive's `?` padding of shorter
// series when `lengths` gives each case's own length.
void write_arff(const leaves::data::Dataset& d, const fs::path& dir, const std::string& name, const std::string& split,
                const std::vector<int64_t>& lengths) {
  auto classes = [&] {
    std::string c;
    for (const auto& n : d.class_names) c += (c.empty() ? "" : ",") + n;
    return c;
  };
  auto value = [](float v) {
    std::ostringstream s;
    s << std::setprecision(9) << v;
    return s.str();
  };
  std::ofstream rel(dir / (name + "_" + split + ".arff"));
  rel << "% written by the test\n@relation " << name << "\n@attribute relationalAtt relational\n";
  for (int64_t t = 0; t < d.length(); ++t) rel << "@attribute att" << t << " numeric\n";
  rel << "@end relationalAtt\n@attribute target {" << classes() << "}\n\n@data\n";
  for (int64_t c = 0; c < d.channels(); ++c) {
    std::ofstream uni(dir / (name + "Dimension" + std::to_string(c + 1) + "_" + split + ".arff"));
    uni << "@relation " << name << "Dimension" << c + 1 << "\n";
    for (int64_t t = 0; t < d.length(); ++t) uni << "@attribute att" << t << " numeric\n";
    uni << "@attribute target {" << classes() << "}\n@data\n";
    for (int64_t n = 0; n < d.size(); ++n) {
      for (int64_t t = 0; t < d.length(); ++t) uni << (t < lengths[n] ? value(d.x[n][c][t].item<float>()) : "?") << ",";
      uni << d.class_names[d.y[n].item<int64_t>()] << "\n";
    }
  }
  for (int64_t n = 0; n < d.size(); ++n) {
    rel << "'";
    for (int64_t c = 0; c < d.channels(); ++c) {
      for (int64_t t = 0; t < std::min(lengths[n], d.length()); ++t) rel << (t ? "," : "") << value(d.x[n][c][t].item<float>());
      if (c + 1 < d.channels()) rel << "\\n";
    }
    rel << "'," << d.class_names[d.y[n].item<int64_t>()] << "\n";
  }
}
}  // namespace

TEST(Uea, ArffFilesReadToTheSameTensorsAsTheTsFiles) {
  LEAVES_SHARED_DATA_OR_SKIP(shared);
  for (const std::string name : {"BasicMotions", "JapaneseVowels"}) {
    LengthOptions pad;  // padding keeps every value where it was: the written ARFF can hold them exactly
    pad.unequal = UnequalLengths::Pad;
    const auto ts_dir = shared / "uea" / name;
    auto [train, test] = read_uea_archive(ts_dir, MissingValues::Error, pad);
    // Each case's own length, from the .ts file (the padded tensor repeats the last value).
    auto own_lengths = [&](const std::string& split) {
      std::vector<int64_t> out;
      std::ifstream in(ts_dir / (name + "_" + split + ".ts"));
      for (std::string line; std::getline(in, line);) {
        if (line.empty() || line[0] == '#' || line[0] == '@') continue;
        const auto first = line.substr(0, line.find(':'));
        out.push_back(1 + std::count(first.begin(), first.end(), ','));
      }
      return out;
    };
    const auto rel = leaves::testing::temp_dir("arff-rel-" + name) / name;
    const auto dims = leaves::testing::temp_dir("arff-dims-" + name) / name;
    for (const auto& dir : {rel, dims}) fs::create_directories(dir);
    write_arff(train, dims, name, "TRAIN", own_lengths("TRAIN"));
    write_arff(test, dims, name, "TEST", own_lengths("TEST"));
    for (const auto& split : {"TRAIN", "TEST"}) {
      fs::rename(dims / (name + "_" + split + ".arff"), rel / (name + "_" + split + ".arff"));  // the relational file alone
    }
    for (const auto& dir : {rel, dims}) {
      SCOPED_TRACE(dir.string());
      auto [atrain, atest] = read_uea_archive(dir, MissingValues::Error, pad);
      EXPECT_TRUE(torch::equal(atrain.x, train.x));
      EXPECT_TRUE(torch::equal(atest.x, test.x));
      EXPECT_TRUE(torch::equal(atrain.y, train.y));
      EXPECT_TRUE(torch::equal(atest.y, test.y));
      EXPECT_EQ(atrain.class_names, train.class_names);
    }
    // The spec reads them too (the written test files hold the padded, cut series: pad again).
    auto a = load_splits(parse_data_spec("uea:" + dims.string() + ",unequal=pad"));
    auto b = load_splits(parse_data_spec("uea:" + ts_dir.string() + ",unequal=pad"));
    EXPECT_TRUE(torch::equal(a.test.x, b.test.x));
  }
}

TEST(Uea, MalformedArffNamesTheFileAndLine) {
  const std::string head = "@relation t\n@attribute a numeric\n@attribute b numeric\n@attribute c {x,y}\n@data\n";
  auto ok = read_arff_file(write_text("ok.arff", head + "1,2,x\n3,4,'y'\n"));
  EXPECT_EQ(ok.x.sizes(), (std::vector<int64_t>{2, 1, 2}));
  EXPECT_EQ(ok.y[1].item<int64_t>(), 1);
  leaves::testing::expect_invalid_argument([&] { read_arff_file(write_text("l.arff", head + "1,2,z\n")); },
                                           "l.arff:6: label 'z'");
  leaves::testing::expect_invalid_argument([&] { read_arff_file(write_text("n.arff", head + "1,2,3,x\n")); },
                                           "has 3 values, the header declares 2");
  leaves::testing::expect_invalid_argument([&] { read_arff_file(write_text("m.arff", head + "?,2,x\n")); }, "missing");
  leaves::testing::expect_invalid_argument(
      [&] { read_arff_file(write_text("s.arff", "@relation t\n@attribute a string\n@data\n")); }, "'string'");
  leaves::testing::expect_invalid_argument(
      [&] { read_arff_file(write_text("c.arff", "@relation t\n@attribute a numeric\n@data\n1\n")); }, "no nominal class");
  leaves::testing::expect_invalid_argument([&] { read_arff_file(write_text("e.arff", "@relation t\n")); }, "no @data");
}
