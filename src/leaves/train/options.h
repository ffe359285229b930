// The option schema: one declaration per option of pre-training, the view
// generators and fine-tuning (name, type, default, range or choices, help),
// from which everything else is derived:
//
//   - the command line (tools/leaves/options_cli.h registers every option),
//   - config.json (to_json / from_json),
//   - the presets' TOML tables (configs/*.toml: [pretrain] and [finetune] keys
//     are the option names),
//   - validation of ranges and choices (errors name the option's key; the
//     command line maps keys to flags),
//   - the "equivalent command" of a run (every option that differs from its
//     default),
//   - the README's option tables (`leaves options --markdown`, checked by a test).
//
// An option's name is its key in config.json and in the presets, and its flag
// is "--" + the name with '_' as '-' ("batch_size": --batch-size). A boolean
// option whose default is true has the flag "--no-NAME".
#pragma once
#include <cmath>
#include <functional>
#include <limits>
#include <nlohmann/json.hpp>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "leaves/option_error.h"

namespace leaves::train {
struct PretrainConfig;
struct FinetuneConfig;
}  // namespace leaves::train
namespace leaves::views {
struct GeneratorConfig;
}  // namespace leaves::views

namespace leaves::options {

using leaves::OptionError;

enum class Type { Integer, Number, Text, Flag };

/// The declaration of one option.
struct Spec {
  std::string name;      ///< key in config.json and the presets ("batch_size"; nested ones: "eta" under "views")
  Type type = Type::Number;
  std::string help;
  std::vector<std::string> choices;  ///< Text: the values allowed (empty: free text)
  std::optional<double> min, max;    ///< Integer and Number: inclusive bounds
  bool min_exclusive = false;        ///< min is a strict bound (> min)
  bool cli = true;                   ///< on the command line (false: set by the program, recorded only)
  std::string group;                 ///< JSON object holding it ("" top level, "views")

  /// "--batch-size"; "--no-cuda-graphs" for a flag whose default is true.
  std::string flag(bool default_true = false) const;
  /// "> 0", ">= 2", "0 to 0.99", "cosine | constant", or "".
  std::string range_text() const;
};

/// Checks a value against a spec's range or choices; throws OptionError.
void check_value(const Spec& spec, const nlohmann::json& value);

/// A JSON value as a command-line argument ("0.001", "cosine").
std::string argument_text(const nlohmann::json& value);

template <class C>
struct Option {
  Spec spec;
  std::function<nlohmann::json(const C&)> get;
  std::function<void(C&, const nlohmann::json&)> set;  ///< throws OptionError for a value of the wrong type
};

namespace detail {
template <class T>
T convert(const Spec& s, const nlohmann::json& v) {
  if constexpr (std::is_same_v<T, bool>) {
    if (!v.is_boolean()) throw OptionError(s.name, " must be true or false, got " + v.dump());
    return v.get<bool>();
  } else if constexpr (std::is_integral_v<T>) {
    if (v.is_number_integer() || v.is_number_unsigned()) {
      if constexpr (std::is_unsigned_v<T>) {
        if (v.is_number_integer() && v.get<int64_t>() < 0) throw OptionError(s.name, " must be >= 0, got " + v.dump());
      }
      return v.get<T>();
    }
    if (v.is_number_float() && std::isfinite(v.get<double>()) && v.get<double>() == std::floor(v.get<double>()))
      return static_cast<T>(v.get<double>());
    throw OptionError(s.name, " must be an integer, got " + v.dump());
  } else if constexpr (std::is_floating_point_v<T>) {
    if (!v.is_number()) throw OptionError(s.name, " must be a number, got " + v.dump());
    return v.get<T>();
  } else {
    if (!v.is_string()) throw OptionError(s.name, " must be a string, got " + v.dump());
    return v.get<std::string>();
  }
}
}  // namespace detail

/// The options of one configuration type, in the order of `--help`.
template <class C>
class Schema {
 public:
  template <class T>
  Schema& add(Spec s, T C::*member) {
    s.type = type_of<T>();
    options_.push_back({s, [member](const C& c) { return nlohmann::json(c.*member); },
                        [member, s](C& c, const nlohmann::json& v) { c.*member = detail::convert<T>(s, v); }});
    return *this;
  }
  /// Every option of `inner`, the configuration at `outer`, under the JSON object `group`.
  template <class N>
  Schema& nest(const Schema<N>& inner, N C::*outer, const std::string& group) {
    for (const auto& o : inner.options()) {
      Spec s = o.spec;
      s.group = group;
      auto get = o.get;
      auto set = o.set;
      options_.push_back({s, [outer, get](const C& c) { return get(c.*outer); },
                          [outer, set](C& c, const nlohmann::json& v) { set(c.*outer, v); }});
    }
    return *this;
  }

