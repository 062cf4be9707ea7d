// RFC 8785 (JSON Canonicalization Scheme) for what the gateway signs, so that any tool can
// rebuild the exact bytes: members sorted by the UTF-16 code units of their names, no
// whitespace, strings as UTF-8 with only '"', '\' and U+0000..U+001F escaped (\b \t \n \f \r,
// else \u00hh in lowercase).
//
// Only the values signed documents here hold: objects, arrays, strings, true, false, null.
// Numbers are refused rather than half supported (JCS writes them as ECMAScript does).
#ifndef ONCEONLY_COMMON_CANONICAL_JSON_H_
#define ONCEONLY_COMMON_CANONICAL_JSON_H_

#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace onceonly {

class JsonValue {
 public:
  enum class Type { kNull, kBool, kString, kArray, kObject };
  using Member = std::pair<std::string, JsonValue>;

  JsonValue() = default;  // null
  static JsonValue Bool(bool value);
  static JsonValue String(absl::string_view value);
  static JsonValue Array();
  static JsonValue Object();

  // Builders: Append to an array, Set a member of an object (in any order; written sorted).
  JsonValue& Append(JsonValue value);
  JsonValue& Set(absl::string_view name, JsonValue value);

  Type type() const { return type_; }
  bool bool_value() const { return bool_; }
  const std::string& string_value() const { return string_; }
  const std::vector<JsonValue>& elements() const { return elements_; }
  const std::vector<Member>& members() const { return members_; }
  // The member called `name` of an object; null if there is none.
  const JsonValue* Find(absl::string_view name) const;

 private:
  Type type_ = Type::kNull;
  bool bool_ = false;
  std::string string_;
  std::vector<JsonValue> elements_;
  std::vector<Member> members_;
};

// The canonical text of `value`. INVALID_ARGUMENT if a string or name is not UTF-8, or an
// object has a name twice.
absl::StatusOr<std::string> CanonicalJson(const JsonValue& value);

// Parses RFC 8259 JSON as I-JSON (RFC 7493): UTF-8, no name twice in an object, no lone
// surrogate escapes; plus this file's limits: no numbers, at most kMaxJsonDepth levels.
// INVALID_ARGUMENT naming the byte offset otherwise.
inline constexpr int kMaxJsonDepth = 32;
absl::StatusOr<JsonValue> ParseJson(absl::string_view text);

// ParseJson, for text that must also be exactly its own canonical form (what is verified
// must mean one thing to every reader); INVALID_ARGUMENT naming where it first differs.
absl::StatusOr<JsonValue> ParseCanonicalJson(absl::string_view text);

}  // namespace onceonly

#endif  // ONCEONLY_COMMON_CANONICAL_JSON_H_
