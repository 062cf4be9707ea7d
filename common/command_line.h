// A small command-line parser for the three binaries: `--name value`, `--name=value`,
// boolean `--name`, repeated flags, and positional arguments. Unknown flags are errors that
// say which flags exist.
#ifndef ONCEONLY_COMMON_COMMAND_LINE_H_
#define ONCEONLY_COMMON_COMMAND_LINE_H_

#include <map>
#include <set>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace onceonly {

class CommandLine {
 public:
  // `value_flags` take a value; `bool_flags` do not. Names without the leading "--".
  static absl::StatusOr<CommandLine> Parse(const std::vector<std::string>& args,
                                           const std::set<std::string>& value_flags,
                                           const std::set<std::string>& bool_flags = {});

  bool Has(const std::string& flag) const { return values_.count(flag) > 0; }
  // Last value of the flag, or `fallback`.
  std::string Get(const std::string& flag, const std::string& fallback = "") const;
  // Every value of a repeated flag.
  std::vector<std::string> GetAll(const std::string& flag) const;
  // InvalidArgument "missing --flag" if absent.
  absl::StatusOr<std::string> Require(const std::string& flag) const;
  const std::vector<std::string>& positional() const { return positional_; }

 private:
  std::map<std::string, std::vector<std::string>> values_;
  std::vector<std::string> positional_;
};

}  // namespace onceonly

#endif  // ONCEONLY_COMMON_COMMAND_LINE_H_
