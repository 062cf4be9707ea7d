// Fuzzes the YAML loaders of the policy (PolicySnapshot::Load) and of the gateway config
// (LoadGatewayConfig): the input is the file, read through common/yaml_proto.h. Properties:
// - nothing crashes, hangs or takes memory out of proportion to the file, whatever its
//   nesting or aliases;
// - a file is either loaded, which means validated, or refused with INVALID_ARGUMENT naming
//   the file;
// - what was loaded, written back (as JSON, which is YAML), loads again to the same message.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "authz/policy.h"
#include "fuzz/memory_file.h"
#include "fuzz/property.h"
#include "gateway/gateway_config.h"
#include "google/protobuf/message.h"
#include "google/protobuf/util/json_util.h"
#include "google/protobuf/util/message_differencer.h"
#include "onceonly/config/v1/config.pb.h"
#include "onceonly/config/v1/policy.pb.h"

namespace onceonly {
namespace {

void CheckRefusal(absl::string_view what, const std::string& path, const absl::Status& status) {
  if (status.code() != absl::StatusCode::kInvalidArgument ||
      !absl::StartsWith(status.message(), path)) {
    PropertyViolated(absl::StrCat("a refused ", what, " is INVALID_ARGUMENT naming the file"),
                     absl::StrCat("file ", path, ": ", status.ToString()));
  }
}

std::string ToJson(absl::string_view what, const google::protobuf::Message& message) {
  std::string json;
  if (!google::protobuf::util::MessageToJsonString(message, &json).ok()) {
    PropertyViolated(absl::StrCat("a loaded ", what, " can be written as JSON"),
                     message.ShortDebugString());
  }
  return json;
}

void CheckSame(absl::string_view what, const google::protobuf::Message& loaded,
               const google::protobuf::Message& reloaded) {
  if (!google::protobuf::util::MessageDifferencer::Equals(loaded, reloaded)) {
    PropertyViolated(absl::StrCat("a loaded ", what, ", written back, loads the same"),
                     absl::StrCat("loaded: ", loaded.ShortDebugString(),
                                  "\n  reloaded: ", reloaded.ShortDebugString()));
  }
}

absl::StatusOr<std::shared_ptr<const PolicySnapshot>> LoadPolicy(absl::string_view text,
                                                                 std::string* path) {
  MemoryFile file(text);
  *path = file.path();
  return PolicySnapshot::Load(*path);
}

absl::StatusOr<config::v1::GatewayConfig> LoadConfig(absl::string_view text, std::string* path) {
  MemoryFile file(text);
  *path = file.path();
  return LoadGatewayConfig(*path);
}

void CheckPolicy(absl::string_view text) {
  std::string path;
  absl::StatusOr<std::shared_ptr<const PolicySnapshot>> policy = LoadPolicy(text, &path);
  if (!policy.ok()) return CheckRefusal("policy", path, policy.status());
  const config::v1::Policy& loaded = (*policy)->policy();
  absl::StatusOr<std::shared_ptr<const PolicySnapshot>> reloaded =
      LoadPolicy(ToJson("policy", loaded), &path);
  if (!reloaded.ok()) {
    PropertyViolated(
        "a loaded policy, written back, loads again",
        absl::StrCat(reloaded.status().ToString(), "\n  policy: ", loaded.ShortDebugString()));
  }
  CheckSame("policy", loaded, (*reloaded)->policy());
}

// Loading resolves the relative paths against the file's directory and fills in defaults:
// a loaded config is a fixed point of loading.
void CheckGatewayConfig(absl::string_view text) {
  std::string path;
  absl::StatusOr<config::v1::GatewayConfig> config = LoadConfig(text, &path);
  if (!config.ok()) return CheckRefusal("gateway config", path, config.status());
  absl::StatusOr<config::v1::GatewayConfig> reloaded =
      LoadConfig(ToJson("gateway config", *config), &path);
  if (!reloaded.ok()) {
    PropertyViolated(
        "a loaded gateway config, written back, loads again",
        absl::StrCat(reloaded.status().ToString(), "\n  config: ", config->ShortDebugString()));
  }
  CheckSame("gateway config", *config, *reloaded);
}

}  // namespace
}  // namespace onceonly

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const absl::string_view text(reinterpret_cast<const char*>(data), size);
  onceonly::CheckPolicy(text);
  onceonly::CheckGatewayConfig(text);
  return 0;
}
