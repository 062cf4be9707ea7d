#include "common/yaml_proto.h"

#include <yaml-cpp/depthguard.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "google/protobuf/util/json_util.h"

namespace onceonly {
namespace {

void AppendJsonString(absl::string_view s, std::string* out) {
  out->push_back('"');
  for (unsigned char c : s) {
    switch (c) {
      case '"': out->append("\\\""); break;
      case '\\': out->append("\\\\"); break;
      case '\n': out->append("\\n"); break;
      case '\r': out->append("\\r"); break;
      case '\t': out->append("\\t"); break;
      default:
        if (c < 0x20) {
          absl::StrAppendFormat(out, "\\u%04x", c);
        } else {
          out->push_back(static_cast<char>(c));
        }
    }
  }
  out->push_back('"');
}

// Plain (unquoted) YAML scalars that look like JSON literals stay literals, so that
// `max_batch: 64` and `requires_consent: true` reach the proto parser typed.
bool IsJsonLiteral(const std::string& s) {
  if (s == "true" || s == "false" || s == "null") return true;
  if (s.empty()) return false;
  size_t i = (s[0] == '-') ? 1 : 0;
  if (i == s.size()) return false;
  bool digits = false, dot = false;
  for (; i < s.size(); ++i) {
    if (s[i] >= '0' && s[i] <= '9') {
      digits = true;
    } else if (s[i] == '.' && !dot) {
      dot = true;
    } else {
      return false;
    }
  }
  return digits && (s.size() < 2 || s[0] != '0' || s[1] == '.');
}

// YAML aliases are expanded where they stand, so a few lines may stand for billions of values
// (each anchor repeating the one before ten times) or for themselves (an anchor holding its own
// alias), and keys nested deep make every path below them long. The conversion is therefore
// held to a depth far beyond any config, and to a number of bytes (JSON and paths) in
// proportion to the file; a file past either is refused, not converted until memory or the
// stack runs out.
constexpr int kMaxDepth = 64;
constexpr size_t kBytesPerFileByte = 64;
constexpr size_t kMinBudgetBytes = size_t{1} << 20;

struct JsonConversion {
  const std::string& file;
  std::string json;
  std::map<std::string, int> lines;  // path -> line
  size_t budget_bytes;
};

// The end of a path too long to show whole (the line says where it is).
std::string PathToShow(const std::string& path) {
  constexpr size_t kShown = 100;
  if (path.size() <= kShown) return path;
  size_t start = path.size() - kShown;
  while (start < path.size() && (static_cast<unsigned char>(path[start]) & 0xc0) == 0x80) ++start;
  return absl::StrCat("...", absl::string_view(path).substr(start));
}

absl::Status TooLarge(const JsonConversion& c, const YAML::Node& node, const std::string& path,
                      absl::string_view what) {
  return absl::InvalidArgumentError(absl::StrFormat(
      "%s:%d: %s: %s; write the values out instead of through aliases (*name), and nest less",
      c.file, node.Mark().line + 1, path.empty() ? "(top level)" : PathToShow(path), what));
}

absl::Status ToJson(const YAML::Node& node, const std::string& path, int depth, JsonConversion& c) {
  if (depth > kMaxDepth) {
    return TooLarge(c, node, path,
                    absl::StrCat("nested more than ", kMaxDepth,
                                 " levels deep (or an alias inside its own anchor)"));
  }
  const size_t cost = path.size() + (node.IsScalar() ? node.Scalar().size() : 0) + 8;
  if (cost > c.budget_bytes) {
    return TooLarge(c, node, path,
                    "expands to far more than the file holds (aliases repeating aliases, or "
                    "very long keys nested deep)");
  }
  c.budget_bytes -= cost;
  if (node.Mark().line >= 0) c.lines[path] = node.Mark().line + 1;
  std::string* const out = &c.json;
  switch (node.Type()) {
    case YAML::NodeType::Null:
    case YAML::NodeType::Undefined:
      out->append("null");
      return absl::OkStatus();
    case YAML::NodeType::Scalar:
      if (node.Tag() == "?" && IsJsonLiteral(node.Scalar())) {
        out->append(node.Scalar());
      } else {
        AppendJsonString(node.Scalar(), out);
      }
      return absl::OkStatus();
    case YAML::NodeType::Sequence: {
      out->push_back('[');
      for (size_t i = 0; i < node.size(); ++i) {
        if (i > 0) out->push_back(',');
        absl::Status s = ToJson(node[i], absl::StrCat(path, "[", i, "]"), depth + 1, c);
        if (!s.ok()) return s;
      }
      out->push_back(']');
      return absl::OkStatus();
    }
    case YAML::NodeType::Map: {
      out->push_back('{');
      bool first = true;
      for (const auto& kv : node) {
        if (!kv.first.IsScalar()) {
          return absl::InvalidArgumentError(absl::StrFormat(
              "%s:%d: %s: keys must be plain names", c.file, kv.first.Mark().line + 1, path));
        }
        if (!first) out->push_back(',');
        first = false;
        const std::string& key = kv.first.Scalar();
        AppendJsonString(key, out);
        out->push_back(':');
        std::string child = path.empty() ? key : absl::StrCat(path, ".", key);
        c.lines[child] = kv.first.Mark().line + 1;
        absl::Status s = ToJson(kv.second, child, depth + 1, c);
        if (!s.ok()) return s;
      }
      out->push_back('}');
      return absl::OkStatus();
    }
  }
  return absl::OkStatus();
}

}  // namespace

std::string SourceMap::Describe(absl::string_view path, absl::string_view reason) const {
  std::string key(path);
  while (true) {
    auto it = lines_.find(key);
    if (it != lines_.end()) {
      return absl::StrFormat("%s:%d: %s: %s", file_, it->second, path, reason);
    }
    size_t cut = key.find_last_of(".[");
    if (cut == std::string::npos) break;
    key.resize(cut);
  }
  return absl::StrFormat("%s: %s: %s", file_, path, reason);
}

absl::Status SourceMap::InvalidArgument(absl::string_view path,
                                        absl::string_view reason) const {
  return absl::InvalidArgumentError(Describe(path, reason));
}

absl::Status ParseYamlToProto(absl::string_view yaml, const std::string& file,
                              google::protobuf::Message* message, SourceMap* source_map) {
  YAML::Node root;
  try {  // yaml-cpp reports syntax errors only by exception; contain them here.
    root = YAML::Load(std::string(yaml));
  } catch (const YAML::DeepRecursion& e) {  // its message would be "bad file"
    return absl::InvalidArgumentError(
        absl::StrFormat("%s:%d:%d: nested %d levels deep, past what the YAML parser reads", file,
                        e.mark.line + 1, e.mark.column + 1, e.depth()));
  } catch (const YAML::Exception& e) {
    return absl::InvalidArgumentError(absl::StrFormat("%s:%d:%d: YAML syntax: %s", file,
                                                      e.mark.line + 1, e.mark.column + 1,
                                                      e.msg));
  }
  if (!root.IsMap()) {
    return absl::InvalidArgumentError(
        absl::StrCat(file, ": the top level must be a mapping of field names to values"));
  }
  JsonConversion conversion{
      file, "", {}, std::max(kMinBudgetBytes, kBytesPerFileByte * yaml.size())};
  absl::Status converted = ToJson(root, "", 0, conversion);
  if (!converted.ok()) return converted;
  const std::string& json = conversion.json;
  SourceMap map(file, std::move(conversion.lines));

  google::protobuf::util::JsonParseOptions options;
  options.ignore_unknown_fields = false;
  auto parsed = google::protobuf::util::JsonStringToMessage(json, message, options);
  if (!parsed.ok()) {
    std::string reason(parsed.message().data(), parsed.message().size());
    // The JSON parser says "(members[0]) rolez: Cannot find field." without a line: find
    // the field's line in the YAML we converted.
    size_t at = reason.find(": Cannot find field");
    if (at != std::string::npos) {
      std::string field = reason.substr(0, at);
      std::string parent;
      if (!field.empty() && field[0] == '(') {
        size_t close = field.find(") ");
        if (close != std::string::npos) {
          parent = field.substr(1, close - 1);
          field = field.substr(close + 2);
        }
      }
      std::string path = parent.empty() ? field : absl::StrCat(parent, ".", field);
      return map.InvalidArgument(path, "unknown field (check its spelling against the schema)");
    }
    // Bad values come as "(grants[0].valid_until): invalid value ...": name their line too.
    if (!reason.empty() && reason[0] == '(') {
      size_t close = reason.find("): ");
      if (close != std::string::npos) {
        std::string path = reason.substr(1, close - 1);
        std::string what = reason.substr(close + 3);
        if (what.find("Timestamp") != std::string::npos) {
          what += " (write RFC 3339, e.g. \"2026-01-01T00:00:00Z\")";
        } else if (what.find("Duration") != std::string::npos) {
          what += " (write seconds with an s, e.g. \"2s\" or \"0.5s\")";
        }
        return map.InvalidArgument(path, what);
      }
    }
    return absl::InvalidArgumentError(absl::StrCat(file, ": ", reason));
  }
  if (source_map != nullptr) *source_map = std::move(map);
  return absl::OkStatus();
}

absl::StatusOr<std::string> ReadFileToString(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    std::string why = std::strerror(errno);
    if (errno == ENOENT) return absl::NotFoundError(absl::StrCat(path, ": ", why));
    return absl::PermissionDeniedError(absl::StrCat(path, ": ", why));
  }
  std::ostringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

absl::Status LoadYamlFile(const std::string& path, google::protobuf::Message* message,
                          SourceMap* source_map) {
  absl::StatusOr<std::string> text = ReadFileToString(path);
  if (!text.ok()) return text.status();
  return ParseYamlToProto(*text, path, message, source_map);
}

}  // namespace onceonly
