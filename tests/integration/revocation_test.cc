// Certificate revocation end to end, through real mTLS: a CRL file put back to an older
// version does not un-revoke anyone, and a gateway told to fail closed refuses every caller
// once its CRL is stale. Time is the stack's FakeClock; the CRLs are the dev PKI's.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <memory>
#include <string>

#include "absl/strings/numbers.h"
#include "absl/time/time.h"
#include "common/tls.h"
#include "gateway/gateway_server.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "onceonly/v1/dossier.grpc.pb.h"
#include "tests/integration/test_stack.h"
#include "tools/pki/dev_pki.h"

namespace onceonly {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;

const absl::Time kStart = absl::FromUnixSeconds(1767225600);  // 2026-01-01, in the demo grants

struct CrlDates {
  absl::Time this_update;
  absl::Time next_update;
};

absl::Time ToTime(const ASN1_TIME* time) {
  struct tm tm {};
  if (time == nullptr || ASN1_TIME_to_tm(time, &tm) != 1) return absl::InfinitePast();
  return absl::FromTM(tm, absl::UTCTimeZone());
}

// The dates of the (single) CRL in a PEM file; the dev PKI stamps them with the real time.
CrlDates ReadCrlDates(const std::string& path) {
  CrlDates dates{absl::InfinitePast(), absl::InfinitePast()};
  FILE* file = std::fopen(path.c_str(), "r");
  if (file == nullptr) return dates;
  X509_CRL* crl = PEM_read_X509_CRL(file, nullptr, nullptr, nullptr);
  std::fclose(file);
  if (crl == nullptr) return dates;
  dates.this_update = ToTime(X509_CRL_get0_lastUpdate(crl));
  dates.next_update = ToTime(X509_CRL_get0_nextUpdate(crl));
  X509_CRL_free(crl);
  return dates;
}

// GET /metrics on the loopback port; the whole HTTP response.
std::string ScrapeMetrics(int port) {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(static_cast<uint16_t>(port));
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  std::string response;
  const std::string request = "GET /metrics HTTP/1.0\r\n\r\n";
  if (connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) == 0 &&
      write(fd, request.data(), request.size()) == static_cast<ssize_t>(request.size())) {
    char buffer[4096];
    for (ssize_t n; (n = read(fd, buffer, sizeof(buffer))) > 0;) response.append(buffer, n);
  }
  close(fd);
  return response;
}

// An unlabelled gauge's value in a scrape, or NaN if it is not there.
double GaugeValue(const std::string& scrape, const std::string& name) {
  const size_t at = scrape.find("\n" + name + " ");
  if (at == std::string::npos) return std::nan("");
  double value = std::nan("");
  const size_t start = at + name.size() + 2;
  const size_t end = scrape.find('\n', start);
  if (!absl::SimpleAtod(scrape.substr(start, end - start), &value)) return std::nan("");
  return value;
}

// Copies `from` over `to` the way a CRL is published: a new file renamed into place.
void PublishFile(const std::string& from, const std::string& to) {
  fs::copy_file(from, to + ".tmp", fs::copy_options::overwrite_existing);
  fs::rename(to + ".tmp", to);
}

class RevocationTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto stack =
        TestStack::Create(::testing::TempDir() + "/revocation-" + std::to_string(getpid()) + "-" +
                              ::testing::UnitTest::GetInstance()->current_test_info()->name(),
                          kStart);
    ASSERT_TRUE(stack.ok()) << stack.status();
    stack_ = *std::move(stack);
    crl_path_ = stack_->dir() + "/pki/crl.pem";
  }

  grpc::Status Call(const std::string& member, v1::Dossier* dossier) {
    return stack_->GetDossier(
        member, TestStack::Request("1029.028.161", "public-procurement", {"company.identity"}),
        dossier);
  }

  std::unique_ptr<TestStack> stack_;
  std::string crl_path_;
};

