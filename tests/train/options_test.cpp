// The option schema (leaves/train/options.h): one declaration gives the JSON
// record, the checks and the equivalent command, and they agree.
#include <gtest/gtest.h>

#include "leaves/train/finetune.h"
#include "leaves/train/options.h"
#include "leaves/train/pretrain.h"
#include "testing.h"

namespace {

using leaves::train::FinetuneConfig;
using leaves::train::PretrainConfig;
namespace options = leaves::options;

PretrainConfig unusual_pretrain() {
  PretrainConfig c;
  c.data = "ucr:some dir/ECG200,val=0.3";
  c.method = "viewmaker";
  c.epochs = 7;
  c.lr = 0.00012345678901234;
  c.schedule = "constant";
  c.views.eta = 0.07;
  c.views.knots = 6;
  c.views.per_channel = true;
  c.views.sampling = "inverse-cdf";
  c.cuda_graphs = false;
  c.layout = "channels-last";
  c.seed = 12;
  return c;
}

/// Applies command-line arguments as the CLI does: each flag to its option.
template <class C>
C parse_arguments(const options::Schema<C>& schema, const std::vector<std::string>& args) {
  C c;
  for (size_t i = 0; i < args.size(); ++i) {
    const options::Option<C>* found = nullptr;
    bool negated = false;
    for (const auto& o : schema.options()) {
      if (o.spec.flag() == args[i]) found = &o;
      if (o.spec.type == options::Type::Flag && o.spec.flag(true) == args[i]) found = &o, negated = true;
    }
    if (!found) ADD_FAILURE() << "no option has the flag " << args[i];
    if (!found) return c;
    if (found->spec.type == options::Type::Flag) {
      found->set(c, !negated);
      continue;
    }
    const std::string text = args.at(++i);
    if (found->spec.type == options::Type::Text) found->set(c, text);
    else if (found->spec.type == options::Type::Integer) found->set(c, std::stoll(text));
    else found->set(c, std::stod(text));
  }
  return c;
}

TEST(Options, PretrainConfigRoundTripsThroughJson) {
  const auto c = unusual_pretrain();
  const auto j = c.to_json();
  EXPECT_EQ(j["views"]["knots"], 6);
  EXPECT_EQ(j["cuda_graphs"], false);
  EXPECT_EQ(PretrainConfig::from_json(j).to_json(), j);
}

TEST(Options, TheEquivalentCommandGivesTheSameConfig) {
  const auto c = unusual_pretrain();
  const auto args = options::pretrain_schema().arguments(c, PretrainConfig());
  // Only what differs from the defaults, flags as the CLI spells them.
  EXPECT_NE(std::find(args.begin(), args.end(), "--no-cuda-graphs"), args.end());
  EXPECT_NE(std::find(args.begin(), args.end(), "--per-channel"), args.end());
  EXPECT_EQ(std::find(args.begin(), args.end(), "--batch-size"), args.end());
  EXPECT_EQ(parse_arguments(options::pretrain_schema(), args).to_json(), c.to_json());

  FinetuneConfig f;
  f.encoder = "runs/x";
  f.linear = true;
  f.labels = 0.1;
  f.select = "accuracy";
  f.bn_stats = "running";
  const auto fargs = options::finetune_schema().arguments(f, FinetuneConfig());
  EXPECT_EQ(parse_arguments(options::finetune_schema(), fargs).to_json(), f.to_json());
}

TEST(Options, ChecksNameTheOptionKeyAndTheRange) {
  auto c = PretrainConfig();
  c.batch_size = 1;
  try {
    c.validate();
    ADD_FAILURE() << "batch size 1 accepted";
  } catch (const leaves::OptionError& e) {
    EXPECT_EQ(e.key(), "batch_size");
    EXPECT_STREQ(e.what(), "batch_size must be between 2 and 1048576, got 1");
  }
  c = PretrainConfig();
  c.views.interpolation = "quadratic";
  leaves::testing::expect_invalid_argument([&] { c.validate(); },
                                           "interpolation must be one of linear | cubic, got 'quadratic'");
  c = PretrainConfig();
  c.tau = 0;
  leaves::testing::expect_invalid_argument([&] { c.validate(); }, "tau must be > 0, got 0");
  FinetuneConfig f;
  f.labels = 1.5;
  leaves::testing::expect_invalid_argument([&] { f.validate(); }, "labels must be in (0, 1], got 1.5");
  // A record with a value of the wrong type names the key.
  auto j = PretrainConfig().to_json();
  j["epochs"] = "ten";
  leaves::testing::expect_invalid_argument([&] { PretrainConfig::from_json(j); }, "epochs must be an integer");
}

TEST(Options, FlagsOfKeys) {
  EXPECT_EQ(options::flag_of("batch_size"), "--batch-size");
  EXPECT_EQ(options::flag_of("views.eta"), "--eta");
  EXPECT_EQ(options::flag_of("cuda_graphs"), "--no-cuda-graphs");
  EXPECT_EQ(options::flag_of("bn_stats"), "--bn-stats");
}

TEST(Options, MarkdownTableListsEveryCommandLineOption) {
  const auto md = options::pretrain_schema().markdown(PretrainConfig());
  EXPECT_NE(md.find("| `--knots` | `8` | >= 2 |"), std::string::npos) << md;
  EXPECT_NE(md.find("| `--no-cuda-graphs` |"), std::string::npos);
  EXPECT_NE(md.find("leaves \\| simclr \\| viewmaker"), std::string::npos);
  EXPECT_EQ(md.find("`--kind`"), std::string::npos);  // set by the program, not an option
}

}  // namespace
