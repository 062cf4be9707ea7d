#include "gateway/dossier_pipeline.h"

#include <openssl/sha.h>

#include <iostream>
#include <optional>
#include <set>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "authz/categories.h"
#include "common/enterprise_number.h"
#include "common/json_escape.h"
#include "common/metrics.h"
#include "common/proto_time.h"
#include "common/rich_status.h"
#include "google/protobuf/io/coded_stream.h"
#include "google/protobuf/io/zero_copy_stream_impl_lite.h"

namespace onceonly {

namespace {

v1::AccessRecord BaseRecord(const CallInfo& call, const AccessRequest& access,
                            const AccessDecision& decision, absl::Time now) {
  v1::AccessRecord r = CallRecord(call, now);
  r.set_member(decision.member_id);
  r.set_purpose(access.purpose);
  r.set_legal_basis(decision.legal_basis);
  r.set_grant_id(decision.grant_id);
  r.set_consent_id(decision.consent_id);
  r.set_registration_id(decision.registration_id);
  // The case recorded is the one the decision relied on, not merely what the caller said.
  if (!decision.registration_id.empty()) r.set_case_ref(decision.case_ref);
  r.set_subject(access.subject);
  for (const std::string& c : access.categories) r.add_categories_requested(c);
  r.set_reason(decision.reason);
  return r;
}

// What a caller is told of a registry's failure. The registry's own message can quote stored
// values, paths and addresses, which no category releases; it goes to the gateway's log.
std::string PublicSourceMessage(const std::string& registry, absl::StatusCode code,
                                const std::string& reason) {
  if (reason == "CIRCUIT_OPEN") {
    return absl::StrCat("the ", registry,
                        " registry failed repeatedly; the gateway stopped calling it for a "
                        "while and will try it again");
  }
  if (reason == "REGISTRY_OVERLOADED") {
    return absl::StrCat("too many calls to the ", registry,
                        " registry are waiting; its part was not fetched");
  }
  switch (code) {
    case absl::StatusCode::kNotFound:
      return absl::StrCat("the ", registry, " registry holds no record of this enterprise");
    case absl::StatusCode::kDeadlineExceeded:
      return absl::StrCat("the ", registry, " registry did not answer within the deadline");
    case absl::StatusCode::kUnavailable:
      return absl::StrCat("the ", registry, " registry is unavailable");
    default:
      return absl::StrCat("the ", registry, " registry failed (", absl::StatusCodeToString(code),
                          "); the gateway log has the details under this request id");
  }
}

// The label of a failed source: the connector's own reason if it gave one, else one per code.
std::string SourceReason(const absl::Status& status) {
  if (std::string reason = RegistryReason(status); !reason.empty()) return reason;
  switch (status.code()) {
    case absl::StatusCode::kDeadlineExceeded:
      return "REGISTRY_TIMEOUT";
    case absl::StatusCode::kUnavailable:
      return "REGISTRY_UNAVAILABLE";
    case absl::StatusCode::kNotFound:
      return "SUBJECT_NOT_FOUND";
    case absl::StatusCode::kResourceExhausted:
      return "REGISTRY_OVERLOADED";
    default:
      return "REGISTRY_ERROR";
  }
}

// The refusal of an allowed answer withdrawn (Withdrawn's `reason`) while it was served.
absl::Status WithdrawnStatus(const std::string& reason, const std::string& member) {
  AccessDecision denied;
  denied.reason = reason;
  denied.member_id = member;
  denied.explanation = reason == "CONSENT_REVOKED"
                           ? "the consent was revoked while this request was served"
                           : "the registration ended while this request was served";
  return DecisionStatus(denied);
}

Counter& RegistryOutcomes() {
  static Counter& c = DefaultMetrics().counter(
      "onceonly_registry_fetches_total",
      "Registry parts of dossiers, by registry and outcome (OK, OK_CACHE or the source reason)",
      {"registry", "outcome"});
  return c;
}

// What is kept back from a caller's deadline for logging and answering: the fetches end
// this much earlier, so that even a hung registry leaves time to answer within it, also when
// a thousand calls reach their deadlines together.
absl::Duration AnswerReserve(absl::Duration remaining) {
  return std::clamp(remaining / 10, absl::Milliseconds(2), absl::Milliseconds(200));
}

// Keeps only the part of `records` that `registry` owns, and checks it is about `subject`:
// one registry can neither fill nor overwrite another's part of the dossier. Moves, not
// copies: an enterprise's records are the bulk of a dossier.
absl::StatusOr<registry::v1::SubjectRecords> OwnPart(const std::string& registry,
                                                     const std::string& subject,
                                                     registry::v1::SubjectRecords records) {
  registry::v1::SubjectRecords own;
  auto mismatch = [&](const std::string& found) {
    return absl::DataLossError(absl::StrCat("registry ", registry, " answered about ", found,
                                            " when asked about ", subject));
  };
  if (registry == "companies") {
    if (records.has_enterprise() && records.enterprise().enterprise_number() != subject) {
      return mismatch(records.enterprise().enterprise_number());
    }
    if (records.has_enterprise()) own.mutable_enterprise()->Swap(records.mutable_enterprise());
  } else if (registry == "permits") {
    for (const auto& p : records.permits()) {
      if (p.holder_enterprise_number() != subject) return mismatch(p.holder_enterprise_number());
    }
    own.mutable_permits()->Swap(records.mutable_permits());
  } else if (registry == "tax") {
    if (records.has_tax_status() && records.tax_status().enterprise_number() != subject) {
      return mismatch(records.tax_status().enterprise_number());
    }
    if (records.has_tax_status()) own.mutable_tax_status()->Swap(records.mutable_tax_status());
  }
  return own;
}

// Moves one registry's part (checked by OwnPart: registries fill disjoint fields) into the
// dossier's records.
void MoveInto(registry::v1::SubjectRecords& part, registry::v1::SubjectRecords& merged) {
  if (part.has_enterprise()) merged.mutable_enterprise()->Swap(part.mutable_enterprise());
  for (registry::v1::Permit& permit : *part.mutable_permits()) {
    merged.mutable_permits()->Add(std::move(permit));
  }
  if (part.has_tax_status()) merged.mutable_tax_status()->Swap(part.mutable_tax_status());
}

std::string Sha256Hex(const std::string& bytes) {
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(bytes.data()), bytes.size(), digest);
  return absl::BytesToHexString(
      absl::string_view(reinterpret_cast<const char*>(digest), sizeof(digest)));
}

Histogram& FetchSeconds() {
  static Histogram& h = DefaultMetrics().histogram(
      "onceonly_registry_fetch_duration_seconds",
      "Time to a registry's answer (or the cache's) for one dossier", {"registry"});
  return h;
}

std::string CacheKey(const std::string& registry, const FetchRequest& request) {
  return absl::StrCat(registry, "\x1f", request.enterprise_number, "\x1f", request.language);
}

}  // namespace

