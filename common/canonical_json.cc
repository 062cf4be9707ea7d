#include "common/canonical_json.h"

#include <algorithm>
#include <cstdint>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/status_macros.h"
#include "common/utf8.h"

namespace onceonly {
namespace {

// The UTF-16 code units of well-formed UTF-8 `text`: RFC 8785 sorts names by them, which
// differs from code point order when a name holds both U+E000..U+FFFF and U+10000 or above.
std::u16string Utf16(absl::string_view text) {
  std::u16string units;
  units.reserve(text.size());
  for (size_t i = 0; i < text.size();) {
    const auto lead = static_cast<unsigned char>(text[i]);
    const size_t length = Utf8SequenceLength(lead);
    uint32_t code_point = length == 1 ? lead : lead & (0xff >> (length + 1));
    for (size_t k = 1; k < length; ++k) {
      code_point = (code_point << 6) | (static_cast<unsigned char>(text[i + k]) & 0x3f);
    }
    i += length;
    if (code_point >= 0x10000) {
      code_point -= 0x10000;
      units.push_back(static_cast<char16_t>(0xd800 + (code_point >> 10)));
      units.push_back(static_cast<char16_t>(0xdc00 + (code_point & 0x3ff)));
    } else {
      units.push_back(static_cast<char16_t>(code_point));
    }
  }
  return units;
}

void AppendUtf8(uint32_t code_point, std::string* out) {
  if (code_point < 0x80) {
    out->push_back(static_cast<char>(code_point));
  } else if (code_point < 0x800) {
    out->push_back(static_cast<char>(0xc0 | (code_point >> 6)));
    out->push_back(static_cast<char>(0x80 | (code_point & 0x3f)));
  } else if (code_point < 0x10000) {
    out->push_back(static_cast<char>(0xe0 | (code_point >> 12)));
    out->push_back(static_cast<char>(0x80 | ((code_point >> 6) & 0x3f)));
    out->push_back(static_cast<char>(0x80 | (code_point & 0x3f)));
  } else {
    out->push_back(static_cast<char>(0xf0 | (code_point >> 18)));
    out->push_back(static_cast<char>(0x80 | ((code_point >> 12) & 0x3f)));
    out->push_back(static_cast<char>(0x80 | ((code_point >> 6) & 0x3f)));
    out->push_back(static_cast<char>(0x80 | (code_point & 0x3f)));
  }
}

absl::Status WriteString(absl::string_view text, std::string* out) {
  if (size_t bad = InvalidUtf8Offset(text); bad != absl::string_view::npos) {
    return absl::InvalidArgumentError(absl::StrCat("a JSON string is not UTF-8 (byte ", bad,
                                                   " of \"", absl::CHexEscape(text.substr(0, 64)),
                                                   "\")"));
  }
  out->push_back('"');
  for (char c : text) {
    switch (c) {
      case '"':
        out->append("\\\"");
        break;
      case '\\':
        out->append("\\\\");
        break;
      case '\b':
        out->append("\\b");
        break;
      case '\t':
        out->append("\\t");
        break;
      case '\n':
        out->append("\\n");
        break;
      case '\f':
        out->append("\\f");
        break;
      case '\r':
        out->append("\\r");
        break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          absl::StrAppendFormat(out, "\\u%04x", static_cast<unsigned char>(c));
        } else {
          out->push_back(c);
        }
    }
  }
  out->push_back('"');
  return absl::OkStatus();
}

absl::Status Write(const JsonValue& value, std::string* out) {
  switch (value.type()) {
    case JsonValue::Type::kNull:
      out->append("null");
      return absl::OkStatus();
    case JsonValue::Type::kBool:
      out->append(value.bool_value() ? "true" : "false");
      return absl::OkStatus();
    case JsonValue::Type::kString:
      return WriteString(value.string_value(), out);
    case JsonValue::Type::kArray: {
      out->push_back('[');
      for (size_t i = 0; i < value.elements().size(); ++i) {
        if (i > 0) out->push_back(',');
        RETURN_IF_ERROR(Write(value.elements()[i], out));
      }
      out->push_back(']');
      return absl::OkStatus();
    }
    case JsonValue::Type::kObject: {
      const std::vector<JsonValue::Member>& members = value.members();
      for (const JsonValue::Member& member : members) {
        if (size_t bad = InvalidUtf8Offset(member.first); bad != absl::string_view::npos) {
          return absl::InvalidArgumentError(
              absl::StrCat("a JSON member name is not UTF-8 (byte ", bad, ")"));
        }
      }
      std::vector<std::pair<std::u16string, size_t>> order;
      order.reserve(members.size());
      for (size_t i = 0; i < members.size(); ++i) order.emplace_back(Utf16(members[i].first), i);
      std::sort(order.begin(), order.end());
      out->push_back('{');
      for (size_t i = 0; i < order.size(); ++i) {
        const JsonValue::Member& member = members[order[i].second];
        if (i > 0) {
          if (order[i].first == order[i - 1].first) {
            return absl::InvalidArgumentError(
                absl::StrCat("the JSON member \"", member.first, "\" is given twice"));
          }
          out->push_back(',');
        }
        RETURN_IF_ERROR(WriteString(member.first, out));
        out->push_back(':');
        RETURN_IF_ERROR(Write(member.second, out));
      }
      out->push_back('}');
      return absl::OkStatus();
    }
  }
  return absl::InternalError("unknown JSON value type");
}

class Parser {
 public:
  explicit Parser(absl::string_view text) : text_(text) {}

