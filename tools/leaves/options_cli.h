// The command line of a schema (leaves/train/options.h): every option a flag,
// its default, help and range from the one declaration.
#pragma once
#include <CLI/CLI.hpp>

#include <cerrno>
#include <cstdlib>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "leaves/train/options.h"

namespace leaves::cli {

/// Registers the options of `schema` on `cmd`, writing into `config` (which
/// holds the defaults shown). `only`: just these option names; `skip`: all
/// but these. Returns the CLI11 options by name (for `count()`).
template <class C>
std::map<std::string, CLI::Option*> add_schema_options(CLI::App* cmd, const options::Schema<C>& schema, C& config,
                                                       const std::set<std::string>& only = {},
                                                       const std::set<std::string>& skip = {},
                                                       const std::string& flag_prefix = "") {
  std::map<std::string, CLI::Option*> out;
  for (const auto& o : schema.options()) {
    const auto& s = o.spec;
    if (!s.cli || skip.count(s.name) || (!only.empty() && !only.count(s.name))) continue;
    const nlohmann::json value = o.get(config);
    auto* c = &config;
    auto set = o.set;
    const std::string flag = s.flag(s.type == options::Type::Flag && value.get<bool>());
    const std::string name = "--" + flag_prefix + flag.substr(2);
    CLI::Option* opt = nullptr;
    if (s.type == options::Type::Flag) {
      const bool to = !value.get<bool>();
      opt = cmd->add_flag_callback(name, [c, set, to] { set(*c, nlohmann::json(to)); }, s.help);
    } else {
      const auto type = s.type;
      const auto spec = s;
      opt = cmd->add_option_function<std::string>(
          name,
          [c, set, type, spec, name](const std::string& text) {
            nlohmann::json v;
            if (type == options::Type::Text) {
              v = text;
            } else {
              // As people write numbers: "1e-3", ".5", "64".
              const char* begin = text.c_str();
              char* end = nullptr;
              errno = 0;
              if (type == options::Type::Integer) {
                const long long n = std::strtoll(begin, &end, 10);
                if (!text.empty() && *end == '\0' && errno == 0) v = static_cast<int64_t>(n);
              } else {
                const double x = std::strtod(begin, &end);
                if (!text.empty() && *end == '\0' && errno == 0) v = x;
              }
              if (v.is_null()) {
                throw CLI::ValidationError(name, std::string(type == options::Type::Integer ? "an integer" : "a number") +
                                                     " expected, got '" + text + "'");
              }
            }
            try {
              set(*c, v);
              options::check_value(spec, v);
            } catch (const options::OptionError& e) {
              throw CLI::ValidationError(name, e.rest().substr(e.rest().find_first_not_of(' ')));
            }
          },
          s.help);
      const auto shown = options::argument_text(value);
      if (!shown.empty()) opt->default_str(shown);
      const auto range = s.range_text();
      opt->type_name(!s.choices.empty() ? "{" + range + "}"
                     : type == options::Type::Integer ? "INT"
                     : type == options::Type::Number  ? "NUMBER"
                                                      : "TEXT");
      if (!range.empty() && s.choices.empty()) opt->description(s.help + " (" + range + ")");
    }
    out[s.name] = opt;
  }
  return out;
}

}  // namespace leaves::cli
