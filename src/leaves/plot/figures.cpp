#include "leaves/plot/figures.h"
#include "leaves/io/output.h"

#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <numeric>
#include <cstdlib>
#include <fstream>
#include <map>
#include <sstream>
#include <stdexcept>

namespace leaves::plot {

namespace fs = std::filesystem;

namespace {

constexpr const char* kColors[] = {"#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd",
                                   "#8c564b", "#e377c2", "#17becf", "#7f7f7f", "#bcbd22"};

std::string gp_color(size_t i) { return kColors[i % (sizeof kColors / sizeof kColors[0])]; }

// gnuplot strings in single quotes ('' escapes a quote); enhanced-text
// specials (_ ^ @ & ~ { }) are escaped so names print as written.
std::string gp_text(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (c == '\'') out += "''";
    else if (c == '_' || c == '^' || c == '@' || c == '&' || c == '~' || c == '{' || c == '}') out += std::string("\\") + c;
    else if (c == '\n' || c == '\r') out += ' ';
    else out += c;
  }
  return "'" + out + "'";
}

std::vector<double> gp_values(const torch::Tensor& t) {
  auto c = t.detach().to(torch::kCPU, torch::kDouble).contiguous().flatten();
  return std::vector<double>(c.data_ptr<double>(), c.data_ptr<double>() + c.numel());
}

// A data block: one row per sample, columns x then each series.
std::string gp_columns(const std::vector<double>& x, const std::vector<std::vector<double>>& ys) {
  std::ostringstream s;
  s.precision(9);
  for (size_t i = 0; i < x.size(); ++i) {
    s << x[i];
    for (const auto& y : ys) {
      if (i < y.size() && std::isfinite(y[i])) {
        s << ' ' << y[i];
      } else {
        s << " NaN";
      }
    }
    s << '\n';
  }
  return s.str();
}

std::vector<double> gp_time_axis(int64_t n, double rate) {
  std::vector<double> t(n);
  for (int64_t i = 0; i < n; ++i) t[i] = rate > 0 ? static_cast<double>(i) / rate : static_cast<double>(i);
  return t;
}

std::string gnuplot_program() {
  const char* env = std::getenv("LEAVES_GNUPLOT");
  return env && *env ? env : "gnuplot";
}

}  // namespace

void render(const std::vector<std::pair<std::string, std::string>>& data, const std::string& body, const fs::path& stem,
            FigureSize size) {
  if (size.width < 100 || size.height < 100 || size.width > 10000 || size.height > 10000) {
    throw std::invalid_argument("figure size " + std::to_string(size.width) + "x" + std::to_string(size.height) +
                                " must be within 100..10000 pixels");
  }
  if (stem.string().find('\'') != std::string::npos) throw std::invalid_argument(stem.string() + ": no quotes in figure paths");
  if (stem.has_parent_path()) fs::create_directories(stem.parent_path());
  const std::string tag = ".tmp." + std::to_string(::getpid());
  const fs::path png_tmp = stem.string() + tag + ".png", svg_tmp = stem.string() + tag + ".svg";
  const fs::path script = stem.string() + tag + ".gp", errors = stem.string() + tag + ".err";
  {
    std::ofstream s(script);
    for (const auto& [name, block] : data) s << "$" << name << " << EOD\n" << block << "EOD\n";
    s << "set encoding utf8\n";
    s << "set terminal pngcairo size " << size.width << "," << size.height << " enhanced font 'Sans,10' background '#ffffff'\n"
      << "set output '" << png_tmp.string() << "'\n"
      << body << "\nunset multiplot\nset output\n"
      << "reset\nset terminal svg size " << size.width << "," << size.height
      << " enhanced font 'Sans,10' background '#ffffff'\n"
      << "set output '" << svg_tmp.string() << "'\n"
      << body << "\nunset multiplot\nset output\n";
    if (!s) throw std::runtime_error(script.string() + ": cannot write the gnuplot script");
  }
  const pid_t pid = fork();
  if (pid == 0) {
    FILE* err = std::freopen(errors.c_str(), "w", stderr);
    (void)err;
    const std::string program = gnuplot_program();
    execlp(program.c_str(), program.c_str(), script.c_str(), static_cast<char*>(nullptr));
    std::fprintf(stderr, "cannot run %s\n", program.c_str());
    _exit(127);
  }
  int status = 0;
  waitpid(pid, &status, 0);
  std::ifstream e(errors);
  const std::string message((std::istreambuf_iterator<char>(e)), {});
  fs::remove(script);
  fs::remove(errors);
  const bool ok = WIFEXITED(status) && WEXITSTATUS(status) == 0 && fs::exists(png_tmp) && fs::exists(svg_tmp);
  if (!ok) {
    fs::remove(png_tmp);
    fs::remove(svg_tmp);
    if (WIFEXITED(status) && WEXITSTATUS(status) == 127) {
      throw std::runtime_error("cannot run '" + gnuplot_program() + "': install gnuplot (Debian: gnuplot-nox) or set LEAVES_GNUPLOT");
    }
    throw std::runtime_error("gnuplot failed for " + stem.string() + ": " + message.substr(0, 2000));
  }
  try {
    io::install_file(png_tmp, stem.string() + ".png");
  } catch (...) {
    fs::remove(svg_tmp);
    throw;
  }
  io::install_file(svg_tmp, stem.string() + ".svg");
}

