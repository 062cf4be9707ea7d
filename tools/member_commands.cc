#include "tools/member_commands.h"

#include <iostream>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "authz/consent_receipt.h"
#include "common/ed25519.h"
#include "common/output_file.h"
#include "common/yaml_proto.h"
#include "google/protobuf/util/json_util.h"
#include "google/protobuf/util/time_util.h"
#include "onceonly/v1/consent.grpc.pb.h"
#include "onceonly/v1/directory.grpc.pb.h"
#include "onceonly/v1/registration.grpc.pb.h"
#include "tools/cli_support.h"

namespace onceonly {
namespace {

using google::protobuf::util::TimeUtil;

absl::StatusOr<CommandLine> Parse(const std::vector<std::string>& args,
                                  std::set<std::string> flags, std::set<std::string> bools = {}) {
  flags.insert(kClientFlags.begin(), kClientFlags.end());
  bools.insert("json");
  return CommandLine::Parse({args.begin() + 1, args.end()}, flags, bools);
}

// An RFC 3339 flag into a Timestamp; InvalidArgument names the flag.
absl::Status TimeFlag(const CommandLine& cl, const std::string& flag,
                      google::protobuf::Timestamp* out) {
  if (!TimeUtil::FromString(cl.Get(flag), out)) {
    return absl::InvalidArgumentError(
        absl::StrCat("--", flag, " takes an RFC 3339 time, e.g. 2026-12-31T23:59:59Z"));
  }
  return absl::OkStatus();
}

int WriteReceipt(const CommandLine& cl, const v1::SignedReceipt& receipt) {
  if (!cl.Has("receipt-out")) return 0;
  if (absl::Status written = WriteOutputFile(cl.Get("receipt-out"), ToJson(receipt));
      !written.ok()) {
    // The gateway hands a receipt out once: print it rather than lose it.
    std::cout << ToJson(receipt);
    return Fail(absl::Status(written.code(), absl::StrCat(written.message(),
                                                          " (the receipt is printed above)")));
  }
  std::cout << "receipt written to " << cl.Get("receipt-out") << "\n";
  return 0;
}

std::string ConsentLine(const v1::Consent& c) {
  return absl::StrCat(c.consent_id(), "  ", c.subject(), " -> ", c.grantee_member(), "  ",
                      c.purpose(), "  [", absl::StrJoin(c.categories(), ", "), "]  ",
                      TimeUtil::ToString(c.valid_from()), " .. ",
                      TimeUtil::ToString(c.valid_until()),
                      c.has_revoked_at() ? "  REVOKED " + TimeUtil::ToString(c.revoked_at())
                                         : "");
}

std::string RegistrationLine(const v1::Registration& r) {
  return absl::StrCat(r.registration_id(), "  ", r.member(), "  ", r.subject(), "  ",
                      r.purpose(), "  case ", r.case_ref(), "  ",
                      TimeUtil::ToString(r.valid_from()), " .. ",
                      TimeUtil::ToString(r.valid_until()),
                      r.has_ended_at() ? "  ENDED " + TimeUtil::ToString(r.ended_at()) : "");
}

int VerifyReceipt(const std::vector<std::string>& args) {
  auto cl = CommandLine::Parse({args.begin() + 1, args.end()}, {"public-key"});
  if (!cl.ok()) return Usage(std::string(cl.status().message()));
  if (cl->positional().size() != 1) return Usage("consent verify-receipt needs one FILE");
  const std::string& file = cl->positional()[0];
  auto text = ReadFileToString(file);
  if (!text.ok()) return Fail(text.status());
  v1::SignedReceipt receipt;
  if (!google::protobuf::util::JsonStringToMessage(*text, &receipt).ok() ||
      receipt.receipt_json().empty()) {
    return Fail(absl::InvalidArgumentError(
        absl::StrCat(file, ": not a signed receipt (JSON with receipt_json and signature)")));
  }
  // The key inside a receipt proves nothing (anyone can sign with their own): the check is
  // against the gateway's key, which the verifier must bring.
  if (!cl->Has("public-key")) {
    return Usage("consent verify-receipt needs --public-key PEM: the gateway's receipt key "
                 "(checkpoint.pub of its PKI)");
  }
  auto key = ReadFileToString(cl->Get("public-key"));
  if (!key.ok()) return Fail(key.status());
  // A wrong key file must not read as a forged receipt.
  if (VerifyEd25519(*key, "", "").code() == absl::StatusCode::kInvalidArgument) {
    return Usage(cl->Get("public-key") + " is not an Ed25519 public key (PEM); give the "
                 "gateway's checkpoint.pub");
  }
  absl::Status verified = VerifyConsentReceipt(receipt, *key);
  if (!verified.ok()) {
    return Fail(absl::PermissionDeniedError(absl::StrCat(
        file, ": INVALID: ", verified.message(),
        verified.code() == absl::StatusCode::kPermissionDenied
            ? " — the receipt was altered, or signed by another key"
            : " — this is not a receipt as the gateway issues them")));
  }
  std::cout << file << ": signature valid (key " << cl->Get("public-key") << ")\n"
            << receipt.receipt_json() << "\n";
  return 0;
}

}  // namespace

int ConsentCommand(const std::vector<std::string>& args) {
  if (args.empty()) return Usage("consent needs grant, revoke, list or verify-receipt");
  if (args[0] == "verify-receipt") return VerifyReceipt(args);
  auto cl = Parse(args, {"grantee", "purpose", "category", "from", "until", "receipt-out",
                         "subject", "acting-for"},
                  {"all"});
  if (!cl.ok()) return Usage(std::string(cl.status().message()));
  if (cl->Has("receipt-out")) {  // before the call: its receipt is handed out only once
    if (absl::Status free = CheckOutputPathFree(cl->Get("receipt-out")); !free.ok()) {
      return Fail(free);
    }
  }
  auto channel = GatewayChannel(*cl);
  if (!channel.ok()) return Usage(std::string(channel.status().message()));
  auto stub = v1::ConsentService::NewStub(*channel);
  grpc::ClientContext context;
  if (absl::Status s = PrepareContext(*cl, context); !s.ok()) return Usage(std::string(s.message()));
  // The portal acts for one firm at a time: the one --acting-for names, by default the firm
  // the command is about; the gateway refuses a consent call about any other.
  const std::string subject =
      args[0] == "revoke" ? cl->Get("subject")
                          : (cl->positional().empty() ? std::string() : cl->positional()[0]);
  const std::string acting_for = cl->Get("acting-for", subject);
  if (!acting_for.empty()) context.AddMetadata("x-onceonly-acting-for", acting_for);

  if (args[0] == "grant") {
    if (cl->positional().size() != 1 || !cl->Has("grantee") || !cl->Has("purpose") ||
        !cl->Has("until")) {
      return Usage("consent grant NUMBER --grantee MEMBER --purpose P --category C --until TIME");
    }
    v1::GrantConsentRequest request;
    v1::Consent* c = request.mutable_consent();
    c->set_subject(cl->positional()[0]);
    c->set_grantee_member(cl->Get("grantee"));
    c->set_purpose(cl->Get("purpose"));
    for (const std::string& cat : cl->GetAll("category")) c->add_categories(cat);
    if (absl::Status s = TimeFlag(*cl, "until", c->mutable_valid_until()); !s.ok()) {
      return Usage(std::string(s.message()));
    }
    if (cl->Has("from")) {
      if (absl::Status s = TimeFlag(*cl, "from", c->mutable_valid_from()); !s.ok()) {
        return Usage(std::string(s.message()));
      }
    }
    v1::GrantConsentResponse response;
    grpc::Status status = stub->GrantConsent(&context, request, &response);
    if (!status.ok()) return RpcFailed("GrantConsent", status);
    std::cout << (cl->Has("json") ? ToJson(response) : ConsentLine(response.consent()) + "\n");
    return WriteReceipt(*cl, response.receipt());
  }
  if (args[0] == "revoke") {
    if (cl->positional().size() != 1 || !cl->Has("subject")) {
      return Usage("consent revoke CONSENT_ID --subject NUMBER");
    }
    v1::RevokeConsentRequest request;
    request.set_consent_id(cl->positional()[0]);
    request.set_subject(cl->Get("subject"));
    v1::RevokeConsentResponse response;
    grpc::Status status = stub->RevokeConsent(&context, request, &response);
    if (!status.ok()) return RpcFailed("RevokeConsent", status);
    std::cout << (cl->Has("json") ? ToJson(response) : ConsentLine(response.consent()) + "\n");
    return WriteReceipt(*cl, response.receipt());
  }
  if (args[0] == "list") {
    if (cl->positional().size() != 1) return Usage("consent list NUMBER [--all]");
    v1::ListConsentsRequest request;
    request.set_subject(cl->positional()[0]);
    request.set_include_inactive(cl->Has("all"));
    v1::ListConsentsResponse response;
    grpc::Status status = stub->ListConsents(&context, request, &response);
    if (!status.ok()) return RpcFailed("ListConsents", status);
    if (cl->Has("json")) {
      std::cout << ToJson(response);
    } else {
      for (const auto& c : response.consents()) std::cout << ConsentLine(c) << "\n";
      if (response.consents().empty()) std::cout << "(no consents)\n";
    }
    return 0;
  }
  return Usage("unknown consent command " + args[0]);
}

int RegistrationCommand(const std::vector<std::string>& args) {
  if (args.empty()) return Usage("registration needs register, end or list");
  auto cl = Parse(args, {"purpose", "case-ref", "from", "until"}, {"all"});
  if (!cl.ok()) return Usage(std::string(cl.status().message()));
  auto channel = GatewayChannel(*cl);
  if (!channel.ok()) return Usage(std::string(channel.status().message()));
  auto stub = v1::RegistrationService::NewStub(*channel);
  grpc::ClientContext context;
  if (absl::Status s = PrepareContext(*cl, context); !s.ok()) return Usage(std::string(s.message()));

  if (args[0] == "register") {
    if (cl->positional().size() != 1 || !cl->Has("purpose") || !cl->Has("case-ref")) {
      return Usage("registration register NUMBER --purpose P --case-ref REF [--until TIME]");
    }
    v1::RegisterCaseRequest request;
    request.set_subject(cl->positional()[0]);
    request.set_purpose(cl->Get("purpose"));
    request.set_case_ref(cl->Get("case-ref"));
    for (const char* flag : {"from", "until"}) {
      if (!cl->Has(flag)) continue;
      auto* field = std::string(flag) == "from" ? request.mutable_valid_from()
                                                : request.mutable_valid_until();
      if (absl::Status s = TimeFlag(*cl, flag, field); !s.ok()) {
        return Usage(std::string(s.message()));
      }
    }
    v1::RegisterCaseResponse response;
    grpc::Status status = stub->RegisterCase(&context, request, &response);
    if (!status.ok()) return RpcFailed("RegisterCase", status);
    std::cout << (cl->Has("json") ? ToJson(response)
                                  : RegistrationLine(response.registration()) + "\n");
    return 0;
  }
  if (args[0] == "end") {
    if (cl->positional().size() != 1) return Usage("registration end REGISTRATION_ID");
    v1::EndCaseRequest request;
    request.set_registration_id(cl->positional()[0]);
    v1::EndCaseResponse response;
    grpc::Status status = stub->EndCase(&context, request, &response);
    if (!status.ok()) return RpcFailed("EndCase", status);
    std::cout << (cl->Has("json") ? ToJson(response)
                                  : RegistrationLine(response.registration()) + "\n");
    return 0;
  }
  if (args[0] == "list") {
    v1::ListRegistrationsRequest request;
    if (!cl->positional().empty()) request.set_subject(cl->positional()[0]);
    request.set_include_inactive(cl->Has("all"));
    v1::ListRegistrationsResponse response;
    grpc::Status status = stub->ListRegistrations(&context, request, &response);
    if (!status.ok()) return RpcFailed("ListRegistrations", status);
    if (cl->Has("json")) {
      std::cout << ToJson(response);
    } else {
      for (const auto& r : response.registrations()) std::cout << RegistrationLine(r) << "\n";
      if (response.registrations().empty()) std::cout << "(no registrations)\n";
    }
    return 0;
  }
  return Usage("unknown registration command " + args[0]);
}

int DirectoryCommand(const std::vector<std::string>& args) {
  if (args.empty()) return Usage("directory needs allowed or explain");
  auto cl = Parse(args, {"purpose", "category"});
  if (!cl.ok()) return Usage(std::string(cl.status().message()));
  auto channel = GatewayChannel(*cl);
  if (!channel.ok()) return Usage(std::string(channel.status().message()));
  auto stub = v1::DirectoryService::NewStub(*channel);
  grpc::ClientContext context;
  if (absl::Status s = PrepareContext(*cl, context); !s.ok()) return Usage(std::string(s.message()));

  if (args[0] == "allowed") {
    v1::ListAllowedAccessResponse response;
    grpc::Status status =
        stub->ListAllowedAccess(&context, v1::ListAllowedAccessRequest(), &response);
    if (!status.ok()) return RpcFailed("ListAllowedAccess", status);
    if (cl->Has("json")) {
      std::cout << ToJson(response);
      return 0;
    }
    for (const auto& a : response.allowed()) {
      std::cout << a.purpose() << "  (grant " << a.grant_id() << ")  "
                << absl::StrJoin(a.categories(), ", ");
      if (a.has_valid_until()) std::cout << "  until " << TimeUtil::ToString(a.valid_until());
      std::cout << "\n";
    }
    if (response.allowed().empty()) std::cout << "(nothing granted)\n";
    return 0;
  }
  if (args[0] == "explain") {
    if (cl->positional().size() != 1 || !cl->Has("purpose")) {
      return Usage("directory explain NUMBER --purpose P --category C...");
    }
    v1::ExplainAccessRequest request;
    request.set_enterprise_number(cl->positional()[0]);
    request.set_purpose(cl->Get("purpose"));
    for (const std::string& c : cl->GetAll("category")) request.add_categories(c);
    v1::ExplainAccessResponse response;
    grpc::Status status = stub->ExplainAccess(&context, request, &response);
    if (!status.ok()) return RpcFailed("ExplainAccess", status);
    std::cout << (cl->Has("json") ? ToJson(response)
                                  : absl::StrCat(response.allowed() ? "ALLOWED" : "DENIED", " (",
                                                 response.reason(), "): ",
                                                 response.explanation(), "\n"));
    return 0;
  }
  return Usage("unknown directory command " + args[0]);
}

}  // namespace onceonly
