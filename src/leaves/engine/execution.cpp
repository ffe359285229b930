#include "leaves/engine/execution.h"

#include <stdexcept>

namespace leaves::engine {

const char* layout_name(Layout l) { return l == Layout::ChannelsLast ? "channels-last" : "channels-first"; }
const char* kernels_name(Kernels k) { return k == Kernels::Fused ? "fused" : "torch"; }
const char* conv_bias_name(ConvBias c) { return c == ConvBias::Fold ? "fold" : "apply"; }
const char* cl_conv_name(ClConv c) { return c == ClConv::Gemm ? "gemm" : "torch"; }

Kernels parse_kernels(const std::string& name) {
  if (name == "fused") return Kernels::Fused;
  if (name == "torch") return Kernels::Torch;
  throw std::invalid_argument("kernels must be fused or torch, got '" + name + "'");
}

ConvBias parse_conv_bias(const std::string& name) {
  if (name == "fold") return ConvBias::Fold;
  if (name == "apply") return ConvBias::Apply;
  throw std::invalid_argument("conv_bias must be fold or apply, got '" + name + "'");
}

ClConv parse_cl_conv(const std::string& name) {
  if (name == "torch") return ClConv::Torch;
  if (name == "gemm") return ClConv::Gemm;
  throw std::invalid_argument("cl_conv must be torch or gemm, got '" + name + "'");
}

}  // namespace leaves::engine
