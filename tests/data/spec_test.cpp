#include "leaves/data/spec.h"

#include "testing.h"

using namespace leaves::data;

TEST(DataSpec, ParsesKindAndOptions) {
  auto s = parse_data_spec("synthetic:size=64,length=120");
  EXPECT_EQ(s.kind, "synthetic");
  EXPECT_EQ(s.options.at("size"), "64");
  EXPECT_EQ(parse_data_spec("synthetic").options.size(), 0u);
  EXPECT_THROW(parse_data_spec(":size=3"), std::invalid_argument);
  EXPECT_EQ(parse_data_spec("ucr:some/dir,val=0.3").options.at("path"), "some/dir");
  EXPECT_THROW(parse_data_spec("synthetic:size=3,val"), std::invalid_argument);
}

TEST(DataSpec, SyntheticSplitsAreStratifiedAndDisjoint) {
  auto sp = load_splits(parse_data_spec("synthetic:size=200,length=64,channels=2,seed=3"));
  EXPECT_EQ(sp.train.size() + sp.val.size() + sp.test.size(), 200);
  EXPECT_EQ(sp.test.size(), 30);
  EXPECT_EQ(sp.val.size(), 30);
  EXPECT_EQ(sp.train.x.sizes(), (std::vector<int64_t>{140, 2, 64}));
  EXPECT_EQ(sp.test.y.sum().item<int64_t>(), 15);  // half of each split per class
  // No recording appears in two splits.
  auto all = torch::cat({sp.train.x, sp.val.x, sp.test.x}).flatten(1);
  EXPECT_EQ(std::get<0>(at::_unique(all.sum(1))).numel(), 200);
}

TEST(DataSpec, BadSpecsNameTheProblem) {
  auto expect_message = [](const std::string& spec, const std::string& part) {
    try {
      load_splits(parse_data_spec(spec));
      FAIL() << spec;
    } catch (const std::invalid_argument& e) {
      EXPECT_NE(std::string(e.what()).find(part), std::string::npos) << e.what();
    }
  };
  expect_message("ptbxl:dir=x", "unknown data set kind");
  expect_message("synthetic:size=abc", "size");
  expect_message("synthetic:colour=red", "colour");
  expect_message("synthetic:size=1", "size");
}

TEST(DataSpec, PreprocessingSelectsResamplesAndNormalises) {
  auto raw = load_splits(parse_data_spec("synthetic:size=40,length=200,channels=3,rate=100"));
  EXPECT_EQ(raw.train.channel_names, (std::vector<std::string>{"lead0", "lead1", "lead2"}));
  auto sp = load_splits(
      parse_data_spec("synthetic:size=40,length=200,channels=3,rate=100,select=lead2+lead0,resample=50,normalize=zscore"));
  EXPECT_EQ(sp.train.x.sizes(), (std::vector<int64_t>{28, 2, 100}));
  EXPECT_EQ(sp.train.channel_names, (std::vector<std::string>{"lead2", "lead0"}));
  EXPECT_EQ(sp.train.rate, 50);
  EXPECT_LT(sp.train.x.mean(2).abs().max().item<double>(), 1e-4);
  EXPECT_NEAR(sp.train.x.std(2).mean().item<double>(), 1.0, 1e-3);
  // Resampling keeps the first and last samples.
  auto r = load_splits(parse_data_spec("synthetic:size=40,length=200,channels=3,rate=100,select=lead1,resample=50"));
  EXPECT_FLOAT_EQ(r.test.x[0][0][0].item<float>(), raw.test.x[0][1][0].item<float>());
  EXPECT_FLOAT_EQ(r.test.x[0][0][99].item<float>(), raw.test.x[0][1][199].item<float>());
  auto mm = load_splits(parse_data_spec("synthetic:size=40,length=200,normalize=minmax"));
  EXPECT_NEAR(mm.train.x.min().item<double>(), 0.0, 1e-6);
  EXPECT_NEAR(mm.train.x.max().item<double>(), 1.0, 1e-6);
  leaves::testing::expect_invalid_argument(
      [] { load_splits(parse_data_spec("synthetic:size=40,select=V1")); }, "no channel 'V1'");
  leaves::testing::expect_invalid_argument(
      [] { load_splits(parse_data_spec("synthetic:size=40,normalize=l2")); }, "normalize");
}