std::string DossierSha256(const v1::Dossier& dossier) {
  // The auditor's recipe, with protobuf's own deterministic serialization: tests hold the
  // pipeline's bytes (SerializeDossier) to it.
  std::string bytes;
  {
    google::protobuf::io::StringOutputStream stream(&bytes);
    google::protobuf::io::CodedOutputStream coded(&stream);
    coded.SetSerializationDeterministic(true);
    dossier.SerializeToCodedStream(&coded);
  }
  return Sha256Hex(bytes);
}

// The outcome of steps 1-3.
struct DossierPipeline::Prepared {
  absl::Status invalid;  // a caller mistake: answer it, log nothing
  absl::Time now;
  std::shared_ptr<const PolicySnapshot> policy;
  AccessRequest access;
  AccessDecision decision;
  // What to answer a denial with, if not DecisionStatus(decision): a refusal that is logged
  // like a denial but is the caller's to fix (INVALID_METADATA).
  absl::Status refusal;
  std::string language;
};

void DossierPipeline::AppendDenial(const CallInfo& call, const Prepared& p, Done done) {
  // Denials are logged too, and answered only once logged.
  v1::AccessRecord record = BaseRecord(call, p.access, p.decision, p.now);
  record.set_decision(v1::DECISION_DENY);
  // A caller the policy does not know, or a call refused before its request was validated,
  // leaves only fixed fields (and digests of its text) behind.
  if (p.decision.member_id.empty() || !p.refusal.ok()) {
    ConfineToFixedFields(*p.policy, call, &record);
  }
  absl::Status denial = p.refusal.ok() ? DecisionStatus(p.decision) : p.refusal;
  access_log_.Append(std::move(record),
                     [denial, done = std::move(done)](absl::StatusOr<uint64_t> id) {
                       if (!id.ok()) {
                         done(id.status());
                       } else {
                         done(AddErrorMetadata(denial, "access_id", absl::StrCat(*id)));
                       }
                     });
}