void plot_views(const torch::Tensor& original, const Series& views, double rate, const std::string& title,
                const fs::path& stem, FigureSize size) {
  const auto x = gp_values(original);
  std::vector<std::vector<double>> ys{x};
  for (const auto& [name, v] : views) ys.push_back(gp_values(v));
  std::ostringstream b;
  b << "set title " << gp_text(title) << "\nset xlabel " << gp_text(rate > 0 ? "time (s)" : "sample")
    << "\nset grid\nset key outside top center horizontal\nplot $signals using 1:2 with lines lw 2 lc rgb '#000000' title 'original'";
  for (size_t i = 0; i < views.size(); ++i) {
    b << ", $signals using 1:" << i + 3 << " with lines lw 1.2 lc rgb '" << gp_color(i) << "' title " << gp_text(views[i].first);
  }
  render({{"signals", gp_columns(gp_time_axis(static_cast<int64_t>(x.size()), rate), ys)}}, b.str(), stem, size);
}

void plot_gallery(const torch::Tensor& original, const Series& augmented, double rate, const fs::path& stem,
                  FigureSize size) {
  const auto x = gp_values(original);
  std::vector<std::vector<double>> ys{x};
  for (const auto& [name, v] : augmented) ys.push_back(gp_values(v));
  const size_t n = augmented.size();
  const size_t cols = n > 3 ? 2 : 1, rows = (n + cols - 1) / cols;
  std::ostringstream b;
  b << "set multiplot layout " << rows << "," << cols << " title 'Each augmentation on its own'\nset grid\nunset key\n"
    << "set xlabel " << gp_text(rate > 0 ? "time (s)" : "sample") << "\n";
  for (size_t i = 0; i < n; ++i) {
    b << "set title " << gp_text(augmented[i].first) << "\nplot $signals using 1:2 with lines lc rgb '#999999' lw 1.5, "
      << "$signals using 1:" << i + 3 << " with lines lc rgb '" << gp_color(i) << "' lw 1.2\n";
  }
  b << "unset multiplot";
  render({{"signals", gp_columns(gp_time_axis(static_cast<int64_t>(x.size()), rate), ys)}}, b.str(), stem, size);
}

void plot_time_distortion(const torch::Tensor& weights, const torch::Tensor& means, const torch::Tensor& scales,
                          const torch::Tensor& original, const torch::Tensor& distorted, const torch::Tensor& lambda,
                          const fs::path& stem, FigureSize size) {
  const auto w = gp_values(weights), m = gp_values(means), s = gp_values(scales);
  // Density of lambda = tanh(z): p(atanh(l)) / (1 - l^2).
  std::vector<double> grid, density;
  for (int i = 1; i < 800; ++i) {
    const double l = -1 + 2.0 * i / 800.0, z = std::atanh(l);
    double p = 0;
    for (size_t k = 0; k < w.size(); ++k) p += w[k] * std::exp(-0.5 * std::pow((z - m[k]) / s[k], 2)) / (s[k] * std::sqrt(2 * M_PI));
    grid.push_back(l);
    density.push_back(p / (1 - l * l));
  }
  std::vector<double> centres, heights;
  for (size_t k = 0; k < w.size(); ++k) centres.push_back(std::tanh(m[k])), heights.push_back(w[k]);
  const auto x = gp_values(original), y = gp_values(distorted), l = gp_values(lambda);
  std::vector<double> even(x.size());
  for (size_t i = 0; i < x.size(); ++i) even[i] = x.size() > 1 ? -1 + 2.0 * i / (x.size() - 1) : 0;
  std::ostringstream b;
  b << "set multiplot layout 1,2 title 'Time distortion: a Gaussian mixture drives where the signal is resampled'\n"
    << "set grid\nset title 'density of {/Symbol l} = tanh(z), z drawn from the mixture'\nset xlabel '{/Symbol l}'\nset xrange [-1:1]\n"
    << "set key top left\nplot $density using 1:2 with lines lw 2 lc rgb '#1f77b4' title 'density', "
    << "$centres using 1:2 with impulses lw 2 lc rgb '#d62728' title 'tanh({/Symbol m}_i), height {/Symbol p}_i'\n"
    << "set title 'signal against its distorted view'\nset xlabel 'position (-1: first sample, +1: last)'\n"
    << "plot $signal using 1:2 with lines lw 1.5 lc rgb '#000000' title 'original', "
    << "$signal using 1:3 with lines lw 1.2 lc rgb '#d62728' title 'resampled at sorted {/Symbol l}'\nunset multiplot";
  render({{"density", gp_columns(grid, {density})}, {"centres", gp_columns(centres, {heights})}, {"signal", gp_columns(even, {x, y, l})}},
         b.str(), stem, size);
}

