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

TEST(Finetune, LabelSubsetIsStratifiedAndSeeded) {
  auto y = torch::cat({torch::zeros({100}, torch::kLong), torch::ones({20}, torch::kLong), torch::full({3}, 2, torch::kLong)});
  auto keep = label_subset(y, 0.1, 5);
  auto counts = torch::bincount(y.index_select(0, keep));
  EXPECT_TRUE(torch::equal(counts, torch::tensor({10, 2, 1}, torch::kLong)));  // at least one per class
  EXPECT_TRUE(torch::equal(keep, label_subset(y, 0.1, 5)));
  EXPECT_FALSE(torch::equal(keep, label_subset(y, 0.1, 6)));
  EXPECT_EQ(label_subset(y, 1.0, 0).size(0), y.size(0));
  EXPECT_THROW(label_subset(y, 0.0, 0), std::invalid_argument);
}

TEST(Finetune, SupervisedBaselineSelectsOnValidationAndTestsOnce) {
  const auto dir = leaves::testing::temp_dir("supervised");
  auto c = tiny_finetune();
  auto r = finetune(c, dir, nullptr);
  EXPECT_EQ(r.select, "macro_f1");
  EXPECT_GE(r.best_epoch, 1);
  EXPECT_LE(r.best_epoch, 4);
  EXPECT_EQ(r.test.samples, leaves::data::load_splits(leaves::data::parse_data_spec(kTinyData)).test.size());
  for (const char* f : {"config.json", "log.jsonl", "model.pt", "test_predictions.csv", "metrics.json"})
    EXPECT_TRUE(fs::exists(dir / f)) << f;
  // The selected epoch is the first best validation score of the log; the test
  // split appears nowhere in the log.
  auto log = io::JsonLinesLog(dir / "log.jsonl").read();
  ASSERT_EQ(log.size(), 4u);
  double best = -1;
  int64_t best_epoch = 0;
  for (const auto& l : log) {
    EXPECT_FALSE(l.contains("test"));
    const double v = l["val"]["macro_f1"].get<double>();
    if (v > best) best = v, best_epoch = l["epoch"].get<int64_t>();
  }
  EXPECT_EQ(best_epoch, r.best_epoch);
  EXPECT_DOUBLE_EQ(best, r.val.macro_f1);
  auto saved = read_finetune_result(dir);
  EXPECT_EQ(saved["best_epoch"].get<int64_t>(), r.best_epoch);
  EXPECT_EQ(saved["test"]["ci95"]["accuracy"].size(), 2u);
  // A finished run is not overwritten.
  leaves::testing::expect_invalid_argument([&] { finetune(c, dir, nullptr); }, "already holds a finished");
  // Early stopping: patience 1 stops within two epochs of the best.
  const auto dir2 = leaves::testing::temp_dir("supervised-patience");
  c.patience = 1;
  c.epochs = 30;
  c.select = "accuracy";
  auto early = finetune(c, dir2, nullptr);
  EXPECT_EQ(early.epochs_run, early.best_epoch + 1);
  fs::remove_all(dir);
  fs::remove_all(dir2);
}

