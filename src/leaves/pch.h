// Precompiled header shared by every target: LibTorch's C++ frontend and the
// standard headers the project uses everywhere. Never include this directly.
#pragma once
#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <map>
#include <memory>
#include <sstream>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>
