// What every `onceonly` subcommand shares: exits with a message, JSON output, an mTLS channel
// to the gateway from the common flags, and readable gRPC errors.
#ifndef ONCEONLY_TOOLS_CLI_SUPPORT_H_
#define ONCEONLY_TOOLS_CLI_SUPPORT_H_

#include <grpcpp/channel.h>
#include <grpcpp/client_context.h>

#include <memory>
#include <set>
#include <string>

#include "absl/status/status.h"
#include "common/command_line.h"
#include "google/protobuf/message.h"
#include "onceonly/config/v1/config.pb.h"

namespace onceonly {

extern const char kUsage[];

// Prints `problem` and the usage; returns 2.
int Usage(const std::string& problem);
// Prints the status message; returns 1.
int Fail(const absl::Status& status);
std::string ToJson(const google::protobuf::Message& message);

// Flags that pick the gateway and the client certificate.
inline const std::set<std::string> kClientFlags = {"gateway", "pki", "member", "cert",
                                                   "key",     "ca",  "timeout"};
// The client certificate from --pki DIR --member ID, or --cert/--key/--ca (which override);
// InvalidArgument says which flags are missing.
absl::StatusOr<config::v1::TlsFiles> ClientTlsFromFlags(const CommandLine& cl);
// A channel from --gateway (default localhost:8443) and --pki DIR --member ID or
// --cert/--key/--ca; InvalidArgument says which flags are missing.
absl::StatusOr<std::shared_ptr<grpc::Channel>> GatewayChannel(const CommandLine& cl);
// Deadline from --timeout SECONDS (default 10), case-ref and user metadata if given.
absl::Status PrepareContext(const CommandLine& cl, grpc::ClientContext& context);
// Prints a failed RPC with its ErrorInfo and BadRequest details; returns 1.
int RpcFailed(const std::string& what, const grpc::Status& status);

}  // namespace onceonly

#endif  // ONCEONLY_TOOLS_CLI_SUPPORT_H_
