// The whole gateway stack for integration tests, in-process: a dev PKI (members, a foreign
// CA), the real KBO extract imported, sample permits and tax, the demo policy, and a gateway on
// localhost:0 with real mTLS and an injected clock.
#ifndef ONCEONLY_TESTS_INTEGRATION_TEST_STACK_H_
#define ONCEONLY_TESTS_INTEGRATION_TEST_STACK_H_

#include <grpcpp/channel.h>
#include <grpcpp/client_context.h>

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "common/clock.h"
#include "gateway/gateway_server.h"
#include "google/rpc/error_details.pb.h"
#include "onceonly/config/v1/config.pb.h"
#include "onceonly/v1/audit.pb.h"
#include "onceonly/v1/dossier.pb.h"

namespace onceonly {

// A gRPC status with its decoded google.rpc details.
struct RichStatus {
  grpc::Status status;
  google::rpc::ErrorInfo info;
  google::rpc::BadRequest bad_request;
};
RichStatus Details(const grpc::Status& status);

class FaultInjectingConnector;
class RegistryServer;
struct FaultSpec;

// A companies registry over mTLS (the onceonly-registry server, in-process) on the stack's
// kbo.db, answering the gateway's identity, with faults injected: `faults` changes them while
// it runs (owned by `server`).
struct FaultyRegistry {
  std::unique_ptr<RegistryServer> server;
  FaultInjectingConnector* faults = nullptr;
};

class TestStack;
absl::StatusOr<FaultyRegistry> StartFaultyCompaniesRegistry(const TestStack& stack,
                                                            const FaultSpec& spec);

class TestStack {
 public:
  // Builds everything under `dir` (emptied first). Members with certificates in pki/members:
  // brussels-economy, brussels-economy-tender-app, urban-brussels, firm-portal, audit-office,
  // stranger; and
  // brussels-economy in other-pki/ (a CA the gateway does not trust).
  static absl::StatusOr<std::unique_ptr<TestStack>> Create(const std::string& dir,
                                                          absl::Time now);

  const std::string& dir() const { return dir_; }
  FakeClock& clock() { return *clock_; }
  GatewayServer& server() { return *server_; }
  const config::v1::GatewayConfig& config() const { return config_; }
  std::string address() const;
  // Stops the gateway and starts a new one on the same files (a restart; the port changes).
  absl::Status Restart();
  // Stops the in-process gateway and keeps every file, so that an onceonly-gateway process
  // can serve them (the access log admits one writer). Until Restart(), address(), Channel()
  // and GetDossier() must not be called.
  void StopGateway();
  // Writes config() (absolute paths) as JSON, which is YAML, for `onceonly-gateway --config`.
  absl::Status WriteConfigFile(const std::string& path) const;

  // Client TLS files of a member certificate (`file` as in pki/members/<file>.crt), trusting
  // the gateway's CA.
  config::v1::TlsFiles MemberTls(const std::string& file, const std::string& pki = "pki") const;
  std::shared_ptr<grpc::Channel> Channel(const std::string& member,
                                         const std::string& pki = "pki") const;
  // GetDossier as `member` with case-ref (none if empty) and user metadata.
  grpc::Status GetDossier(const std::string& member, const v1::GetDossierRequest& request,
                          v1::Dossier* dossier, const std::string& pki = "pki",
                          const std::string& case_ref = "ECO/2025/42") const;
  // The access record `access_id` of log `log_id`.
  absl::StatusOr<v1::AccessRecord> Record(uint64_t access_id,
                                          const std::string& log_id = "gateway-1") const;
  absl::StatusOr<uint64_t> LogSize(const std::string& log_id = "gateway-1") const;

  static v1::GetDossierRequest Request(const std::string& number, const std::string& purpose,
                                       std::vector<std::string> categories);
  // Sets a deadline of 10 s on `context`.
  static void WithDeadline(grpc::ClientContext& context);

 private:
  TestStack() = default;
  std::string dir_;
  std::unique_ptr<FakeClock> clock_;
  config::v1::GatewayConfig config_;
  std::unique_ptr<GatewayServer> server_;
};

}  // namespace onceonly

#endif  // ONCEONLY_TESTS_INTEGRATION_TEST_STACK_H_