  const std::vector<Option<C>>& options() const { return options_; }
  const Option<C>* find(const std::string& name) const {
    for (const auto& o : options_)
      if (o.spec.name == name) return &o;
    return nullptr;
  }

  /// Every option as config.json holds it.
  nlohmann::json to_json(const C& c) const {
    nlohmann::json j = nlohmann::json::object();
    for (const auto& o : options_) (o.spec.group.empty() ? j : j[o.spec.group])[o.spec.name] = o.get(c);
    return j;
  }
  /// Sets the options `j` holds (others keep their values); unknown keys are ignored.
  void from_json(C& c, const nlohmann::json& j) const {
    for (const auto& o : options_) {
      const nlohmann::json* at = &j;
      if (!o.spec.group.empty()) {
        if (!j.contains(o.spec.group) || !j.at(o.spec.group).is_object()) continue;
        at = &j.at(o.spec.group);
      }
      if (at->contains(o.spec.name)) o.set(c, at->at(o.spec.name));
    }
  }
  /// Ranges and choices of every option; throws OptionError for the first bad one.
  void check(const C& c) const {
    for (const auto& o : options_) check_value(o.spec, o.get(c));
  }
  /// The command-line arguments that give `c` from the defaults `reference`:
  /// every option on the command line whose value differs.
  std::vector<std::string> arguments(const C& c, const C& reference) const {
    std::vector<std::string> out;
    for (const auto& o : options_) {
      if (!o.spec.cli) continue;
      const nlohmann::json v = o.get(c), d = o.get(reference);
      if (v == d) continue;
      if (o.spec.type == Type::Flag) {
        if (v.get<bool>() != d.get<bool>()) out.push_back(o.spec.flag(d.get<bool>()));
        continue;
      }
      out.push_back(o.spec.flag());
      out.push_back(argument_text(v));
    }
    return out;
  }
  /// A Markdown table of the options on the command line: flag, default, range, help.
  std::string markdown(const C& defaults) const;

 private:
  /// The type of a member: a bool is a flag, strings are text.
  template <class T>
  static Type type_of() {
    if constexpr (std::is_same_v<T, bool>) return Type::Flag;
    else if constexpr (std::is_integral_v<T>) return Type::Integer;
    else if constexpr (std::is_floating_point_v<T>) return Type::Number;
    else return Type::Text;
  }
  std::vector<Option<C>> options_;
};

/// Markdown cell text: '|' escaped.
std::string markdown_cell(const std::string& s);

template <class C>
std::string Schema<C>::markdown(const C& defaults) const {
  std::string s = "| Option | Default | Values | What it does |\n|---|---|---|---|\n";
  for (const auto& o : options_) {
    if (!o.spec.cli) continue;
    const nlohmann::json d = o.get(defaults);
    const bool flag = o.spec.type == Type::Flag;
    const std::string shown = flag ? "" : (d.is_string() && d.get<std::string>().empty() ? "" : "`" + argument_text(d) + "`");
    s += "| `" + o.spec.flag(flag && d.get<bool>()) + "` | " + shown + " | " + markdown_cell(o.spec.range_text()) + " | " +
         markdown_cell(o.spec.help) + " |\n";
  }
  return s;
}

/// The schemas of the library's configurations.
const Schema<views::GeneratorConfig>& generator_schema();
const Schema<train::PretrainConfig>& pretrain_schema();
const Schema<train::FinetuneConfig>& finetune_schema();

/// The flag of an option key of either schema ("batch_size" -> "--batch-size";
/// "views.eta" and "eta" -> "--eta"; "cuda_graphs" -> "--no-cuda-graphs");
/// another key is spelled the same way ("epoch_size" -> "--epoch-size").
std::string flag_of(const std::string& key);

}  // namespace leaves::options
