// Every figure: a PNG of the requested size that is not blank (decoded with
// libpng, pixel variance checked) and an SVG that parses as XML (libxml2);
// the HTML report of each kind of run directory.
#include "leaves/plot/figures.h"

#include <libxml/parser.h>
#include <png.h>

#include <fstream>

#include "leaves/plot/report.h"
#include "leaves/train/experiment.h"
#include "leaves/train/finetune.h"
#include "leaves/train/pretrain.h"
#include "testing.h"
#include "train_testing.h"

namespace fs = std::filesystem;
using namespace leaves;

namespace {

struct Png {
  int width = 0, height = 0;
  double variance = 0;
};

Png decode_png(const fs::path& file) {
  png_image image{};
  image.version = PNG_IMAGE_VERSION;
  Png out;
  if (!png_image_begin_read_from_file(&image, file.c_str())) {
    ADD_FAILURE() << file << ": not a PNG: " << image.message;
    return out;
  }
  image.format = PNG_FORMAT_GRAY;
  std::vector<unsigned char> pixels(PNG_IMAGE_SIZE(image));
  if (!png_image_finish_read(&image, nullptr, pixels.data(), 0, nullptr)) {
    ADD_FAILURE() << file << ": cannot decode: " << image.message;
    return out;
  }
  out.width = static_cast<int>(image.width);
  out.height = static_cast<int>(image.height);
  double mean = 0, sq = 0;
  for (auto p : pixels) mean += p, sq += double(p) * p;
  mean /= pixels.size();
  out.variance = sq / pixels.size() - mean * mean;
  return out;
}

bool svg_parses(const fs::path& file) {
  xmlDocPtr doc = xmlReadFile(file.c_str(), nullptr, XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
  if (!doc) return false;
  const bool svg = xmlDocGetRootElement(doc) && std::string(reinterpret_cast<const char*>(xmlDocGetRootElement(doc)->name)) == "svg";
  xmlFreeDoc(doc);
  return svg;
}

void expect_figure(const fs::path& stem, int width, int height) {
  const auto png = decode_png(stem.string() + ".png");
  EXPECT_EQ(png.width, width) << stem;
  EXPECT_EQ(png.height, height) << stem;
  EXPECT_GT(png.variance, 50.0) << stem << ": blank?";
  EXPECT_TRUE(svg_parses(stem.string() + ".svg")) << stem;
  EXPECT_FALSE(fs::exists(stem.string() + ".tmp." + std::to_string(::getpid()) + ".png"));
}

struct Runs {
  fs::path root, pre, ft;
};

// One tiny LEAVES pre-training run and a fine-tuning run on top of it, shared by the tests.
const Runs& runs() {
  static const Runs r = [] {
    Runs r;
    r.root = leaves::testing::temp_dir("plot-runs");
    static fs::path root_to_remove;
    root_to_remove = r.root;
    std::atexit([] { fs::remove_all(root_to_remove); });
    r.pre = r.root / "pre";
    r.ft = r.root / "ft";
    const auto p = leaves::testing::tiny_pretrain_config("leaves", "synthetic:size=64,length=300");
    train::pretrain(p, r.pre, nullptr);
    train::FinetuneConfig f;
    f.data = p.data;
    f.encoder = r.pre.string();
    f.epochs = 2;
    f.min_steps = 0;
    f.validation = "split";  // the curves plot validation
    f.batch_size = 16;
    f.bootstrap = 20;
    train::finetune(f, r.ft, nullptr);
    return r;
  }();
  return r;
}

}  // namespace

TEST(Figures, EveryPlotIsAPngOfTheRequestedSizeAndAnSvg) {
  const auto& r = runs();
  const auto out = r.root / "figures";
  torch::manual_seed(0);
  auto x = leaves::testing::smooth_signal(1, 1, 300, torch::kFloat)[0][0];
  plot::plot_views(x, {{"view a", x * 1.1}, {"view b", x.flip(0)}}, 100, "views", out / "views", {640, 400});
  expect_figure(out / "views", 640, 400);
  auto g = std::dynamic_pointer_cast<views::LeavesImpl>(train::load_generator(r.pre));
  ASSERT_TRUE(g);
  plot::figure_gallery(*g, x, 100, out / "gallery", {900, 700});
  expect_figure(out / "gallery", 900, 700);
  plot::figure_time_distortion(*g, x, out / "td", {1000, 450});
  expect_figure(out / "td", 1000, 450);
  plot::figure_params(r.pre, out / "params", {800, 800});
  expect_figure(out / "params", 800, 800);
  // Fig. 5: runs compared, a line each, named in the legend (the SVG holds the labels).
  plot::figure_params_of_runs({r.pre, r.pre}, {"Apnea-ECG", "PAMAP2"}, out / "params-runs", {900, 700});
  expect_figure(out / "params-runs", 900, 700);
  {
    std::ifstream svg(out.string() + "/params-runs.svg");
    const std::string text((std::istreambuf_iterator<char>(svg)), {});
    EXPECT_NE(text.find("Apnea-ECG"), std::string::npos);
    EXPECT_NE(text.find("PAMAP2"), std::string::npos);
    EXPECT_NE(text.find("jitter_sigma"), std::string::npos);
    EXPECT_EQ(text.find("mixture_weight"), std::string::npos);  // the scalar parameters only
  }
  leaves::testing::expect_invalid_argument([&] { plot::figure_params_of_runs({r.pre, r.pre}, {"one"}, out / "p2"); },
                                           "label: give one per --run (2 runs, 1 labels)");
  plot::figure_curves(r.pre, out / "curves", {700, 400});
  expect_figure(out / "curves", 700, 400);
  plot::figure_curves(r.ft, out / "ft-curves", {700, 400});
  expect_figure(out / "ft-curves", 700, 400);
  // A fine-tuning run without a validation split logs no "val": the curves show
  // the learning rate instead (gnuplot refused an all-undefined axis before).
  std::vector<nlohmann::json> no_val;
  for (int e = 1; e <= 5; ++e) no_val.push_back({{"epoch", e}, {"train_loss", 1.0 / e}, {"lr", 1e-3 / e}, {"selected", true}});
  plot::plot_curves(no_val, out / "ft-no-val", {700, 400});
  expect_figure(out / "ft-no-val", 700, 400);
  plot::figure_confusion(r.ft, out / "confusion", {500, 500});
  expect_figure(out / "confusion", 500, 500);
  plot::figure_roc(r.ft, out / "roc", {500, 500});
  expect_figure(out / "roc", 500, 500);
  // Multi-class ROC and confusion from literals.
  auto labels = torch::tensor({0, 1, 2, 2, 1, 0}, torch::kLong);
  auto probs = torch::softmax(torch::randn({6, 3}, torch::kDouble), 1);
  plot::plot_roc(labels, probs, {"a", "b", "c"}, -1, out / "roc3", {400, 400});
  expect_figure(out / "roc3", 400, 400);
  // Bad input: one clear error each.
  leaves::testing::expect_invalid_argument([&] { plot::plot_views(x, {}, 100, "t", out / "small", {50, 50}); }, "100..10000");
  leaves::testing::expect_invalid_argument([&] { plot::figure_params(r.ft / "nope", out / "p"); }, "no log.jsonl");
  leaves::testing::expect_invalid_argument(
      [&] { plot::plot_roc(torch::zeros({3}, torch::kLong), torch::rand({3, 2}), {"a", "b"}, -1, out / "r"); },
      "no class has both");
}

TEST(Figures, GnuplotFailuresAreReported) {
  const auto out = leaves::testing::temp_dir("plot-bad");
  leaves::testing::expect_runtime_error([&] { plot::render({}, "plot $nothing using 1:2", out / "bad", {}); }, "gnuplot failed");
  EXPECT_FALSE(fs::exists(out / "bad.png"));
  setenv("LEAVES_GNUPLOT", "/nonexistent/gnuplot", 1);
  leaves::testing::expect_runtime_error([&] { plot::render({}, "plot x", out / "none", {}); }, "install gnuplot");
  unsetenv("LEAVES_GNUPLOT");
  fs::remove_all(out);
}

TEST(Report, SelfContainedHtmlForEachKindOfRun) {
  const auto& r = runs();
  auto slurp = [](const fs::path& p) {
    std::ifstream f(p);
    return std::string((std::istreambuf_iterator<char>(f)), {});
  };
  EXPECT_EQ(plot::write_report(r.pre, r.root / "pre.html"), "pretrain");
  EXPECT_EQ(plot::write_report(r.ft, r.root / "ft.html"), "finetune");
  for (const char* name : {"pre.html", "ft.html"}) {
    const auto html = slurp(r.root / name);
    EXPECT_NE(html.find("<img alt="), std::string::npos) << name;
    EXPECT_NE(html.find("data:image/png;base64,iVBORw0KGgo"), std::string::npos) << name;  // PNG magic in base64
    EXPECT_EQ(html.find("<script"), std::string::npos) << name;
    EXPECT_EQ(html.find("src=\"http"), std::string::npos) << name;
    EXPECT_EQ(html.find("not drawn"), std::string::npos) << name << ": a figure failed";
  }
  const auto pre = slurp(r.root / "pre.html");
  EXPECT_NE(pre.find("Learned view parameters"), std::string::npos);
  EXPECT_NE(pre.find("The learned time distortion"), std::string::npos);
  EXPECT_NE(slurp(r.root / "ft.html").find("95% CI"), std::string::npos);
  leaves::testing::expect_invalid_argument([&] { plot::write_report(r.root, r.root / "x.html"); }, "not a leaves run");
  EXPECT_EQ(plot::base64_file(r.root / "pre.html").substr(0, 12), "PCFET0NUWVBF");  // "<!DOCTYPE"
}