void plot_params(const std::vector<nlohmann::json>& log, const fs::path& stem, FigureSize size) {
  std::vector<double> epochs;
  std::map<std::string, std::vector<double>> series;  // sorted by name
  std::vector<std::string> order;
  for (const auto& r : log) {
    if (!r.contains("generator") || !r["generator"].is_object() || r["generator"].empty()) continue;
    epochs.push_back(r.value("epoch", static_cast<double>(epochs.size() + 1)));
    for (auto it = r["generator"].begin(); it != r["generator"].end(); ++it) {
      if (!series.count(it.key())) order.push_back(it.key());
      auto& v = series[it.key()];
      v.resize(epochs.size() - 1, std::nan(""));
      v.push_back(it.value().is_number() ? it.value().get<double>() : std::nan(""));
    }
  }
  if (epochs.empty()) throw std::invalid_argument("plot params: the log has no learned view parameters (method simclr?)");
  // Panels by the parameter's kind: the name up to its last '_' (mixture_weight_3 -> mixture_weight).
  std::vector<std::string> groups;
  std::map<std::string, std::vector<std::string>> members;
  for (const auto& name : order) {
    auto cut = name.rfind('_');
    std::string g = name;
    if (cut != std::string::npos && name.find_first_not_of("0123456789", cut + 1) == std::string::npos) g = name.substr(0, cut);
    else if (name.find("sigma") != std::string::npos) g = "sigma";
    if (!members.count(g)) groups.push_back(g);
    members[g].push_back(name);
  }
  std::vector<std::vector<double>> ys;
  std::map<std::string, size_t> column;
  for (const auto& name : order) {
    column[name] = ys.size() + 2;
    auto v = series[name];
    v.resize(epochs.size(), std::nan(""));
    ys.push_back(v);
  }
  const size_t cols = groups.size() > 2 ? 2 : 1, rows = (groups.size() + cols - 1) / cols;
  std::ostringstream b;
  b << "set multiplot layout " << rows << "," << cols << " title 'Learned view parameters across epochs'\n"
    << "set grid\nset xlabel 'epoch'\nset key outside right top font ',8'\n";
  for (const auto& g : groups) {
    b << "set title " << gp_text(g) << "\nplot ";
    for (size_t i = 0; i < members[g].size(); ++i) {
      const auto& name = members[g][i];
      b << (i ? ", " : "") << "$params using 1:" << column[name] << " with linespoints pt 7 ps 0.4 lc rgb '" << gp_color(i)
        << "' title " << gp_text(name);
    }
    b << "\n";
  }
  b << "unset multiplot";
  render({{"params", gp_columns(epochs, ys)}}, b.str(), stem, size);
}