  absl::StatusOr<JsonValue> Document() {
    if (size_t bad = InvalidUtf8Offset(text_); bad != absl::string_view::npos) {
      return Error(bad, "not UTF-8");
    }
    SkipSpace();
    ASSIGN_OR_RETURN(JsonValue value, Value(0));
    SkipSpace();
    if (pos_ != text_.size()) return Error(pos_, "text after the JSON value");
    return value;
  }

 private:
  absl::Status Error(size_t at, absl::string_view what) const {
    return absl::InvalidArgumentError(absl::StrCat("JSON byte ", at, ": ", what));
  }

  bool AtEnd() const { return pos_ >= text_.size(); }
  char Peek() const { return text_[pos_]; }

  void SkipSpace() {
    while (!AtEnd() && (Peek() == ' ' || Peek() == '\t' || Peek() == '\n' || Peek() == '\r')) {
      ++pos_;
    }
  }

  absl::Status Expect(char c) {
    if (AtEnd() || Peek() != c)
      return Error(pos_, absl::StrCat("'", std::string(1, c), "' expected"));
    ++pos_;
    return absl::OkStatus();
  }

  absl::StatusOr<JsonValue> Literal(absl::string_view word, JsonValue value) {
    if (text_.substr(pos_, word.size()) != word) return Error(pos_, "unexpected character");
    pos_ += word.size();
    return value;
  }

  absl::StatusOr<JsonValue> Value(int depth) {
    if (AtEnd()) return Error(pos_, "a value is missing");
    switch (Peek()) {
      case '{':
        return ObjectValue(depth + 1);
      case '[':
        return ArrayValue(depth + 1);
      case '"': {
        ASSIGN_OR_RETURN(std::string text, StringValue());
        return JsonValue::String(text);
      }
      case 't':
        return Literal("true", JsonValue::Bool(true));
      case 'f':
        return Literal("false", JsonValue::Bool(false));
      case 'n':
        return Literal("null", JsonValue());
      case '-':
      case '0':
      case '1':
      case '2':
      case '3':
      case '4':
      case '5':
      case '6':
      case '7':
      case '8':
      case '9':
        return Error(pos_, "a number, and numbers are not supported here");
      default:
        return Error(pos_, "unexpected character");
    }
  }

  absl::StatusOr<JsonValue> ObjectValue(int depth) {
    if (depth > kMaxJsonDepth) return Error(pos_, "nested too deep");
    ++pos_;  // '{'
    JsonValue object = JsonValue::Object();
    absl::flat_hash_set<std::string> names;
    SkipSpace();
    if (!AtEnd() && Peek() == '}') {
      ++pos_;
      return object;
    }
    while (true) {
      SkipSpace();
      const size_t name_at = pos_;
      if (AtEnd() || Peek() != '"') return Error(pos_, "a member name is expected");
      ASSIGN_OR_RETURN(std::string name, StringValue());
      if (!names.insert(name).second) {
        return Error(name_at, absl::StrCat("the member \"", name, "\" is given twice"));
      }
      SkipSpace();
      RETURN_IF_ERROR(Expect(':'));
      SkipSpace();
      ASSIGN_OR_RETURN(JsonValue value, Value(depth));
      object.Set(name, std::move(value));
      SkipSpace();
      if (AtEnd()) return Error(pos_, "the object is not closed");
      if (Peek() == '}') {
        ++pos_;
        return object;
      }
      RETURN_IF_ERROR(Expect(','));
    }
  }

  absl::StatusOr<JsonValue> ArrayValue(int depth) {
    if (depth > kMaxJsonDepth) return Error(pos_, "nested too deep");
    ++pos_;  // '['
    JsonValue array = JsonValue::Array();
    SkipSpace();
    if (!AtEnd() && Peek() == ']') {
      ++pos_;
      return array;
    }
    while (true) {
      SkipSpace();
      ASSIGN_OR_RETURN(JsonValue value, Value(depth));
      array.Append(std::move(value));
      SkipSpace();
      if (AtEnd()) return Error(pos_, "the array is not closed");
      if (Peek() == ']') {
        ++pos_;
        return array;
      }
      RETURN_IF_ERROR(Expect(','));
    }
  }

