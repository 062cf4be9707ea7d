// The gateway config file: loaded from YAML, defaults applied, paths resolved relative to
// the file, validated. Errors name the file, line and field.
#ifndef ONCEONLY_GATEWAY_GATEWAY_CONFIG_H_
#define ONCEONLY_GATEWAY_GATEWAY_CONFIG_H_

#include <string>

#include "absl/status/statusor.h"
#include "onceonly/config/v1/config.pb.h"

namespace onceonly {

absl::StatusOr<config::v1::GatewayConfig> LoadGatewayConfig(const std::string& path);

// Defaults and validation on an already parsed config (`path` labels errors and anchors
// relative paths).
absl::StatusOr<config::v1::GatewayConfig> FinishGatewayConfig(config::v1::GatewayConfig config,
                                                              const std::string& path);

// Checks that every file the config names is there and readable (TLS files, policy, registry
// databases) and that the access log's directory is writable. Errors name the field and path.
absl::Status CheckGatewayFiles(const config::v1::GatewayConfig& config);

}  // namespace onceonly

#endif  // ONCEONLY_GATEWAY_GATEWAY_CONFIG_H_