void plot_params_of_runs(const std::vector<std::pair<std::string, std::vector<nlohmann::json>>>& runs,
                         const fs::path& stem, FigureSize size) {
  // The scalar parameters (not the mixture's, whose count differs by data
  // set), in the order the first run logs them: the paper's Fig. 5.
  std::vector<std::string> names;
  for (const auto& [label, log] : runs)
    for (const auto& r : log)
      if (r.contains("generator") && r["generator"].is_object())
        for (auto it = r["generator"].begin(); it != r["generator"].end(); ++it)
          if (it.key().rfind("mixture_", 0) != 0 && std::find(names.begin(), names.end(), it.key()) == names.end())
            names.push_back(it.key());
  if (names.empty()) throw std::invalid_argument("plot params: no run logs learned view parameters (method simclr?)");
  std::vector<std::pair<std::string, std::string>> blocks;
  for (size_t k = 0; k < runs.size(); ++k) {
    std::vector<double> epochs;
    std::vector<std::vector<double>> ys(names.size());
    for (const auto& r : runs[k].second) {
      if (!r.contains("generator") || !r["generator"].is_object()) continue;
      epochs.push_back(r.value("epoch", static_cast<double>(epochs.size() + 1)));
      for (size_t i = 0; i < names.size(); ++i) {
        const auto& g = r["generator"];
        ys[i].push_back(g.contains(names[i]) && g[names[i]].is_number() ? g[names[i]].get<double>() : std::nan(""));
      }
    }
    if (epochs.empty()) throw std::invalid_argument("plot params: run '" + runs[k].first + "' logs no learned view parameters");
    blocks.emplace_back("run" + std::to_string(k), gp_columns(epochs, ys));
  }
  const size_t cols = names.size() > 2 ? 2 : 1, rows = (names.size() + cols - 1) / cols;
  std::ostringstream b;
  b << "set multiplot layout " << rows << "," << cols << " title 'Learned view parameters across epochs' font ',13'\n"
    << "set grid\nset xlabel 'epoch' font ',11'\nset tics font ',10'\nset key top left font ',10' opaque box\n";
  for (size_t i = 0; i < names.size(); ++i) {
    // The runs are named once, in the first panel; the others have no key box.
    if (i == 1) b << "unset key\n";
    b << "set title " << gp_text(names[i]) << " font ',12'\nplot ";
    for (size_t k = 0; k < runs.size(); ++k) {
      b << (k ? ", " : "") << "$run" << k << " using 1:" << i + 2 << " with linespoints pt 7 ps 0.4 lw 2 lc rgb '"
        << gp_color(k) << "' title " << (i == 0 ? gp_text(runs[k].first) : std::string("''"));
    }
    b << "\n";
  }
  b << "unset multiplot";
  render(blocks, b.str(), stem, size);
}

void plot_curves(const std::vector<nlohmann::json>& log, const fs::path& stem, FigureSize size) {
  std::vector<double> epochs;
  std::vector<std::vector<double>> ys(2);
  std::string first = "encoder_loss", second = "generator_loss", right_label;
  const bool finetune = !log.empty() && log.front().contains("train_loss");
  std::string metric;
  if (finetune) {
    first = "train_loss";
    for (const char* m : {"macro_f1", "auc", "accuracy"}) {
      // A run without a validation split (--validation none) logs no "val".
      if (log.front().contains("val") && log.front()["val"].contains(m) && log.front()["val"][m].is_number()) {
        metric = m;
        break;
      }
    }
    // Without a validation split: the learning rate beside the training loss.
    second = metric.empty() ? "lr" : "validation " + metric;
  } else if (!log.empty() && log.front().contains("positive_similarity")) {
    // The generator loss is the encoder loss negated: how hard the views are says more.
    second = "positive_similarity";
  }
  for (const auto& r : log) {
    if (!r.contains("epoch")) continue;
    epochs.push_back(r["epoch"].get<double>());
    auto num = [](const nlohmann::json& j) { return j.is_number() ? j.get<double>() : std::nan(""); };
    ys[0].push_back(num(r.value(first, nlohmann::json())));
    ys[1].push_back(finetune && !metric.empty() ? num(r["val"][metric]) : num(r.value(second, nlohmann::json())));
  }
  if (epochs.empty()) throw std::invalid_argument("plot curves: the log has no epochs");
  std::ostringstream b;
  b << "set title "
    << gp_text(!finetune          ? "Pre-training"
               : metric.empty() ? "Fine-tuning (no validation split): training loss and learning rate"
                                : "Fine-tuning: training loss and validation metric")
    << "\nset grid\nset xlabel 'epoch'\nset ylabel " << gp_text(finetune ? first : "NT-Xent loss")
    << "\nset key outside top center horizontal\n";  // between the title and the plot: never over a curve
  const bool right_axis = finetune || second == "positive_similarity";
  if (right_axis) {
    b << "set y2label "
      << gp_text(!finetune ? "positive-pair cosine similarity" : metric.empty() ? "learning rate" : second)
      << "\nset y2tics\nset ytics nomirror\n";
  }
  b << "plot $curves using 1:2 with linespoints pt 7 ps 0.5 lw 2 lc rgb '#1f77b4' title " << gp_text(first)
    << ", $curves using 1:3 " << (right_axis ? "axes x1y2 " : "") << "with linespoints pt 5 ps 0.5 lw 2 lc rgb '#d62728' title "
    << gp_text(second);
  render({{"curves", gp_columns(epochs, ys)}}, b.str(), stem, size);
}

