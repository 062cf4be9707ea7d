#include "common/command_line.h"

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace onceonly {

absl::StatusOr<CommandLine> CommandLine::Parse(const std::vector<std::string>& args,
                                               const std::set<std::string>& value_flags,
                                               const std::set<std::string>& bool_flags) {
  CommandLine cl;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& arg = args[i];
    if (!absl::StartsWith(arg, "--") || arg == "--") {
      cl.positional_.push_back(arg);
      continue;
    }
    std::string name = arg.substr(2);
    std::string value;
    bool has_inline = false;
    size_t eq = name.find('=');
    if (eq != std::string::npos) {
      value = name.substr(eq + 1);
      name = name.substr(0, eq);
      has_inline = true;
    }
    if (bool_flags.count(name)) {
      cl.values_[name].push_back(has_inline ? value : "true");
    } else if (value_flags.count(name)) {
      if (!has_inline) {
        if (i + 1 >= args.size()) {
          return absl::InvalidArgumentError(absl::StrCat("--", name, " needs a value"));
        }
        value = args[++i];
      }
      cl.values_[name].push_back(value);
    } else {
      std::vector<std::string> known;
      for (const auto& f : value_flags) known.push_back("--" + f);
      for (const auto& f : bool_flags) known.push_back("--" + f);
      return absl::InvalidArgumentError(absl::StrCat("unknown flag --", name, "; known: ",
                                                     absl::StrJoin(known, " ")));
    }
  }
  return cl;
}

std::string CommandLine::Get(const std::string& flag, const std::string& fallback) const {
  auto it = values_.find(flag);
  return it == values_.end() ? fallback : it->second.back();
}

std::vector<std::string> CommandLine::GetAll(const std::string& flag) const {
  auto it = values_.find(flag);
  return it == values_.end() ? std::vector<std::string>{} : it->second;
}

absl::StatusOr<std::string> CommandLine::Require(const std::string& flag) const {
  auto it = values_.find(flag);
  if (it == values_.end()) return absl::InvalidArgumentError(absl::StrCat("missing --", flag));
  return it->second.back();
}

}  // namespace onceonly