TEST(Finetune, FromAPretrainedEncoderAndAsALinearProbe) {
  const auto root = leaves::testing::temp_dir("finetune-enc");
  pretrain(tiny_pretrain("simclr"), root / "pre", nullptr);
  auto c = tiny_finetune();
  c.encoder = (root / "pre").string();
  c.epochs = 2;
  auto full = finetune(c, root / "full", nullptr);
  EXPECT_EQ(full.test.samples, 14);  // 15 % of 96, stratified per class
  // Linear probe: the encoder's weights stay exactly as pre-trained.
  c.linear = true;
  finetune(c, root / "linear", nullptr);
  auto pre = load_encoder(root / "pre");
  auto probe = load_encoder(root / "pre");
  torch::serialize::InputArchive a, enc;
  a.load_from((root / "linear" / "model.pt").string());
  a.read("encoder", enc);
  probe->load(enc);
  auto pp = pre->parameters(), qp = probe->parameters();
  ASSERT_EQ(pp.size(), qp.size());
  for (size_t i = 0; i < pp.size(); ++i) EXPECT_TRUE(torch::equal(pp[i], qp[i])) << i;
  auto pb = pre->buffers(), qb = probe->buffers();
  for (size_t i = 0; i < pb.size(); ++i) EXPECT_TRUE(torch::equal(pb[i], qb[i])) << "buffer " << i;
  // Bad settings: one clear error each.
  c.encoder.clear();
  leaves::testing::expect_invalid_argument([&] { finetune(c, root / "x", nullptr); }, "linear needs an encoder");
  c.linear = false;
  c.encoder = (root / "pre").string();
  c.data = "synthetic:size=96,length=96,channels=2";
  leaves::testing::expect_invalid_argument([&] { finetune(c, root / "y", nullptr); }, "pre-trained on 1 channel(s)");
  c.data = kTinyData;
  c.select = "kappa";
  leaves::testing::expect_invalid_argument([&] { finetune(c, root / "z", nullptr); }, "select must be one of auto | accuracy | macro_f1 | auc | sensitivity | specificity, got 'kappa'");
  c.select = "auto";
  c.positive = "nonsense";
  leaves::testing::expect_invalid_argument([&] { finetune(c, root / "w", nullptr); }, "positive 'nonsense'");
  fs::remove_all(root);
}



TEST(Finetune, MultiLabelTargetsTrainWithBinaryCrossEntropyAndSelectOnAuc) {
  // A PTB-XL folder in the real format: the real scp_statements.csv and 60
  // generated 12-lead records (folds 1-8 / 9 / 10) whose superclass targets
  // depend on the signal's level, so that there is something to learn.
  LEAVES_SHARED_DATA_OR_SKIP(shared);
  const auto root = leaves::testing::temp_dir("ptbxl-finetune");
  fs::create_directories(root / "records100" / "00000");
  fs::copy_file(shared / "formats" / "ptb-xl" / "scp_statements.csv", root / "scp_statements.csv");
  std::ofstream db(root / "ptbxl_database.csv");
  db << "ecg_id,patient_id,scp_codes,strat_fold,filename_lr\n";
  const char* codes[4] = {"{'NORM': 100.0}", "{'IMI': 100.0}", "{'IMI': 50.0, 'NDT': 100.0}", "{'LVH': 100.0, 'NORM': 80.0}"};
  for (int id = 1; id <= 60; ++id) {
    char name[32];
    std::snprintf(name, sizeof name, "%05d_lr", id);
    std::ofstream h(root / "records100" / "00000" / (std::string(name) + ".hea"));
    h << name << " 12 100 1000\n";
    for (int c = 0; c < 12; ++c) h << name << ".dat 16 1000.0(0)/mV 16 0\n";
    const int kind = id % 4;
    std::string bytes;
    for (int t = 0; t < 12 * 1000; ++t) {
      const int16_t v = static_cast<int16_t>(200 * kind + (t * 37 + id * 11) % 97);
      bytes.push_back(static_cast<char>(v & 0xFF));
      bytes.push_back(static_cast<char>((v >> 8) & 0xFF));
    }
    std::ofstream(root / "records100" / "00000" / (std::string(name) + ".dat"), std::ios::binary) << bytes;
    const int fold = id <= 40 ? 1 + id % 8 : id <= 50 ? 9 : 10;
    db << id << "," << id << ",\"" << codes[kind] << "\"," << fold << ",records100/00000/" << name << "\n";
  }
  db.close();
  auto c = tiny_finetune();
  c.data = "ptb-xl:" + root.string();
  c.epochs = 3;
  c.class_weights = true;
  auto r = finetune(c, root / "run", nullptr);
  EXPECT_EQ(r.select, "auc");
  EXPECT_EQ(r.class_names, (std::vector<std::string>{"NORM", "MI", "STTC", "CD", "HYP"}));
  EXPECT_EQ(r.test.samples, 10);
  EXPECT_TRUE(std::isfinite(r.test.auc));
  EXPECT_TRUE(std::isfinite(r.test.accuracy));  // on the single-label test samples
  auto j = read_finetune_result(root / "run");
  EXPECT_TRUE(j["test"]["ci95"].contains("auc"));
  fs::remove_all(root);
}

