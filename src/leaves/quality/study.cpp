#include "leaves/quality/study.h"

#include <algorithm>
#include <cmath>
#include <iomanip>
#include <sstream>

#include "leaves/data/spec.h"
#include "leaves/option_error.h"
#include "leaves/train/pretrain.h"

namespace leaves::quality {

namespace {

std::string percent(double v) {
  std::ostringstream s;
  s << std::fixed << std::setprecision(1) << v << "%";
  return s.str();
}

int64_t channel_index(const data::Dataset& d, const std::string& channel) {
  if (channel.empty()) return 0;
  int64_t index = 0;
  auto it = std::find(d.channel_names.begin(), d.channel_names.end(), channel);
  if (it != d.channel_names.end()) {
    index = it - d.channel_names.begin();
  } else {
    try {
      size_t used = 0;
      index = std::stoll(channel, &used);
      if (used != channel.size()) throw std::invalid_argument(channel);
    } catch (const std::exception&) {
      throw OptionError("channel", " '" + channel + "': not a channel name or index of the data");
    }
  }
  if (index < 0 || index >= d.channels()) throw OptionError("channel", " " + channel + ": out of range");
  return index;
}

}  // namespace

Study run_study(const StudyOptions& o) {
  torch::manual_seed(o.seed);
  auto splits = data::load_splits(data::parse_data_spec(o.data));
  const auto& d = o.split == "train" ? splits.train : o.split == "val" ? splits.val : splits.test;
  Study study;
  study.options = o;
  study.rate = o.rate > 0 ? o.rate : d.rate;
  if (!(study.rate > 0)) throw OptionError("data", " '" + o.data + "': the sampling rate is not known; give --rate HZ");
  study.channel = channel_index(d, o.channel);
  auto x = d.x;
  if (o.limit > 0 && o.limit < x.size(0)) x = x.slice(0, 0, o.limit);
  study.seconds = static_cast<double>(x.size(2)) / study.rate;

  std::vector<std::pair<std::string, torch::Tensor>> sources{{"Original data", x.select(1, study.channel)}};
  auto add_views = [&](const train::NamedGenerator& g) {
    torch::NoGradGuard no_grad;
    g.generator->eval();
    std::vector<torch::Tensor> out;
    for (int64_t v = 0; v < o.views; ++v) out.push_back(g.generator->forward(x).select(1, study.channel));
    sources.emplace_back(g.label, torch::cat(out));
  };
  for (const auto& run : o.generators) add_views(train::trained_generator(run));
  for (const auto& m : o.methods) add_views(train::untrained_generator(m, x.size(1)));

  EcgQualityOptions options;
  options.formula = o.formula;
  options.clean = o.clean;
  for (const auto& [name, signals] : sources) {
    StudyRow row{name, signals.size(0), tally_quality(signals, study.rate, options)};
    for (size_t i = 0; i < row.tally.results.size(); ++i) {
      if (!row.tally.errors[i].empty()) continue;
      ++study.assessed;
      study.without_bassqi += std::isnan(row.tally.results[i].bassqi);
    }
    study.rows.push_back(std::move(row));
  }
  return study;
}

std::string Study::markdown() const {
  std::ostringstream s;
  s << "| | Excellent | Barely acceptable | Unacceptable | not assessable |\n|---|---|---|---|---|\n";
  for (const auto& row : rows) {
    const auto p = row.tally.percent(options.fuzzy);
    s << "| " << row.source << " | " << percent(p[0]) << " | " << percent(p[1]) << " | " << percent(p[2]) << " | "
      << row.tally.failed << " |\n";
  }
  return s.str();
}

std::string Study::csv() const {
  std::ostringstream csv;
  csv << "source,index,ksqi,psqi,bassqi,peaks,hr_max,simple,fuzzy,fuzzy_score,error\n" << std::setprecision(10);
  for (const auto& row : rows) {
    const auto& t = row.tally;
    for (size_t i = 0; i < t.results.size(); ++i) {
      const auto& q = t.results[i];
      csv << '"' << row.source << "\"," << i << ",";
      if (t.errors[i].empty()) {
        csv << q.ksqi << "," << q.psqi << "," << q.bassqi << "," << q.peaks << "," << q.hr_max << ","
            << quality_name(q.simple) << "," << quality_name(q.fuzzy) << "," << q.fuzzy_score << ",";
      } else {
        csv << ",,,,,,,,\"" << t.errors[i] << "\"";
      }
      csv << "\n";
    }
  }
  return csv.str();
}

nlohmann::json Study::to_json() const {
  nlohmann::json summary = nlohmann::json::array();
  for (const auto& row : rows) {
    const auto& t = row.tally;
    const auto p = t.percent(options.fuzzy);
    summary.push_back({{"source", row.source},
                       {"signals", row.signals},
                       {"failed", t.failed},
                       {"simple", {{"Excellent", t.simple[0]}, {"Barely acceptable", t.simple[1]}, {"Unacceptable", t.simple[2]}}},
                       {"fuzzy", {{"Excellent", t.fuzzy[0]}, {"Barely acceptable", t.fuzzy[1]}, {"Unacceptable", t.fuzzy[2]}}},
                       {"percent", {{"Excellent", p[0]}, {"Barely acceptable", p[1]}, {"Unacceptable", p[2]}}}});
  }
  return {{"data", options.data},
          {"split", options.split},
          {"channel", channel},
          {"rate", rate},
          {"approach", options.fuzzy ? "fuzzy" : "simple"},
          {"formula", options.formula == BasSqiFormula::New ? "new" : "old"},
          {"cleaned", options.clean},
          {"views_per_signal", options.views},
          {"rows", summary}};
}

}  // namespace leaves::quality
