// The error of one bad option value, thrown by the library wherever a value
// given to it is refused. It names the option by its key ("batch_size",
// "data"), as config.json and the presets do; the command line prints the
// key's flag instead ("--batch-size"), and the Python module the keyword.
#pragma once
#include <stdexcept>
#include <string>

namespace leaves {

class OptionError : public std::invalid_argument {
 public:
  /// `rest` follows the key verbatim: OptionError("batch_size", " must be >= 2")
  /// reads "batch_size must be >= 2"; OptionError("data", ": give the data set").
  OptionError(std::string key, const std::string& rest)
      : std::invalid_argument(key + rest), key_(std::move(key)), rest_(rest) {}
  const std::string& key() const { return key_; }
  const std::string& rest() const { return rest_; }

 private:
  std::string key_, rest_;
};

}  // namespace leaves