// The state of one allowed request while its registries answer.
struct DossierPipeline::FanOut {
  v1::AccessRecord record;
  FetchRequest fetch;
  absl::Time deadline;
  std::vector<std::string> allowed;  // categories the decision allowed, in request order
  std::string member_id;
  std::string consent_id;       // relied on; re-checked before release
  std::string registration_id;  // relied on; re-checked before release
  std::string grant_id;
  std::string purpose;
  Done done;

  // The FinishAtDeadline callback, cancelled when the registries answer in time.
  std::optional<Timer::Handle> deadline_timer ABSL_GUARDED_BY(mu);

  absl::Duration max_age;     // the oldest cached data the caller accepts
  absl::Time started;         // when the fetches were scheduled
  absl::Time fetch_deadline;  // the caller's deadline less AnswerReserve

  absl::Mutex mu;
  std::set<std::string> pending ABSL_GUARDED_BY(mu);  // registries yet to answer
  bool finished ABSL_GUARDED_BY(mu) = false;          // Finish ran or is running
  registry::v1::SubjectRecords merged ABSL_GUARDED_BY(mu);
  // The Enterprise, when it came from the cache: left there, not copied into `merged`.
  std::shared_ptr<const FieldWire> cached_company ABSL_GUARDED_BY(mu);
  std::map<std::string, v1::SourceStatus> sources ABSL_GUARDED_BY(mu);
};

DossierPipeline::DossierPipeline(std::shared_ptr<const PolicySnapshot> policy,
                                 std::map<std::string, RegistryEndpoint> registries,
                                 AccessLog& access_log, const AuthzStore& authz_store,
                                 ThreadPool& fetch_pool, const Clock& clock,
                                 int64_t cache_max_bytes, int64_t max_answer_bytes)
    : registries_(std::move(registries)),
      cache_(cache_max_bytes),
      access_log_(access_log),
      authz_store_(authz_store),
      fetch_pool_(fetch_pool),
      clock_(clock),
      max_answer_bytes_(max_answer_bytes),
      policy_(std::move(policy)) {
  for (const auto& [name, endpoint] : registries_) {
    // A registry read asynchronously, cached or not, needs no threads of its own.
    const bool async_only = endpoint.connector != nullptr &&
                            endpoint.connector->fetches_asynchronously();
    if (endpoint.threads > 0 && !async_only) {
      registry_pools_.emplace(name, std::make_unique<ThreadPool>(endpoint.threads));
    }
  }
}

void DossierPipeline::SetPolicy(std::shared_ptr<const PolicySnapshot> policy) {
  absl::MutexLock lock(&policy_mu_);
  policy_ = std::move(policy);
}

std::shared_ptr<const PolicySnapshot> DossierPipeline::policy() const {
  absl::MutexLock lock(&policy_mu_);
  return policy_;
}

DossierPipeline::Prepared DossierPipeline::Prepare(const CallInfo& call,
                                                   const v1::GetDossierRequest& request) const {
  Prepared p;
  p.now = clock_.Now();
  p.policy = this->policy();
  const PolicySnapshot* policy = p.policy.get();

  // 1 authenticate: a caller without a member identity, or one the policy does not know, is
  // denied (and logged) before anything else, so it cannot probe purposes or numbers unseen.
  absl::StatusOr<std::string> subject = CanonicalEnterpriseNumber(request.enterprise_number());
  AccessRequest& access = p.access;
  if (call.identity.ok()) access.identity = *call.identity;
  // Whatever was sent; the record of a caller who is not a member keeps only its digest.
  access.subject = subject.ok() ? *subject : request.enterprise_number();
  access.purpose = request.purpose();
  access.categories.assign(request.categories().begin(), request.categories().end());
  access.case_ref = call.case_ref;
  const config::v1::Member* member =
      call.identity.ok() ? policy->FindMember(*call.identity) : nullptr;
  if (member == nullptr) {
    if (call.identity.ok()) {
      p.decision = Decide(*policy, access, p.now);  // UNKNOWN_MEMBER, with its explanation
    } else {
      // No usable identity: none in the certificate, or a revoked certificate.
      std::string reason = ErrorReason(call.identity.status());
      p.decision.reason = reason.empty() ? "UNKNOWN_IDENTITY" : reason;
      p.decision.explanation = std::string(call.identity.status().message());
    }
    return p;
  }
  // Metadata that may not enter the log refuses the call, which is logged with fixed text.
  if (!call.metadata_error.ok()) {
    p.decision.member_id = member->id();
    p.decision.reason = ErrorReason(call.metadata_error);
    p.refusal = call.metadata_error;
    return p;
  }

  // 2 validate: caller mistakes are answered at once and are not access decisions.
  if (!subject.ok()) {
    p.invalid = InvalidField("enterprise_number", "INVALID_ENTERPRISE_NUMBER",
                             subject.status().message());
    return p;
  }
  p.language = request.language();
  if (!p.language.empty() && p.language != "fr" && p.language != "nl" && p.language != "de" &&
      p.language != "en") {
    p.invalid = InvalidField(
        "language", "UNKNOWN_LANGUAGE",
        absl::StrCat("language \"", p.language, "\" is not one of fr, nl, de, en"));
    return p;
  }
  if (p.language.empty()) p.language = "fr";
  p.invalid = ValidateAccessRequest(*policy, access);
  if (!p.invalid.ok()) return p;

  // 3 authorise, with what the reference directory and the consents say of this request
  // (looked up only for purposes that rest on them).
  const config::v1::Purpose* purpose = policy->FindPurpose(access.purpose);
  if (purpose->requires_registration() || purpose->requires_consent()) {
    p.decision = Decide(*policy, access, p.now,
                        *authz_store_.Facts(member->id(), access.subject, access.purpose));
  } else {
    p.decision = Decide(*policy, access, p.now);
  }
  return p;
}

