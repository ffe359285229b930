// leaves benchmark: one table over several sets, published figures, the paired test.
#include "leaves/train/finetune.h"

#include <fstream>

#include "leaves/data/spec.h"
#include "leaves/train/benchmark.h"
#include "leaves/train/experiment.h"
#include "leaves/train/pretrain.h"
#include "leaves/io/output.h"
#include "testing.h"
#include "train_testing.h"

namespace fs = std::filesystem;
using namespace leaves;
using namespace leaves::train;

using leaves::testing::kTinyData;
using leaves::testing::tiny_finetune;
using leaves::testing::tiny_pretrain;


TEST(Benchmark, WilcoxonSignedRankIsExact) {
  // All five differences positive: one sign pattern of 32 as extreme on each side.
  EXPECT_NEAR(wilcoxon_signed_rank_p({1, 2, 3, 4, 5}), 2.0 / 32, 1e-12);
  // Ranks 1..4, W+ = 1 (only the smallest positive): P(W+ <= 1) = 2/16, two-sided 0.25.
  EXPECT_NEAR(wilcoxon_signed_rank_p({0.1, -0.2, -0.3, -0.4}), 0.25, 1e-12);
  // Zeros are dropped; tied magnitudes share ranks 1.5, 1.5, 3: W+ = 1.5,
  // sums <= 1.5 are {}, {a}, {b}: 3 of 8, two-sided 0.75.
  EXPECT_NEAR(wilcoxon_signed_rank_p({0, 0.5, -0.5, -1}), 0.75, 1e-12);
  EXPECT_DOUBLE_EQ(wilcoxon_signed_rank_p({0, 0}), 1.0);
  const auto c = compare_paired({0.9, 0.8, 0.7, 0.6}, {0.8, 0.8, 0.9, 0.5});
  EXPECT_EQ(c.wins, 2);
  EXPECT_EQ(c.ties, 1);
  EXPECT_EQ(c.losses, 1);
  EXPECT_NEAR(c.mean_difference, 0.0, 1e-12);
}

TEST(Benchmark, PublishedFiguresAreCheckedOnRead) {
  const auto dir = leaves::testing::temp_dir("published");
  fs::create_directories(dir);
  std::ofstream(dir / "ok.csv") << "set,T-Loss,ResNet\nECG200,0.94,0.87\nGunPoint,0.98,-\n";
  auto t = read_published(dir / "ok.csv");
  EXPECT_EQ(t.columns, (std::vector<std::string>{"T-Loss", "ResNet"}));
  EXPECT_DOUBLE_EQ(t.values["ECG200"]["ResNet"], 0.87);
  EXPECT_EQ(t.values["GunPoint"].count("ResNet"), 0u);
  std::ofstream(dir / "pct.csv") << "set,T-Loss\nECG200,94\n";
  leaves::testing::expect_invalid_argument([&] { read_published(dir / "pct.csv"); }, "pct.csv:2: T-Loss '94' is not an accuracy");
  std::ofstream(dir / "short.csv") << "set,T-Loss,DTW\nECG200,0.9\n";
  leaves::testing::expect_invalid_argument([&] { read_published(dir / "short.csv"); }, "short.csv:2: has 2 cells");
  std::ofstream(dir / "head.csv") << "name,T-Loss\n";
  leaves::testing::expect_invalid_argument([&] { read_published(dir / "head.csv"); }, "expected a header 'set,");
  leaves::testing::expect_invalid_argument([&] { set_spec(dir); }, "holds none of");
  fs::remove_all(dir);
}

TEST(Benchmark, OneTableOverSetsBesidePublishedFiguresAndThePairedComparison) {
  LEAVES_SHARED_DATA_OR_SKIP(shared);
  const auto out = leaves::testing::temp_dir("benchmark");
  fs::create_directories(out.parent_path());
  const auto published = out.string() + "-published.csv";
  std::ofstream(published) << "set,T-Loss,ResNet\nECG200,0.940,0.870\nBasicMotions,1.000,\n";
  BenchmarkConfig c;
  c.root = shared;
  c.sets = {"ucr/ECG200", "uea/BasicMotions"};
  c.published = published;
  c.experiment.methods = {"simclr", "leaves"};
  c.experiment.seeds = 2;
  c.experiment.pretrain = tiny_pretrain("leaves");
  c.experiment.pretrain.batch_size = 64;  // larger than BasicMotions' 32 training series: clamped
  c.experiment.finetune = tiny_finetune();
  c.experiment.finetune.epochs = 1;
  c.experiment.finetune.validation = "auto";
  std::ostringstream progress;
  auto r = run_benchmark(c, out, &progress);
  EXPECT_NE(progress.str().find("# BasicMotions: pre-training batch 32 (the training split) instead of 64"),
            std::string::npos);
  ASSERT_EQ(r["sets"].size(), 2u);
  EXPECT_EQ(r["sets"][0]["set"], "ECG200");
  EXPECT_EQ(r["sets"][1]["channels"], 6);
  for (const char* column : {"SimCLR", "LEAVES", "SimCLR SVM", "LEAVES SVM"}) {
    EXPECT_EQ(r["sets"][0]["ours"][column]["values"].size(), 2u) << column;
  }
  EXPECT_EQ(r["against_published"]["LEAVES SVM"]["T-Loss"]["sets"], 2);
  EXPECT_EQ(r["against_published"]["LEAVES SVM"]["ResNet"]["sets"], 1);  // none published for BasicMotions
  const auto& pairs = r["leaves_against_simclr"]["fine-tuned"]["(set, seed) pairs"];
  EXPECT_EQ(pairs["n"], 4);
  EXPECT_EQ(pairs["wins"].get<int>() + pairs["ties"].get<int>() + pairs["losses"].get<int>(), 4);
  // The mean difference is that of the per-seed values written beside it.
  double diff = 0;
  for (const auto& s : r["sets"]) {
    for (size_t i = 0; i < 2; ++i) {
      diff += s["ours"]["LEAVES"]["values"][i].get<double>() - s["ours"]["SimCLR"]["values"][i].get<double>();
    }
  }
  EXPECT_NEAR(pairs["mean_difference"].get<double>(), diff / 4, 1e-12);
  for (const char* f : {"benchmark.md", "benchmark.csv", "benchmark.json", "sets/ECG200/results.md"}) {
    EXPECT_TRUE(fs::exists(out / f)) << f;
  }
  std::ifstream md(out / "benchmark.md");
  const std::string text((std::istreambuf_iterator<char>(md)), {});
  EXPECT_NE(text.find("| ECG200 | 100 | 100 |"), std::string::npos) << text;
  EXPECT_NE(text.find("## LEAVES against SimCLR"), std::string::npos);
  // Re-run: finished runs are reused (same figures).
  auto again = run_benchmark(c, out, nullptr);
  EXPECT_EQ(again["sets"], r["sets"]);
  fs::remove_all(out);
  fs::remove(published);
}