// BatchNorm statistics for evaluation: "auto" recomputes them when an epoch
// has few steps and keeps the running averages otherwise; recomputing changes
// the evaluated (and saved) statistics only, never the training itself; with
// a frozen encoder it is refused.
TEST(Finetune, BatchNormStatisticsRecomputedForSmallSets) {
  const auto root = leaves::testing::temp_dir("finetune-bn");
  auto resolved = [&](const fs::path& dir) {
    std::ifstream f(dir / "config.json");
    return nlohmann::json::parse(f)["resolved"];
  };
  auto c = tiny_finetune();
  c.epochs = 2;
  finetune(c, root / "auto-few", nullptr);  // 65-80 training samples, batches of 16: 5 steps
  EXPECT_EQ(resolved(root / "auto-few")["bn_stats"], "recompute");
  EXPECT_EQ(resolved(root / "auto-few")["steps_per_epoch"], 5);
  c.batch_size = 4;  // 17 steps
  c.epochs = 1;
  finetune(c, root / "auto-many", nullptr);
  EXPECT_EQ(resolved(root / "auto-many")["bn_stats"], "running");

  c = tiny_finetune();
  c.epochs = 2;
  c.bn_stats = "running";
  finetune(c, root / "running", nullptr);
  c.bn_stats = "recompute";
  finetune(c, root / "recompute", nullptr);
  auto a = io::JsonLinesLog(root / "running" / "log.jsonl").read(), b = io::JsonLinesLog(root / "recompute" / "log.jsonl").read();
  ASSERT_EQ(a.size(), 2u);
  ASSERT_EQ(b.size(), 2u);
  for (size_t i = 0; i < a.size(); ++i)
    EXPECT_EQ(a[i]["train_loss"].get<double>(), b[i]["train_loss"].get<double>()) << "epoch " << i + 1;
  auto buffers = [&](const fs::path& dir) {
    torch::serialize::InputArchive archive, enc;
    archive.load_from((dir / "model.pt").string());
    archive.read("encoder", enc);
    leaves::nn::ResNet1d encoder(leaves::nn::ResNet1dOptions(1).width(4));
    encoder->load(enc);
    return torch::cat({encoder->named_buffers()["stem_bn.running_mean"], encoder->named_buffers()["stem_bn.running_var"]});
  };
  EXPECT_FALSE(torch::allclose(buffers(root / "running"), buffers(root / "recompute")));

  c.encoder = "unused";
  c.linear = true;
  leaves::testing::expect_invalid_argument([&] { finetune(c, root / "linear", nullptr); },
                                           "bn_stats recompute: not with linear");
  c.bn_stats = "sometimes";
  c.linear = false;
  leaves::testing::expect_invalid_argument([&] { finetune(c, root / "bad", nullptr); }, "bn_stats must be");
  fs::remove_all(root);
}

TEST(Finetune, WithoutValidationTheValidationSeriesTrainAndTheLastEpochIsKept) {
  const auto dir = leaves::testing::temp_dir("no-validation");
  auto c = tiny_finetune();
  c.validation = "auto";  // 14 validation series, under 50: none
  c.epochs = 3;
  std::ostringstream progress;
  auto r = finetune(c, dir, &progress);
  EXPECT_EQ(r.best_epoch, 3);
  EXPECT_NE(progress.str().find("no validation split (82 training series), the last epoch kept"), std::string::npos)
      << progress.str();
  std::ifstream f(dir / "config.json");
  const auto cfg = nlohmann::json::parse(f);
  EXPECT_EQ(cfg["resolved"]["validation"], "none");
  EXPECT_EQ(cfg["resolved"]["train_samples"], 82);  // 68 train + 14 validation
  for (const auto& l : io::JsonLinesLog(dir / "log.jsonl").read()) EXPECT_FALSE(l.contains("val"));
  fs::remove_all(dir);
  // min_steps: 82 series in batches of 16 are 6 steps; 20 steps need 4 epochs.
  c.min_steps = 20;
  c.epochs = 1;
  auto m = finetune(c, dir, nullptr);
  EXPECT_EQ(m.epochs_run, 4);
  fs::remove_all(dir);
  c.validation = "none";
  c.patience = 2;
  leaves::testing::expect_invalid_argument([&] { finetune(c, dir, nullptr); }, "patience needs a validation split");
}