void plot_confusion(const std::vector<std::vector<int64_t>>& confusion, const std::vector<std::string>& classes,
                    const fs::path& stem, FigureSize size) {
  const size_t K = confusion.size();
  if (K == 0) throw std::invalid_argument("plot confusion: empty matrix");
  std::ostringstream data;
  for (size_t i = 0; i < K; ++i) {
    int64_t row = 0;
    for (auto c : confusion[i]) row += c;
    for (size_t j = 0; j < K; ++j) {
      const double share = row > 0 ? static_cast<double>(confusion[i][j]) / row : 0.0;
      data << j << ' ' << i << ' ' << share << ' ' << confusion[i][j] << '\n';
    }
  }
  std::ostringstream b;
  b << "set title 'Confusion matrix (rows: true class; colour: share of the row)'\nset xlabel 'predicted'\nset ylabel 'true'\n"
    << "set xrange [-0.5:" << K - 0.5 << "]\nset yrange [" << K - 0.5 << ":-0.5]\nset cbrange [0:1]\n"
    << "set palette defined (0 '#ffffff', 1 '#1f77b4')\nset size ratio -1\nset xtics (";
  for (size_t k = 0; k < K; ++k) b << (k ? ", " : "") << gp_text(k < classes.size() ? classes[k] : std::to_string(k)) << " " << k;
  b << ")\nset ytics (";
  for (size_t k = 0; k < K; ++k) b << (k ? ", " : "") << gp_text(k < classes.size() ? classes[k] : std::to_string(k)) << " " << k;
  b << ")\nplot $cm using 1:2:3 with image notitle, $cm using 1:2:(sprintf('%d', $4)) with labels font ',12' notitle";
  render({{"cm", data.str()}}, b.str(), stem, size);
}

void plot_roc(const torch::Tensor& labels, const torch::Tensor& probs, const std::vector<std::string>& classes,
              int64_t positive, const fs::path& stem, FigureSize size) {
  if (probs.dim() != 2 || labels.size(0) != probs.size(0)) throw std::invalid_argument("plot roc: labels [N], probabilities [N, K]");
  const int64_t K = probs.size(1);
  std::vector<int64_t> which;
  if (K == 2) {
    which.push_back(positive >= 0 ? positive : 1);
  } else {
    for (int64_t k = 0; k < K; ++k) which.push_back(k);
  }
  const auto y = labels.to(torch::kLong).contiguous();
  std::vector<std::pair<std::string, std::string>> data;
  std::ostringstream b;
  b << "set title 'ROC curves (test split)'\nset xlabel 'false positive rate'\nset ylabel 'true positive rate'\n"
    << "set grid\nset size ratio -1\nset xrange [0:1]\nset yrange [0:1]\nset key bottom right\nplot x with lines dt 2 lc rgb '#999999' notitle";
  for (size_t c = 0; c < which.size(); ++c) {
    const int64_t k = which[c];
    const auto score = gp_values(probs.select(1, k));
    std::vector<size_t> order(score.size());
    std::iota(order.begin(), order.end(), 0);
    std::sort(order.begin(), order.end(), [&](size_t a, size_t b2) { return score[a] > score[b2]; });
    int64_t P = 0, Nn = 0;
    for (int64_t i = 0; i < y.size(0); ++i) (y.data_ptr<int64_t>()[i] == k ? P : Nn)++;
    if (P == 0 || Nn == 0) continue;
    std::vector<double> fpr{0}, tpr{0};
    int64_t tp = 0, fp = 0;
    for (size_t i = 0; i < order.size(); ++i) {
      (y.data_ptr<int64_t>()[order[i]] == k ? tp : fp)++;
      if (i + 1 == order.size() || score[order[i + 1]] != score[order[i]]) {
        fpr.push_back(static_cast<double>(fp) / Nn);
        tpr.push_back(static_cast<double>(tp) / P);
      }
    }
    const std::string name = "roc" + std::to_string(c);
    data.push_back({name, gp_columns(fpr, {tpr})});
    b << ", $" << name << " using 1:2 with lines lw 2 lc rgb '" << gp_color(c) << "' title "
      << gp_text(k < static_cast<int64_t>(classes.size()) ? classes[k] : std::to_string(k));
  }
  if (data.empty()) throw std::invalid_argument("plot roc: no class has both positive and negative test samples");
  render(data, b.str(), stem, size);
}

}  // namespace leaves::plot
