#include "leaves/views/factory.h"

#include "testing.h"

using namespace leaves::views;

TEST(Factory, BuildsEveryGeneratorBehindOneInterface) {
  for (std::string kind : {"leaves", "viewmaker", "random"}) {
    GeneratorConfig c;
    c.kind = kind;
    c.channels = 3;
    auto g = make_generator(c);
    EXPECT_EQ(g->kind(), kind);
    auto x = torch::randn({2, 3, 64});
    EXPECT_EQ(g->forward(x).sizes(), x.sizes());
    EXPECT_EQ(g->report_names().size(), static_cast<size_t>(g->report().numel()));
    EXPECT_EQ(g->learnable(), kind != "random");
  }
}

TEST(Factory, BadConfigurationNamesTheOption) {
  GeneratorConfig c;
  c.kind = "autoaugment";
  EXPECT_THROW(make_generator(c), std::invalid_argument);
  c.kind = "leaves";
  c.eta = -1;
  try {
    make_generator(c);
    FAIL();
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("eta"), std::string::npos);
  }
  c.eta = 0.05;
  c.interpolation = "quadratic";
  EXPECT_THROW(make_generator(c), std::invalid_argument);
}
