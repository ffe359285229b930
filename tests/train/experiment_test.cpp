// leaves experiment: the runner, its resumption, its tables and the presets.
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


TEST(Experiment, TableOverMethodsAndSeedsAndResumes) {
  const auto out = leaves::testing::temp_dir("experiment");
  ExperimentConfig c;
  c.data = kTinyData;
  c.methods = {"supervised", "leaves"};
  c.seeds = 2;
  c.pretrain = tiny_pretrain("leaves");
  c.finetune = tiny_finetune();
  c.finetune.epochs = 2;
  auto s = run_experiment(c, out, nullptr);
  EXPECT_NE(s.table.find("| Supervised (ResNet-18 1D) |"), std::string::npos) << s.table;
  EXPECT_NE(s.table.find("| LEAVES |"), std::string::npos) << s.table;
  EXPECT_NE(s.table.find("Acc."), std::string::npos) << s.table;
  EXPECT_EQ(s.results["runs"].size(), 4u);
  EXPECT_EQ(s.results["summary"][0]["accuracy"]["values"].size(), 2u);
  for (const char* f : {"results.md", "results.csv", "results.json", "experiment.json"}) EXPECT_TRUE(fs::exists(out / f)) << f;
  EXPECT_TRUE(fs::exists(out / "runs" / "leaves" / "seed-1" / "pretrain" / "encoder.pt"));
  std::ifstream md(out / "results.md");
  std::string text((std::istreambuf_iterator<char>(md)), {});
  EXPECT_NE(text.find("leaves pretrain --data"), std::string::npos);
  EXPECT_NE(text.find("leaves supervised --data"), std::string::npos);
  EXPECT_NE(text.find(" --width 4 "), std::string::npos);
  // Mean and sample standard deviation of the two seeds.
  const auto v = s.results["summary"][1]["accuracy"]["values"].get<std::vector<double>>();
  const double mean = (v[0] + v[1]) / 2;
  EXPECT_NEAR(s.results["summary"][1]["accuracy"]["mean"].get<double>(), mean, 1e-12);
  EXPECT_NEAR(s.results["summary"][1]["accuracy"]["std"].get<double>(), std::abs(v[0] - v[1]) / std::sqrt(2.0), 1e-12);

  // Re-run: every run is skipped and the results are the same. An interrupted
  // fine-tuning run (no metrics.json) is redone.
  fs::remove(out / "runs" / "leaves" / "seed-0" / "finetune" / "metrics.json");
  const auto mtime = fs::last_write_time(out / "runs" / "leaves" / "seed-1" / "finetune" / "metrics.json");
  auto again = run_experiment(c, out, nullptr);
  EXPECT_EQ(fs::last_write_time(out / "runs" / "leaves" / "seed-1" / "finetune" / "metrics.json"), mtime);
  EXPECT_TRUE(fs::exists(out / "runs" / "leaves" / "seed-0" / "finetune" / "metrics.json"));
  EXPECT_EQ(again.results["runs"][1], s.results["runs"][1]);
  // Other settings in the same directory are refused.
  c.finetune.lr = 0.5;
  leaves::testing::expect_invalid_argument([&] { run_experiment(c, out, nullptr); }, "other settings");
  c.finetune.lr = 1e-3;
  c.methods = {"mixup"};
  leaves::testing::expect_invalid_argument([&] { run_experiment(c, out, nullptr); }, "mixup");
  fs::remove_all(out);
  // A pre-training batch larger than the training split fails before any run
  // (the supervised runs come first and would otherwise have run).
  c.methods = {"supervised", "leaves"};
  c.pretrain.batch_size = 500;
  leaves::testing::expect_invalid_argument([&] { run_experiment(c, out, nullptr); },
                                           "pre-training batch size 500 (--batch-size, or the preset's "
                                           "pretrain.batch_size) is larger than the training split (");
  EXPECT_FALSE(fs::exists(out));
}

TEST(Experiment, PresetsParseAndRejectUnknownKeys) {
  const auto dir = leaves::testing::temp_dir("presets");
  fs::create_directories(dir);
  for (const char* name : {"apnea-ecg", "sleep-edf", "ptb-xl", "pamap2"}) {
    ExperimentConfig c;
    const auto file = find_preset(std::string(LEAVES_TEST_SOURCE_DIR) + "/configs/" + name + ".toml", dir);
    apply_preset(c, file);
    EXPECT_EQ(c.pretrain.epochs, 100) << name;
    EXPECT_DOUBLE_EQ(c.pretrain.tau, 0.05) << name;
    EXPECT_DOUBLE_EQ(c.pretrain.views.eta, 0.05) << name;
    EXPECT_EQ(c.pretrain.batch_size, 128) << name;
    EXPECT_EQ(c.finetune.epochs, std::string(name) == "pamap2" ? 20 : 30) << name;
    // The paper's optimisation, not the small-set defaults: constant rates,
    // epochs as given, no weight decay, selection on the validation split.
    EXPECT_EQ(c.pretrain.schedule, "constant") << name;
    EXPECT_EQ(c.pretrain.min_steps, 0) << name;
    EXPECT_DOUBLE_EQ(c.pretrain.weight_decay, 0.0) << name;
    EXPECT_DOUBLE_EQ(c.pretrain.generator_lr, 1e-3) << name;
    EXPECT_EQ(c.finetune.schedule, "constant") << name;
    EXPECT_EQ(c.finetune.min_steps, 0) << name;
    EXPECT_EQ(c.finetune.validation, "split") << name;
    EXPECT_EQ(c.preset, name);
  }
  ExperimentConfig c;
  apply_preset(c, std::string(LEAVES_TEST_SOURCE_DIR) + "/configs/apnea-ecg.toml");
  EXPECT_EQ(c.pretrain.views.mixture_components, 12);
  EXPECT_EQ(c.finetune.positive, "apnea");
  EXPECT_EQ(c.metrics, (std::vector<std::string>{"sensitivity", "specificity", "accuracy", "macro_f1"}));
  std::ofstream(dir / "bad.toml") << "[pretrain]\nepochz = 3\n";
  leaves::testing::expect_invalid_argument([&] { apply_preset(c, dir / "bad.toml"); }, "unknown setting 'pretrain.epochz'");
  std::ofstream(dir / "broken.toml") << "[pretrain\n";
  leaves::testing::expect_invalid_argument([&] { apply_preset(c, dir / "broken.toml"); }, "broken.toml:1");
  leaves::testing::expect_invalid_argument([&] { find_preset("no-such-preset", dir); }, "looked at");
  fs::remove_all(dir);
}

