#include "common/rich_status.h"

#include "absl/strings/cord.h"

namespace onceonly {

absl::Status ErrorWithReason(absl::StatusCode code, absl::string_view reason,
                             absl::string_view message,
                             const std::map<std::string, std::string>& metadata) {
  google::rpc::ErrorInfo info;
  info.set_reason(std::string(reason));
  info.set_domain(std::string(kErrorDomain));
  for (const auto& [key, value] : metadata) (*info.mutable_metadata())[key] = value;
  absl::Status status(code, message);
  status.SetPayload(kErrorInfoTypeUrl, absl::Cord(info.SerializeAsString()));
  return status;
}

absl::Status InvalidField(absl::string_view field, absl::string_view reason,
                          absl::string_view description) {
  absl::Status status = ErrorWithReason(absl::StatusCode::kInvalidArgument, reason,
                                        description, {{"field", std::string(field)}});
  google::rpc::BadRequest bad_request;
  auto* violation = bad_request.add_field_violations();
  violation->set_field(std::string(field));
  violation->set_description(std::string(description));
  status.SetPayload(kBadRequestTypeUrl, absl::Cord(bad_request.SerializeAsString()));
  return status;
}

absl::Status AddErrorMetadata(absl::Status status, absl::string_view key,
                              absl::string_view value) {
  google::rpc::ErrorInfo info;
  if (auto payload = status.GetPayload(kErrorInfoTypeUrl)) {
    info.ParseFromString(std::string(*payload));
  } else {
    info.set_domain(std::string(kErrorDomain));
  }
  (*info.mutable_metadata())[std::string(key)] = std::string(value);
  status.SetPayload(kErrorInfoTypeUrl, absl::Cord(info.SerializeAsString()));
  return status;
}

std::string ErrorReason(const absl::Status& status) {
  auto payload = status.GetPayload(kErrorInfoTypeUrl);
  if (!payload) return "";
  google::rpc::ErrorInfo info;
  if (!info.ParseFromString(std::string(*payload))) return "";
  return info.reason();
}

std::string ErrorMetadata(const absl::Status& status, absl::string_view key) {
  auto payload = status.GetPayload(kErrorInfoTypeUrl);
  if (!payload) return "";
  google::rpc::ErrorInfo info;
  if (!info.ParseFromString(std::string(*payload))) return "";
  auto it = info.metadata().find(std::string(key));
  return it == info.metadata().end() ? "" : it->second;
}

}  // namespace onceonly
