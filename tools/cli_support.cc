#include "tools/cli_support.h"

#include "common/status_macros.h"

#include <iostream>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "common/tls.h"
#include "google/protobuf/util/json_util.h"
#include "google/rpc/error_details.pb.h"
#include "google/rpc/status.pb.h"

namespace onceonly {

int Usage(const std::string& problem) {
  std::cerr << "onceonly: " << problem << "\n\n" << kUsage;
  return 2;
}

int Fail(const absl::Status& status) {
  std::cerr << "onceonly: " << status.message() << "\n";
  return 1;
}

std::string ToJson(const google::protobuf::Message& message) {
  std::string json;
  google::protobuf::util::JsonPrintOptions options;
  options.add_whitespace = true;
  options.preserve_proto_field_names = true;
  (void)google::protobuf::util::MessageToJsonString(message, &json, options);
  return json;
}

absl::StatusOr<config::v1::TlsFiles> ClientTlsFromFlags(const CommandLine& cl) {
  config::v1::TlsFiles tls;
  if (cl.Has("pki")) {
    if (!cl.Has("member")) {
      return absl::InvalidArgumentError("--pki needs --member ID (the certificate to present)");
    }
    std::string dir = cl.Get("pki");
    tls.set_cert_file(absl::StrCat(dir, "/members/", cl.Get("member"), ".crt"));
    tls.set_key_file(absl::StrCat(dir, "/members/", cl.Get("member"), ".key"));
    tls.set_ca_file(dir + "/ca.crt");
  }
  if (cl.Has("cert")) tls.set_cert_file(cl.Get("cert"));
  if (cl.Has("key")) tls.set_key_file(cl.Get("key"));
  if (cl.Has("ca")) tls.set_ca_file(cl.Get("ca"));
  if (tls.cert_file().empty() || tls.ca_file().empty()) {
    return absl::InvalidArgumentError("give --pki DIR --member ID, or --cert, --key and --ca");
  }
  return tls;
}

absl::StatusOr<std::shared_ptr<grpc::Channel>> GatewayChannel(const CommandLine& cl) {
  ASSIGN_OR_RETURN(config::v1::TlsFiles tls, ClientTlsFromFlags(cl));
  return CreateMutualTlsChannel(cl.Get("gateway", "localhost:8443"), tls);
}

absl::Status PrepareContext(const CommandLine& cl, grpc::ClientContext& context) {
  double timeout = 10;
  if (cl.Has("timeout") && !absl::SimpleAtod(cl.Get("timeout"), &timeout)) {
    return absl::InvalidArgumentError("--timeout takes seconds, e.g. 2.5");
  }
  context.set_deadline(std::chrono::system_clock::now() +
                       std::chrono::milliseconds(static_cast<int64_t>(timeout * 1000)));
  if (cl.Has("case-ref")) context.AddMetadata("x-onceonly-case-ref", cl.Get("case-ref"));
  if (cl.Has("user")) context.AddMetadata("x-onceonly-user", cl.Get("user"));
  return absl::OkStatus();
}

int RpcFailed(const std::string& what, const grpc::Status& status) {
  std::cerr << "onceonly: " << what << " failed: "
            << absl::StatusCodeToString(static_cast<absl::StatusCode>(status.error_code()))
            << ": " << status.error_message() << "\n";
  google::rpc::Status rich;
  if (rich.ParseFromString(status.error_details())) {
    for (const auto& any : rich.details()) {
      google::rpc::ErrorInfo info;
      google::rpc::BadRequest bad;
      if (any.UnpackTo(&info)) {
        std::cerr << "  reason: " << info.reason() << "\n";
        for (const auto& [k, v] : info.metadata()) std::cerr << "  " << k << ": " << v << "\n";
      } else if (any.UnpackTo(&bad)) {
        for (const auto& v : bad.field_violations()) {
          std::cerr << "  field " << v.field() << ": " << v.description() << "\n";
        }
      }
    }
  }
  if (status.error_code() == grpc::StatusCode::UNAVAILABLE) {
    std::cerr << "  (is the gateway running there, and does it trust this certificate?)\n";
  }
  return 1;
}

}  // namespace onceonly