absl::StatusOr<AccessDecision> DossierPipeline::Explain(
    const CallInfo& call, const v1::GetDossierRequest& request) const {
  Prepared p = Prepare(call, request);
  if (!p.invalid.ok()) return p.invalid;
  if (!p.refusal.ok()) return p.refusal;
  return p.decision;
}

void DossierPipeline::GetDossier(const CallInfo& call, const v1::GetDossierRequest& request,
                                 Done done) {
  Prepared p = Prepare(call, request);
  if (!p.invalid.ok()) {
    done(p.invalid);
    return;
  }
  if (!p.decision.allowed) {
    AppendDenial(call, p, std::move(done));
    return;
  }
  const AccessRequest& access = p.access;
  const AccessDecision& decision = p.decision;
  const absl::Time now = p.now;
  const std::string& language = p.language;
  v1::AccessRecord record = BaseRecord(call, access, decision, now);
  record.set_decision(v1::DECISION_ALLOW);

  // 4 fetch: one task per registry that holds a released category.
  auto fan_out = std::make_shared<FanOut>();
  fan_out->record = std::move(record);
  fan_out->fetch.enterprise_number = access.subject;
  fan_out->fetch.language = language;
  fan_out->deadline = call.deadline;
  fan_out->allowed = decision.released_categories;
  fan_out->grant_id = decision.grant_id;
  fan_out->member_id = decision.member_id;
  fan_out->consent_id = decision.consent_id;
  fan_out->registration_id = decision.registration_id;
  fan_out->purpose = access.purpose;
  fan_out->done = std::move(done);
  std::map<std::string, std::vector<std::string>> by_registry;
  for (const std::string& c : decision.released_categories) {
    by_registry[FindDataCategory(c)->registry].push_back(c);
  }
  // Deadlines are transport time (gRPC's real clock); the injected clock only dates
  // decisions and records.
  fan_out->max_age = request.has_max_age() ? FromProto(request.max_age()) : absl::ZeroDuration();
  fan_out->started = absl::Now();
  fan_out->fetch_deadline =
      call.deadline == absl::InfiniteFuture()
          ? absl::InfiniteFuture()
          : call.deadline - AnswerReserve(call.deadline - fan_out->started);
  absl::Time last_fetch_deadline = fan_out->started;
  {
    absl::MutexLock lock(&fan_out->mu);
    for (const auto& [registry, categories] : by_registry) {
      v1::SourceStatus& source = fan_out->sources[registry];
      source.set_registry(registry);
      for (const std::string& c : categories) source.add_categories(c);
      fan_out->pending.insert(registry);
      auto it = registries_.find(registry);
      last_fetch_deadline = std::max(
          last_fetch_deadline,
          it == registries_.end()
              ? fan_out->started
              : std::min(fan_out->fetch_deadline, fan_out->started + it->second.timeout));
    }
  }
  if (by_registry.empty()) {
    FinishAtDeadline(fan_out);  // nothing to fetch: finish now
    return;
  }
  for (const auto& entry : by_registry) {
    const std::string& registry = entry.first;
    auto it = registries_.find(registry);
    if (it != registries_.end()) {
      const RegistryEndpoint& endpoint = it->second;
      const int ahead = endpoint.in_flight->fetch_add(1);
      if (endpoint.max_queued > 0 && ahead >= std::max(endpoint.threads, 1) + endpoint.max_queued) {
        endpoint.in_flight->fetch_sub(1);
        Complete(fan_out, registry,
                 WithRegistryReason(absl::ResourceExhaustedError(absl::StrCat(
                                        ahead, " fetches of registry ", registry,
                                        " are already queued or running")),
                                    "REGISTRY_OVERLOADED"));
        continue;
      }
    }
    StartFetch(fan_out, registry);
  }
  // The deadline, unless every part was there at once (from the cache, or refused).
  if (last_fetch_deadline != absl::InfiniteFuture()) {
    absl::MutexLock lock(&fan_out->mu);
    if (!fan_out->finished) {
      std::weak_ptr<FanOut> weak = fan_out;
      fan_out->deadline_timer = deadlines_.At(last_fetch_deadline, [this, weak] {
        if (std::shared_ptr<FanOut> alive = weak.lock()) FinishAtDeadline(alive);
      });
    }
  }
}

