// Escaping for the JSON log lines the binaries write by hand (one per RPC, one per event).
#ifndef ONCEONLY_COMMON_JSON_ESCAPE_H_
#define ONCEONLY_COMMON_JSON_ESCAPE_H_

#include <string>

#include "absl/strings/str_format.h"
#include "absl/strings/string_view.h"

namespace onceonly {

// `s` as the inside of a JSON string: quotes, backslashes and control characters escaped.
inline std::string JsonEscape(absl::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (char c : s) {
    if (c == '"' || c == '\\') {
      out.push_back('\\');
      out.push_back(c);
    } else if (static_cast<unsigned char>(c) < 0x20) {
      absl::StrAppendFormat(&out, "\\u%04x", static_cast<unsigned char>(c));
    } else {
      out.push_back(c);
    }
  }
  return out;
}

}  // namespace onceonly

#endif  // ONCEONLY_COMMON_JSON_ESCAPE_H_
