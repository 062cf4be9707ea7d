// A companies registry over plaintext HTTP/2, for one use: `make bench` checks that
// `onceonly bench load` is not the bottleneck by driving this server with it and with h2load,
// which cannot present a client certificate. It serves CompanyRegistry.GetEnterprise from a
// KBO database, like onceonly-registry but without TLS or caller checks, and listens on
// loopback only. Not installed, never deployed.
//
//   plaintext_registry --db kbo.db --port-file FILE
#include <grpcpp/grpcpp.h>

#include <iostream>
#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "common/command_line.h"
#include "common/grpc_status.h"
#include "common/output_file.h"
#include "connectors/kbo/kbo_connector.h"
#include "onceonly/registry/v1/registry.grpc.pb.h"

namespace onceonly {
namespace {

namespace rv1 = registry::v1;

class PlaintextCompanies final : public rv1::CompanyRegistry::Service {
 public:
  explicit PlaintextCompanies(std::unique_ptr<KboConnector> connector)
      : connector_(std::move(connector)) {}

  grpc::Status GetEnterprise(grpc::ServerContext* context, const rv1::GetEnterpriseRequest* req,
                             rv1::GetEnterpriseResponse* resp) override {
    FetchRequest request;
    request.enterprise_number = req->enterprise_number();
    if (!req->language().empty()) request.language = req->language();
    request.deadline = absl::FromChrono(context->deadline());
    absl::StatusOr<rv1::SubjectRecords> records = connector_->Fetch(request);
    if (!records.ok()) return ToGrpcStatus(records.status());
    resp->mutable_enterprise()->Swap(records->mutable_enterprise());
    return grpc::Status::OK;
  }

 private:
  const std::unique_ptr<KboConnector> connector_;
};

int Main(int argc, char** argv) {
  absl::StatusOr<CommandLine> cl =
      CommandLine::Parse(std::vector<std::string>(argv + 1, argv + argc), {"db", "port-file"}, {});
  if (!cl.ok() || !cl->Has("db") || !cl->Has("port-file")) {
    std::cerr << "usage: plaintext_registry --db KBO_DB --port-file FILE\n";
    return 2;
  }
  absl::StatusOr<std::unique_ptr<KboConnector>> connector = KboConnector::Create(cl->Get("db"));
  if (!connector.ok()) {
    std::cerr << "plaintext_registry: " << connector.status().message() << "\n";
    return 1;
  }
  PlaintextCompanies service(*std::move(connector));
  grpc::ServerBuilder builder;
  int port = 0;
  builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port);
  builder.RegisterService(&service);
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  if (server == nullptr || port == 0) {
    std::cerr << "plaintext_registry: cannot listen on 127.0.0.1\n";
    return 1;
  }
  if (absl::Status written = WritePortFile(cl->Get("port-file"), port); !written.ok()) {
    std::cerr << "plaintext_registry: --port-file: " << written.message() << "\n";
    return 1;
  }
  std::cerr << "plaintext_registry: serving " << cl->Get("db") << " on 127.0.0.1:" << port
            << " without TLS (benchmarks only)\n";
  server->Wait();
  return 0;
}

}  // namespace
}  // namespace onceonly

int main(int argc, char** argv) { return onceonly::Main(argc, argv); }