DossierPipeline::~DossierPipeline() { DrainFetches(); }

void DossierPipeline::DrainFetches() {
  registry_pools_.clear();
  absl::MutexLock lock(&async_mu_);
  async_mu_.Await(absl::Condition(
      +[](int* in_flight) { return *in_flight == 0; }, &async_in_flight_));
}

FetchRequest DossierPipeline::RequestFor(const FanOut& fan_out, const std::string& registry,
                                         const RegistryEndpoint& endpoint) const {
  FetchRequest request = fan_out.fetch;
  request.deadline = std::min(fan_out.fetch_deadline, fan_out.started + endpoint.timeout);
  request.deadline_is_callers = fan_out.fetch_deadline < fan_out.started + endpoint.timeout;
  // Minimised at the source: the registry reads and sends only what this caller may receive.
  // A cached registry is asked for whole answers, which the cache keeps to serve any purpose.
  if (registry == "companies" && endpoint.cache_ttl <= absl::ZeroDuration()) {
    request.fields = CompanyFieldsFor(fan_out.allowed);
  }
  return request;
}

void DossierPipeline::StartFetch(const std::shared_ptr<FanOut>& fan_out,
                                 const std::string& registry) {
  auto it = registries_.find(registry);
  if (it == registries_.end()) {
    Complete(fan_out, registry,
             absl::UnavailableError(
                 absl::StrCat("registry ", registry, " is not configured on this gateway")));
    return;
  }
  const RegistryEndpoint& endpoint = it->second;
  FetchRequest request = RequestFor(*fan_out, registry, endpoint);
  const absl::Time asked = absl::Now();
  if (endpoint.cache_ttl > absl::ZeroDuration()) {
    // A cached answer this caller accepts is served here: no thread, no registry.
    if (std::optional<RegistryCache::Hit> hit =
            cache_.Lookup(CacheKey(registry, request), fan_out->max_age, endpoint.cache_ttl)) {
      if (hit->enterprise_wire != nullptr) {
        // The Enterprise stays in the cache: its fields are spliced into the dossier's bytes
        // as they are written (SerializeDossier), never copied. It is the whole answer (by
        // OwnPart, a registry's answer that holds an Enterprise holds nothing else).
        Arrived(fan_out, registry, endpoint, asked, registry::v1::SubjectRecords(),
                hit->retrieved_at, true, std::move(hit->enterprise_wire));
      } else {
        Arrived(fan_out, registry, endpoint, asked, *hit->records, hit->retrieved_at, true);
      }
      return;
    }
  }
  // A network read goes out from this thread and holds none while the registry works (for a
  // cached registry, through the cache's single flight, which calls back too); an in-process
  // store waits on a fetch thread.
  if (endpoint.connector->fetches_asynchronously()) {
    // Bound by the caller's deadline, the read gives up half the answer reserve before the
    // dossier does: when a hung registry makes a thousand reads expire at once, their
    // expiries are dealt with before the answers are due, not in the same instant.
    if (request.deadline_is_callers && fan_out->deadline != absl::InfiniteFuture()) {
      request.deadline -= (fan_out->deadline - fan_out->fetch_deadline) / 2;
    }
    {
      absl::MutexLock lock(&async_mu_);
      ++async_in_flight_;
    }
    // This caller's read; it may also start from another caller's callback (when the read
    // this one joined failed), so it carries all it needs.
    RegistryCache::AsyncFetch read = [&endpoint, registry, request](RegistryCache::FetchDone done) {
      endpoint.connector->FetchAsync(
          request, [registry, subject = request.enterprise_number, done = std::move(done)](
                       absl::StatusOr<registry::v1::SubjectRecords> fetched) {
            // Checked before the cache keeps it.
            if (fetched.ok()) fetched = OwnPart(registry, subject, *std::move(fetched));
            done(std::move(fetched));
          });
    };
    // This part's place in the registry's queue (threads + max_queued), freed once: when it
    // joins a read already in flight, which it adds nothing to, or when its answer is back.
    auto place = std::make_shared<std::atomic<bool>>(true);
    auto free_place = [place, &endpoint] {
      if (place->exchange(false)) endpoint.in_flight->fetch_sub(1);
    };
    const std::string key = CacheKey(registry, request);
    const absl::Time deadline = request.deadline;
    const bool joined = cache_.GetAsync(
        key, fan_out->max_age, endpoint.cache_ttl, deadline, std::move(read),
        [this, fan_out, registry, asked, free_place](RegistryCache::Answer answer) {
          free_place();
          Timed(fan_out, registry, asked, std::move(answer.records), answer.retrieved_at,
                answer.from_cache);
          absl::MutexLock lock(&async_mu_);
          --async_in_flight_;
        });
    if (joined) free_place();
    return;
  }
  auto own = registry_pools_.find(registry);
  ThreadPool& pool = own == registry_pools_.end() ? fetch_pool_ : *own->second;
  pool.Schedule([this, fan_out, registry, request = std::move(request)] {
    Fetch(fan_out, registry, request);
  });
}