  absl::StatusOr<uint32_t> Hex4() {
    if (text_.size() - pos_ < 4) return Error(pos_, "\\u needs four hex digits");
    uint32_t unit = 0;
    for (int i = 0; i < 4; ++i) {
      const char c = text_[pos_ + i];
      uint32_t digit;
      if (c >= '0' && c <= '9') {
        digit = c - '0';
      } else if (c >= 'a' && c <= 'f') {
        digit = c - 'a' + 10;
      } else if (c >= 'A' && c <= 'F') {
        digit = c - 'A' + 10;
      } else {
        return Error(pos_ + i, "\\u needs four hex digits");
      }
      unit = unit * 16 + digit;
    }
    pos_ += 4;
    return unit;
  }

  absl::StatusOr<std::string> StringValue() {
    ++pos_;  // '"'
    std::string out;
    while (true) {
      if (AtEnd()) return Error(pos_, "the string is not closed");
      const char c = Peek();
      if (c == '"') {
        ++pos_;
        return out;
      }
      if (static_cast<unsigned char>(c) < 0x20) {
        return Error(pos_, "a control character must be escaped in a string");
      }
      if (c != '\\') {
        out.push_back(c);
        ++pos_;
        continue;
      }
      const size_t escape_at = pos_++;
      if (AtEnd()) return Error(escape_at, "the escape is cut");
      const char kind = text_[pos_++];
      switch (kind) {
        case '"':
          out.push_back('"');
          break;
        case '\\':
          out.push_back('\\');
          break;
        case '/':
          out.push_back('/');
          break;
        case 'b':
          out.push_back('\b');
          break;
        case 'f':
          out.push_back('\f');
          break;
        case 'n':
          out.push_back('\n');
          break;
        case 'r':
          out.push_back('\r');
          break;
        case 't':
          out.push_back('\t');
          break;
        case 'u': {
          ASSIGN_OR_RETURN(uint32_t unit, Hex4());
          if (unit >= 0xdc00 && unit <= 0xdfff) return Error(escape_at, "a lone low surrogate");
          if (unit >= 0xd800 && unit <= 0xdbff) {
            if (text_.substr(pos_, 2) != "\\u") return Error(escape_at, "a lone high surrogate");
            pos_ += 2;
            ASSIGN_OR_RETURN(uint32_t low, Hex4());
            if (low < 0xdc00 || low > 0xdfff) return Error(escape_at, "a lone high surrogate");
            unit = 0x10000 + ((unit - 0xd800) << 10) + (low - 0xdc00);
          }
          AppendUtf8(unit, &out);
          break;
        }
        default:
          return Error(escape_at, "an unknown escape");
      }
    }
  }

  const absl::string_view text_;
  size_t pos_ = 0;
};

}  // namespace

JsonValue JsonValue::Bool(bool value) {
  JsonValue v;
  v.type_ = Type::kBool;
  v.bool_ = value;
  return v;
}

JsonValue JsonValue::String(absl::string_view value) {
  JsonValue v;
  v.type_ = Type::kString;
  v.string_ = std::string(value);
  return v;
}

JsonValue JsonValue::Array() {
  JsonValue v;
  v.type_ = Type::kArray;
  return v;
}

JsonValue JsonValue::Object() {
  JsonValue v;
  v.type_ = Type::kObject;
  return v;
}

JsonValue& JsonValue::Append(JsonValue value) {
  elements_.push_back(std::move(value));
  return *this;
}

JsonValue& JsonValue::Set(absl::string_view name, JsonValue value) {
  members_.emplace_back(std::string(name), std::move(value));
  return *this;
}

const JsonValue* JsonValue::Find(absl::string_view name) const {
  for (const Member& member : members_) {
    if (member.first == name) return &member.second;
  }
  return nullptr;
}

absl::StatusOr<std::string> CanonicalJson(const JsonValue& value) {
  std::string out;
  RETURN_IF_ERROR(Write(value, &out));
  return out;
}

absl::StatusOr<JsonValue> ParseJson(absl::string_view text) { return Parser(text).Document(); }

absl::StatusOr<JsonValue> ParseCanonicalJson(absl::string_view text) {
  ASSIGN_OR_RETURN(JsonValue value, ParseJson(text));
  ASSIGN_OR_RETURN(std::string canonical, CanonicalJson(value));
  if (canonical == text) return value;
  const size_t differs = static_cast<size_t>(
      std::mismatch(canonical.begin(), canonical.end(), text.begin(), text.end()).first -
      canonical.begin());
  return absl::InvalidArgumentError(absl::StrCat(
      "not RFC 8785 canonical JSON: byte ", differs, " differs from the canonical form (\"",
      absl::CHexEscape(canonical.substr(differs, 24)), "\" expected)"));
}

}  // namespace onceonly
