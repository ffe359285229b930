// The in-memory data set: subsets, concatenation, preprocessing, stratified splits.
#include "leaves/data/dataset.h"

#include <gtest/gtest.h>

#include "testing.h"

namespace {

using leaves::data::Dataset;

Dataset labelled(int64_t n, int64_t classes, int64_t channels = 2, int64_t length = 8) {
  Dataset d;
  d.x = torch::arange(n * channels * length, torch::kFloat).view({n, channels, length});
  d.y = torch::arange(n, torch::kLong).remainder(classes);
  for (int64_t k = 0; k < classes; ++k) d.class_names.push_back("c" + std::to_string(k));
  d.channel_names = {"a", "b"};
  d.rate = 100;
  d.name = "train";
  return d;
}

TEST(Dataset, SubsetKeepsRowsAndMetadata) {
  const auto d = labelled(10, 2);
  const auto s = d.subset(torch::tensor({7, 2}, torch::kLong));
  ASSERT_EQ(s.size(), 2);
  EXPECT_TRUE(torch::equal(s.x[0], d.x[7]));
  EXPECT_EQ(s.y[1].item<int64_t>(), 0);
  EXPECT_EQ(s.class_names, d.class_names);
  EXPECT_EQ(s.rate, 100);
}

TEST(Dataset, ConcatenateAppendsAndRefusesOtherShapesOrClasses) {
  const auto a = labelled(4, 2), b = labelled(3, 2);
  const auto c = leaves::data::concatenate(a, b);
  ASSERT_EQ(c.size(), 7);
  EXPECT_TRUE(torch::equal(c.x.slice(0, 4), b.x));
  EXPECT_EQ(c.name, "train");
  leaves::testing::expect_invalid_argument([&] { leaves::data::concatenate(a, labelled(3, 2, 1)); },
                                           "cannot join train and train: their channels, lengths or classes differ");
  leaves::testing::expect_invalid_argument([&] { leaves::data::concatenate(a, labelled(3, 3)); },
                                           "cannot join train and train: their channels, lengths or classes differ");
}

TEST(Dataset, StratifiedSplitKeepsEveryClassInEverySplitAndIsSeeded) {
  const auto all = labelled(100, 4);
  const auto s = leaves::data::stratified_split(all, 0.2, 0.2, 5);
  EXPECT_EQ(s.train.size() + s.val.size() + s.test.size(), 100);
  for (const auto* d : {&s.train, &s.val, &s.test})
    EXPECT_EQ(torch::bincount(d->y, {}, 4).min().item<int64_t>() > 0, true);
  EXPECT_EQ(s.val.size(), 20);
  const auto again = leaves::data::stratified_split(all, 0.2, 0.2, 5);
  EXPECT_TRUE(torch::equal(s.test.x, again.test.x));
  const auto other = leaves::data::stratified_split(all, 0.2, 0.2, 6);
  EXPECT_FALSE(torch::equal(s.test.x, other.test.x));
}

TEST(Dataset, PreprocessSelectsResamplesAndNormalises) {
  auto d = labelled(3, 3);
  leaves::data::Preprocess p;
  p.select = {"b"};
  p.resample = 50;
  p.normalize = "minmax";
  const auto out = leaves::data::preprocess(d, p);
  ASSERT_EQ(out.channels(), 1);
  EXPECT_EQ(out.channel_names, std::vector<std::string>{"b"});
  EXPECT_EQ(out.rate, 50);
  EXPECT_EQ(out.length(), 4);
  EXPECT_NEAR(out.x.min().item<double>(), 0.0, 1e-6);
  EXPECT_NEAR(out.x.max().item<double>(), 1.0, 1e-6);
  p = {};
  p.select = {"z"};
  leaves::testing::expect_invalid_argument([&] { leaves::data::preprocess(d, p); }, "z");
}

}  // namespace