void DossierPipeline::Fetch(const std::shared_ptr<FanOut>& fan_out, const std::string& registry,
                            const FetchRequest& request) {
  const RegistryEndpoint& endpoint = registries_.at(registry);
  bool finished;
  {
    absl::MutexLock lock(&fan_out->mu);
    finished = fan_out->finished;
  }
  if (finished || absl::Now() >= request.deadline) {
    // Queued behind slow fetches until past its deadline: the call would be wasted.
    endpoint.in_flight->fetch_sub(1);
    Complete(fan_out, registry,
             absl::DeadlineExceededError(
                 absl::StrCat("no time left for registry ", registry, " within the deadline")));
    return;
  }
  const absl::Time asked = absl::Now();
  RegistryCache::Answer answer = cache_.Get(
      CacheKey(registry, request), fan_out->max_age, endpoint.cache_ttl, request.deadline,
      [&]() -> absl::StatusOr<registry::v1::SubjectRecords> {
        absl::StatusOr<registry::v1::SubjectRecords> fetched = endpoint.connector->Fetch(request);
        if (!fetched.ok()) return fetched;
        return OwnPart(registry, request.enterprise_number, *std::move(fetched));  // cached as checked
      });
  Arrived(fan_out, registry, endpoint, asked, std::move(answer.records), answer.retrieved_at,
          answer.from_cache);
}

void DossierPipeline::Arrived(const std::shared_ptr<FanOut>& fan_out, const std::string& registry,
                              const RegistryEndpoint& endpoint, absl::Time asked,
                              absl::StatusOr<registry::v1::SubjectRecords> records,
                              absl::Time retrieved, bool from_cache,
                              std::shared_ptr<const FieldWire> cached_company) {
  endpoint.in_flight->fetch_sub(1);
  Timed(fan_out, registry, asked, std::move(records), retrieved, from_cache,
        std::move(cached_company));
}

void DossierPipeline::Timed(const std::shared_ptr<FanOut>& fan_out, const std::string& registry,
                            absl::Time asked, absl::StatusOr<registry::v1::SubjectRecords> records,
                            absl::Time retrieved, bool from_cache,
                            std::shared_ptr<const FieldWire> cached_company) {
  FetchSeconds().Observe({registry}, absl::ToDoubleSeconds(absl::Now() - asked));
  Complete(fan_out, registry, std::move(records), retrieved, from_cache,
           std::move(cached_company));
}

