// The subcommands of the `leaves` tool. Each registers its options on the
// parser and returns the function that runs it; no algorithm lives here.
#pragma once
#include <CLI/CLI.hpp>

#include <functional>

namespace leaves::cli {

/// The work of one subcommand, run after parsing; returns the exit code.
using Action = std::function<int()>;

/// `leaves views`: draws views of the built-in synthetic ECG with a generator.
Action add_views_command(CLI::App& app);

/// Parses "cpu", "cuda" or "cuda:N"; throws std::invalid_argument when CUDA is
/// asked for but this LibTorch has none.
torch::Device parse_device(const std::string& name);

}  // namespace leaves::cli
