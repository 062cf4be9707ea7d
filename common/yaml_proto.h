// Loads YAML files whose schema is a proto message: YAML -> JSON -> JsonStringToMessage with
// unknown fields rejected. Errors name the file, the line and the field, so an operator can
// fix a config without reading code.
#ifndef ONCEONLY_COMMON_YAML_PROTO_H_
#define ONCEONLY_COMMON_YAML_PROTO_H_

#include <map>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "google/protobuf/message.h"

namespace onceonly {

// Where each field of a loaded file was written, for messages about later validation.
// Keys are JSON paths as validators name them: "grants[2].categories[0]".
class SourceMap {
 public:
  SourceMap() = default;
  SourceMap(std::string file, std::map<std::string, int> lines)
      : file_(std::move(file)), lines_(std::move(lines)) {}

  // "policy.yaml:14: grants[2].purpose: <reason>" — the line of the deepest known prefix of
  // `path`, or "policy.yaml: grants[2].purpose: <reason>" if none is known.
  std::string Describe(absl::string_view path, absl::string_view reason) const;
  absl::Status InvalidArgument(absl::string_view path, absl::string_view reason) const;
  const std::string& file() const { return file_; }

 private:
  std::string file_;
  std::map<std::string, int> lines_;
};

// Parses YAML text into `message`. `file` only labels errors.
absl::Status ParseYamlToProto(absl::string_view yaml, const std::string& file,
                              google::protobuf::Message* message, SourceMap* source_map);

// Reads and parses a YAML file.
absl::Status LoadYamlFile(const std::string& path, google::protobuf::Message* message,
                          SourceMap* source_map);

// Reads a whole file; NotFound / PermissionDenied name the path.
absl::StatusOr<std::string> ReadFileToString(const std::string& path);

}  // namespace onceonly

#endif  // ONCEONLY_COMMON_YAML_PROTO_H_