void DossierPipeline::Complete(const std::shared_ptr<FanOut>& fan_out, const std::string& registry,
                               absl::StatusOr<registry::v1::SubjectRecords> records,
                               absl::Time retrieved, bool from_cache,
                               std::shared_ptr<const FieldWire> cached_company) {
  bool last;
  std::string log_line;  // written after the lock: stderr may block
  {
    absl::MutexLock lock(&fan_out->mu);
    // After the deadline the dossier is gone, labelled without this registry.
    if (fan_out->finished) return;
    fan_out->pending.erase(registry);
    v1::SourceStatus& source = fan_out->sources[registry];
    *source.mutable_retrieved_at() = ToProto(retrieved);
    source.set_from_cache(from_cache);
    if (records.ok()) {
      MoveInto(*records, fan_out->merged);
      if (cached_company != nullptr) fan_out->cached_company = std::move(cached_company);
    } else {
      // A failing registry gives a partial dossier, never a failed request.
      const std::string reason = SourceReason(records.status());
      source.set_code(static_cast<int>(records.status().code()));
      source.set_reason(reason);
      source.set_message(PublicSourceMessage(registry, records.status().code(), reason));
      log_line = absl::StrFormat(
          "{\"event\":\"registry_error\",\"request_id\":\"%s\",\"registry\":\"%s\","
          "\"code\":\"%s\",\"reason\":\"%s\",\"detail\":\"%s\"}\n",
          JsonEscape(fan_out->record.request_id()), registry,
          absl::StatusCodeToString(records.status().code()), reason,
          JsonEscape(records.status().message()));
    }
    last = fan_out->pending.empty();
    if (last) fan_out->finished = true;
    RegistryOutcomes().Add({registry, records.ok() ? (from_cache ? "OK_CACHE" : "OK") : source.reason()});
  }
  if (!log_line.empty()) std::cerr << log_line;
  if (last) Finish(fan_out);
}

void DossierPipeline::FinishAtDeadline(const std::shared_ptr<FanOut>& fan_out) {
  {
    absl::MutexLock lock(&fan_out->mu);
    if (fan_out->finished) return;
    fan_out->finished = true;
    for (const std::string& registry : fan_out->pending) {
      RegistryOutcomes().Add({registry, "REGISTRY_TIMEOUT"});
      v1::SourceStatus& source = fan_out->sources[registry];
      source.set_code(static_cast<int>(absl::StatusCode::kDeadlineExceeded));
      source.set_reason("REGISTRY_TIMEOUT");
      source.set_message(
          PublicSourceMessage(registry, absl::StatusCode::kDeadlineExceeded, "REGISTRY_TIMEOUT"));
    }
    fan_out->pending.clear();
  }
  Finish(fan_out);
}

std::string DossierPipeline::Withdrawn(const FanOut& fan_out) const {
  if (fan_out.consent_id.empty() && fan_out.registration_id.empty()) return "";
  std::shared_ptr<const AccessFacts> facts = authz_store_.Facts(
      fan_out.member_id, fan_out.fetch.enterprise_number, fan_out.purpose);
  for (const ConsentPtr& c : facts->consents) {
    if (c->consent_id() == fan_out.consent_id && c->has_revoked_at()) return "CONSENT_REVOKED";
  }
  for (const RegistrationPtr& r : facts->registrations) {
    if (r->registration_id() == fan_out.registration_id && r->has_ended_at()) {
      return "REGISTRATION_REQUIRED";
    }
  }
  return "";
}

void DossierPipeline::Withhold(const std::shared_ptr<FanOut>& fan_out,
                               const std::string& reason, absl::Status refusal) {
  AppendWithheld(std::move(fan_out->record), reason, std::move(refusal),
                 std::move(fan_out->done));
}

void DossierPipeline::AppendWithheld(v1::AccessRecord record, const std::string& reason,
                                     absl::Status refusal, Done done) {
  record.set_decision(v1::DECISION_DENY);
  record.set_reason(reason);
  record.clear_categories_released();
  record.clear_grant_id();
  record.clear_payload_sha256();
  access_log_.Append(std::move(record), [refusal = std::move(refusal), done = std::move(done)](
                                            absl::StatusOr<uint64_t> id) {
    done(id.ok() ? AddErrorMetadata(refusal, "access_id", absl::StrCat(*id)) : id.status());
  });
}

