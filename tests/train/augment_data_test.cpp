// Learned views on a user's own data: generators by name, a split through a
// trained generator written as arrays that leaves and NumPy read back.
#include "leaves/train/augment_data.h"

#include <gtest/gtest.h>

#include "leaves/data/spec.h"
#include "leaves/data/tables.h"
#include "leaves/train/finetune.h"
#include "testing.h"
#include "train_testing.h"

namespace fs = std::filesystem;
using namespace leaves;
using namespace leaves::train;

TEST(Augment, RoundTripThroughArraysIntoPretrainingAndFineTuning) {
  const auto root = leaves::testing::temp_dir("augment");
  const auto run = root / "run";
  auto p = leaves::testing::tiny_pretrain(std::string("leaves"));
  pretrain(p, run, nullptr);

  AugmentOptions o;
  o.data = leaves::testing::kTinyData;
  o.generator = run.string();
  o.copies = 2;
  o.keep_original = true;
  o.seed = 4;
  o.batch = 7;  // several generator calls per copy
  const auto a = augment_split(o);
  const auto train = data::load_splits(data::parse_data_spec(o.data)).train;
  ASSERT_EQ(a.x.size(0), 3 * train.size());
  EXPECT_EQ(a.x.sizes().slice(1), train.x.sizes().slice(1));
  EXPECT_TRUE(torch::equal(a.x.narrow(0, 0, train.size()), train.x));  // the originals first
  EXPECT_TRUE(torch::equal(a.y, torch::cat({train.y, train.y, train.y})));
  EXPECT_FALSE(torch::allclose(a.x.narrow(0, train.size(), train.size()), train.x));  // views differ from the source
  EXPECT_FALSE(torch::equal(a.x.narrow(0, train.size(), train.size()), a.x.narrow(0, 2 * train.size(), train.size())));
  EXPECT_EQ(a.record["generator"], "LEAVES (run)");

  // Deterministic for a seed; another seed, other views.
  EXPECT_TRUE(torch::equal(augment_split(o).x, a.x));
  o.seed = 5;
  EXPECT_FALSE(torch::equal(augment_split(o).x, a.x));

  const auto out = root / "augmented";
  write_augmented(a, out);
  EXPECT_TRUE(torch::equal(data::read_npy(out / "x.npy"), a.x));
  EXPECT_TRUE(torch::equal(data::read_npy(out / "y.npy"), a.y));
  const std::string spec = "arrays:x=" + (out / "x.npy").string() + ",y=" + (out / "y.npy").string();
  auto q = leaves::testing::tiny_pretrain(std::string("simclr"));
  q.data = spec;
  EXPECT_EQ(pretrain(q, root / "again", nullptr).epochs_done, 1);
  auto f = leaves::testing::tiny_finetune();
  f.data = spec;
  f.encoder = (root / "again").string();
  f.epochs = 1;
  EXPECT_EQ(finetune(f, root / "ft", nullptr).epochs_run, 1);
  // Written whole, and only into a new folder or its own earlier output.
  write_augmented(a, out);
  leaves::testing::expect_invalid_argument([&] { write_augmented(a, root / "run"); }, "--out");
  fs::remove_all(root);
}

TEST(Augment, GeneratorsByNameAndBadOptions) {
  EXPECT_EQ(generator_by_name("random", 3).label, "SimCLR T(0.03), untrained");
  views::GeneratorConfig c;
  c.sigma = 0.04;
  EXPECT_EQ(generator_by_name("simclr", 1, c).generator->kind(), "random");
  EXPECT_EQ(generator_by_name("leaves", 2).label, "LEAVES, untrained");
  leaves::testing::expect_invalid_argument([] { generator_by_name("no-such-run", 1); },
                                           "generator 'no-such-run': not a pre-training run directory");
  AugmentOptions o;
  o.data = leaves::testing::kTinyData;
  o.generator = "leaves";
  o.copies = 0;
  leaves::testing::expect_invalid_argument([&] { augment_split(o); }, "copies must be >= 1");
  o.copies = 1;
  o.split = "dev";
  leaves::testing::expect_invalid_argument([&] { augment_split(o); }, "split must be train, val or test");
}
