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

namespace {
const char* kTinyData = "synthetic:size=96,length=96,seed=3";

FinetuneConfig tiny_finetune() {
  FinetuneConfig c;
  c.data = kTinyData;
  c.width = 4;
  c.epochs = 4;
  c.min_steps = 0;          // the epochs asked for
  c.validation = "split";   // select on the (small) validation split, as these tests check
  c.batch_size = 16;
  c.bootstrap = 50;
  return c;
}

PretrainConfig tiny_pretrain(const std::string& method) {
  return leaves::testing::tiny_pretrain_config(method, kTinyData, 1);
}
}  // namespace

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
