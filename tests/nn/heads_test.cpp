#include "leaves/nn/heads.h"

#include "testing.h"

using namespace leaves::nn;

TEST(ProjectionHead, HiddenLayerByDefaultLinearOnRequest) {
  ProjectionHead mlp(ProjectionHeadOptions(512));
  EXPECT_EQ(mlp(torch::randn({5, 512})).sizes(), (std::vector<int64_t>{5, 128}));
  EXPECT_EQ(mlp->net->size(), 3u);
  int64_t n = 0;
  for (const auto& p : mlp->parameters()) n += p.numel();
  EXPECT_EQ(n, 512 * 512 + 512 + 512 * 128 + 128);
  ProjectionHead lin(ProjectionHeadOptions(64).hidden(0).output_dim(16));
  EXPECT_EQ(lin(torch::randn({2, 64})).sizes(), (std::vector<int64_t>{2, 16}));
  EXPECT_EQ(lin->net->size(), 1u);
  EXPECT_THROW(ProjectionHead(ProjectionHeadOptions(0)), std::invalid_argument);
}