void DossierPipeline::Finish(std::shared_ptr<FanOut> fan_out) {
  v1::Dossier dossier;
  std::set<std::string> released;
  std::shared_ptr<const FieldWire> cached_company;
  {
    absl::MutexLock lock(&fan_out->mu);
    if (fan_out->deadline_timer.has_value()) deadlines_.Cancel(*fan_out->deadline_timer);
    cached_company = std::move(fan_out->cached_company);
    registry::v1::SubjectRecords& merged = fan_out->merged;
    if (merged.has_enterprise()) *dossier.mutable_company() = std::move(*merged.mutable_enterprise());
    for (registry::v1::Permit& p : *merged.mutable_permits()) {
      if (p.kind() == registry::v1::PERMIT_KIND_ENVIRONMENT) {
        *dossier.mutable_permits()->add_environment() = std::move(p);
      } else if (p.kind() == registry::v1::PERMIT_KIND_URBANISM) {
        *dossier.mutable_permits()->add_urbanism() = std::move(p);
      }
    }
    if (merged.has_tax_status()) *dossier.mutable_tax() = std::move(*merged.mutable_tax_status());
    // Released means "left the gateway": a category whose registry did not answer released
    // nothing, and neither the dossier nor the log may claim otherwise.
    for (auto& [name, source] : fan_out->sources) {
      // ":cache": answered from the gateway's cache, not by the registry for this request.
      fan_out->record.add_sources(absl::StrCat(
          name, ":", absl::StatusCodeToString(static_cast<absl::StatusCode>(source.code())),
          source.from_cache() ? ":cache" : ""));
      if (source.code() == 0) {
        for (const std::string& c : source.categories()) released.insert(c);
      }
      *dossier.add_sources() = std::move(source);
    }
  }
  dossier.set_enterprise_number(fan_out->fetch.enterprise_number);
  dossier.set_purpose(fan_out->purpose);
  dossier.set_grant_id(fan_out->grant_id);
  std::vector<std::string> released_in_order;
  for (const std::string& c : fan_out->allowed) {
    if (released.count(c)) released_in_order.push_back(c);
  }
  for (const std::string& c : released_in_order) {
    dossier.add_released_categories(c);
    fan_out->record.add_categories_released(c);
  }

  // 5 minimise: whatever the registries sent, only released categories remain (a company
  // from the cache, as its fields are written). The record holds the hash of the very bytes
  // that leave.
  const KeptDossierFields kept = DossierFieldsKept(released_in_order);
  TrimDossier(kept, &dossier);
  std::string wire = SerializeDossier(dossier, cached_company.get(), kept);
  fan_out->record.set_payload_sha256(Sha256Hex(wire));

  // A consent revoked (or a case ended) while the registries answered: the revocation was
  // acknowledged, so nothing may leave for it now.
  if (std::string withdrawn = Withdrawn(*fan_out); !withdrawn.empty()) {
    Withhold(fan_out, withdrawn, WithdrawnStatus(withdrawn, fan_out->member_id));
    return;
  }
  // gRPC would refuse to send it: then it was not released, and the log must not say so. The
  // access_id field adds at most 11 bytes.
  constexpr int64_t kAccessIdBytes = 11;
  if (max_answer_bytes_ > 0 &&
      static_cast<int64_t>(wire.size()) + kAccessIdBytes > max_answer_bytes_) {
    Withhold(fan_out, "ANSWER_TOO_LARGE",
             ErrorWithReason(absl::StatusCode::kResourceExhausted, "ANSWER_TOO_LARGE",
                             absl::StrCat("the dossier is ", wire.size(),
                                          " bytes, more than this gateway sends in one answer (",
                                          max_answer_bytes_,
                                          "); ask for fewer categories per call"),
                             {{"max_response_bytes", absl::StrCat(max_answer_bytes_)}}));
    return;
  }

  // 6 audit, 7 respond: the answer leaves only once its record is durable.
  Done done = std::move(fan_out->done);
  // A dossier that rests on a consent or a case is checked once more after its record
  // committed: a revocation acknowledged meanwhile still stops it. The record then says
  // released, and a second one says it was withheld after all.
  std::optional<v1::AccessRecord> recheck;
  if (!fan_out->consent_id.empty() || !fan_out->registration_id.empty()) {
    recheck = fan_out->record;
  }
  access_log_.Append(std::move(fan_out->record),
                     [this, fan_out, recheck = std::move(recheck), wire = std::move(wire),
                      done = std::move(done)](absl::StatusOr<uint64_t> id) mutable {
                       if (!id.ok()) {
                         done(id.status());
                         return;
                       }
                       if (recheck.has_value()) {
                         if (std::string withdrawn = Withdrawn(*fan_out); !withdrawn.empty()) {
                           WithholdAfterCommit(std::move(*recheck), *id, withdrawn,
                                               std::move(done));
                           return;
                         }
                       }
                       AppendAccessId(*id, &wire);
                       done(DossierAnswer{std::move(wire), *id});
                     });
}

void DossierPipeline::WithholdAfterCommit(v1::AccessRecord record, uint64_t released_id,
                                          const std::string& reason, Done done) {
  record.set_query(absl::StrCat("withheld: access record ", released_id,
                                " was committed, then ", reason, " before the answer left"));
  absl::Status refusal = AddErrorMetadata(WithdrawnStatus(reason, record.member()),
                                          "withheld_access_id", absl::StrCat(released_id));
  AppendWithheld(std::move(record), reason, std::move(refusal), std::move(done));
}

}  // namespace onceonly