// Every preset value against the paper's number (../shared/paper: sections 3.2,
// 4.1-4.4, 5.2's Table 6, 5.4 and appendix A.1).
TEST(Experiment, PresetsEqualThePaper) {
  struct Paper {
    const char* preset;
    int64_t mixture_components;  // 4.x: "M as ... for TimeDis"
    double sigma;                // Table 6: the best T(sigma) of the data set
    int64_t finetune_epochs;     // 4.x: "... epochs ... to fine-tune"
    std::vector<std::string> metrics;
  };
  const std::vector<Paper> paper{
      {"apnea-ecg", 12, 0.03, 30, {"sensitivity", "specificity", "accuracy", "macro_f1"}},
      {"sleep-edf", 10, 0.04, 30, {"accuracy", "macro_f1"}},
      {"pamap2", 7, 0.04, 20, {"accuracy", "macro_f1"}},
      {"ptb-xl", 6, 0.03, 30, {"auc", "accuracy"}},
  };
  for (const auto& p : paper) {
    SCOPED_TRACE(p.preset);
    ExperimentConfig c;
    apply_preset(c, fs::path(LEAVES_TEST_SOURCE_DIR) / "configs" / (std::string(p.preset) + ".toml"));
    EXPECT_EQ(c.pretrain.epochs, 100);      // 4.x: "We used 100 epochs"
    EXPECT_EQ(c.pretrain.lr, 1e-3);         // 4.x: "a learning rate of 1e-3"
    EXPECT_EQ(c.pretrain.batch_size, 128);  // 5.4: "the batch size N of 128"
    EXPECT_EQ(c.pretrain.tau, 0.05);        // 3.2: tau "fixed as 0.05"
    EXPECT_EQ(c.pretrain.views.eta, 0.05);  // 4.x: "the noise threshold delta to be 0.05"
    EXPECT_EQ(c.pretrain.views.mixture_components, p.mixture_components);
    EXPECT_EQ(c.pretrain.views.max_segments, 5);  // 4.x: "K as 5 for Perm"
    EXPECT_EQ(c.pretrain.views.knots, 8);         // A.1: "we fix k to be 8"
    EXPECT_EQ(c.pretrain.views.perm_estimator, "relaxed-bernoulli");  // A.2: RelaxedBernoulli, t = 0.01
    EXPECT_EQ(c.pretrain.views.sigma, p.sigma);
    EXPECT_EQ(c.pretrain.width, 64);              // ResNet-18: 512-d
    EXPECT_EQ(c.pretrain.schedule, "constant");   // the paper's optimisation: a fixed rate,
    EXPECT_EQ(c.pretrain.weight_decay, 0.0);      // no decay,
    EXPECT_EQ(c.pretrain.min_steps, 0);           // epochs as given
    EXPECT_EQ(c.finetune.epochs, p.finetune_epochs);
    EXPECT_EQ(c.finetune.lr, 1e-3);
    EXPECT_EQ(c.finetune.validation, "split");
    EXPECT_EQ(c.metrics, p.metrics);
  }
  // The defaults of the LEAVES module are the paper's too.
  EXPECT_EQ(leaves::views::GeneratorConfig().knots, 8);
  EXPECT_EQ(PretrainConfig().tau, 0.05);
}

// The Sleep-EDF preset selects the paper's cohort on a sleep-edf spec that
// does not choose its subjects, and leaves other specs alone.
TEST(Experiment, SleepEdfPresetSelectsThePapersCohort) {
  ExperimentConfig c;
  apply_preset(c, fs::path(LEAVES_TEST_SOURCE_DIR) / "configs" / "sleep-edf.toml");
  c.data = "sleep-edf:/data/sleep";
  EXPECT_EQ(c.data_spec(), "sleep-edf:/data/sleep,subjects=0-19");
  c.data = "sleep-edf:/data/sleep,subjects=0-4";
  EXPECT_EQ(c.data_spec(), "sleep-edf:/data/sleep,subjects=0-4");
  c.data = "ucr:/data/ECG200";
  EXPECT_EQ(c.data_spec(), "ucr:/data/ECG200");
}