TEST_F(RevocationTest, ReplayedOlderCrlDoesNotUnrevokeAMember) {
  const std::string before_revocation = stack_->dir() + "/crl-number-1.pem";
  fs::copy_file(crl_path_, before_revocation);
  v1::Dossier dossier;
  ASSERT_TRUE(Call("brussels-economy-tender-app", &dossier).ok());
  ASSERT_TRUE(RevokeCertificate(stack_->dir() + "/pki",
                                stack_->dir() + "/pki/members/brussels-economy-tender-app.crt",
                                DevPkiOptions())
                  .ok());
  stack_->clock().Advance(absl::Seconds(2));  // past the CRL recheck interval
  RichStatus refused = Details(Call("brussels-economy-tender-app", &dossier));
  ASSERT_EQ(refused.info.reason(), "CERTIFICATE_REVOKED");

  // The CRL from before the revocation, validly signed by the CA and not expired, put back.
  PublishFile(before_revocation, crl_path_);
  stack_->clock().Advance(absl::Seconds(2));
  RichStatus r = Details(Call("brussels-economy-tender-app", &dossier));
  EXPECT_EQ(r.status.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(r.info.reason(), "CERTIFICATE_REVOKED");
  absl::Status reload = stack_->server().ReloadRevocations();
  EXPECT_EQ(reload.code(), absl::StatusCode::kFailedPrecondition) << reload;
  EXPECT_THAT(std::string(reload.message()), HasSubstr(crl_path_));
  EXPECT_THAT(std::string(reload.message()), HasSubstr("CRL Number 1, below the CRL Number 2"));
  EXPECT_TRUE(Call("brussels-economy", &dossier).ok());
}

TEST_F(RevocationTest, StaleCrlRefusesEveryCallerOncePastNextUpdateAndGrace) {
  // The stack's gateway again, configured to fail closed an hour after nextUpdate, with its
  // metrics served.
  stack_->StopGateway();
  config::v1::GatewayConfig config = stack_->config();
  config.mutable_tls()->mutable_crl_stale_grace()->set_seconds(3600);
  config.set_metrics_listen_address("127.0.0.1:0");
  auto gateway = GatewayServer::Start(config, stack_->clock());
  ASSERT_TRUE(gateway.ok()) << gateway.status();
  std::unique_ptr<GatewayServer> server = *std::move(gateway);
  auto channel = CreateMutualTlsChannel("localhost:" + std::to_string(server->port()),
                                        stack_->MemberTls("brussels-economy"));
  ASSERT_TRUE(channel.ok()) << channel.status();
  auto stub = v1::DossierService::NewStub(*channel);
  auto call = [&stub](v1::Dossier* dossier) {
    grpc::ClientContext context;
    TestStack::WithDeadline(context);
    return stub->GetDossier(
        &context, TestStack::Request("1029.028.161", "public-procurement", {"company.identity"}),
        dossier);
  };

  const CrlDates crl = ReadCrlDates(crl_path_);
  ASSERT_LT(kStart, crl.next_update);
  v1::Dossier dossier;
  // Past nextUpdate, within the grace: served as before.
  stack_->clock().Set(crl.next_update + absl::Hours(1) - absl::Seconds(1));
  grpc::Status within = call(&dossier);
  EXPECT_TRUE(within.ok()) << within.error_message();
  const std::string scrape = ScrapeMetrics(server->metrics_port());
  EXPECT_EQ(GaugeValue(scrape, "onceonly_crl_next_update_seconds"), -3599) << scrape;
  EXPECT_EQ(
      GaugeValue(scrape, "onceonly_crl_age_seconds"),
      absl::ToDoubleSeconds(crl.next_update + absl::Hours(1) - absl::Seconds(1) - crl.this_update))
      << scrape;

  // From nextUpdate + grace on: refused, with what is wrong, and logged as a denial.
  stack_->clock().Set(crl.next_update + absl::Hours(1));
  RichStatus r = Details(call(&dossier));
  EXPECT_EQ(r.status.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(r.info.reason(), "CERTIFICATE_REVOCATION_UNKNOWN");
  EXPECT_THAT(r.status.error_message(), HasSubstr("stale"));
  EXPECT_THAT(r.status.error_message(),
              HasSubstr(absl::FormatTime("%Y-%m-%dT%H:%M:%SZ", crl.next_update + absl::Hours(1),
                                         absl::UTCTimeZone())));
  EXPECT_THAT(r.status.error_message(), ::testing::Not(HasSubstr(crl_path_)));
  ASSERT_TRUE(r.info.metadata().count("access_id"));
  uint64_t access_id = 0;
  ASSERT_TRUE(absl::SimpleAtoi(r.info.metadata().find("access_id")->second, &access_id));
  absl::StatusOr<v1::AccessRecord> record = stack_->Record(access_id);
  ASSERT_TRUE(record.ok()) << record.status();
  EXPECT_EQ(record->reason(), "CERTIFICATE_REVOCATION_UNKNOWN");
  EXPECT_EQ(record->decision(), v1::DECISION_DENY);
}

}  // namespace
}  // namespace onceonly
