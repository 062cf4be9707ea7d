#include "connectors/kbo/kbo_store.h"

#include <sys/stat.h>

#include <algorithm>
#include <unordered_map>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "common/rich_status.h"
#include "common/sqlite.h"
#include "common/status_macros.h"
#include "connectors/kbo/kbo_schema.h"
#include "connectors/kbo/kbo_search.h"

namespace onceonly {

namespace v1 = registry::v1;

namespace kbo_internal {

// What SearchEnterprises needs on a connection. Prepared on first use, so that a database
// imported before the search index existed still serves GetEnterprise.
struct SearchStatements {
  std::unique_ptr<kbo_search_internal::SearchTokenizer> tokenizer;
  SqliteStatement matching;     // keys of index matches after ?2, in order
  SqliteStatement enterprises;  // numbers of all enterprises after ?1, in order
  SqliteStatement nace;         // whether enterprise ?1 or one of its units has NACE code ?2
  SqliteStatement nace_known;
  SqliteStatement form_known;
  SqliteStatement summary;
  SqliteStatement main_name;
  SqliteStatement seat;
};

// One read-only connection with its statements, prepared once.
struct ReadConnection {
  std::unique_ptr<SqliteDb> db;  // first: outlives the statements
  SqliteStatement begin;
  SqliteStatement end;
  SqliteStatement enterprise;
  SqliteStatement code;
  SqliteStatement denominations;
  SqliteStatement addresses;
  SqliteStatement activities;
  SqliteStatement contacts;
  SqliteStatement establishments;
  SqliteStatement branches;
  SqliteStatement summaries;
  SqliteStatement data_version;
  // Code descriptions already looked up, valid while data_version stays the same.
  int64_t cached_version = -1;
  std::unordered_map<std::string, std::string> descriptions;
  std::unique_ptr<SearchStatements> search;  // after db: destroyed before it
};

}  // namespace kbo_internal

using kbo_internal::ReadConnection;

// Hands a connection back to the pool when it goes out of scope.
class KboStore::Lease {
 public:
  Lease(KboStore* store, std::unique_ptr<Connection> connection)
      : store_(store), connection_(std::move(connection)) {}
  ~Lease() { store_->Release(std::move(connection_)); }
  Lease(const Lease&) = delete;
  Lease& operator=(const Lease&) = delete;
  Connection& operator*() { return *connection_; }

 private:
  KboStore* const store_;
  std::unique_ptr<Connection> connection_;
};

namespace {

// Ends the read transaction, whatever happened inside it.
class ReadTransaction {
 public:
  explicit ReadTransaction(SqliteStatement& end) : end_(end) {}
  ~ReadTransaction() { end_.Run().IgnoreError(); }

 private:
  SqliteStatement& end_;
};

// Runs `stmt` with `key` bound to ?1 and calls `row` for each result row. The statement is
// reset afterwards even if `row` fails, so it can be reused.
template <typename RowFn>
absl::Status ForEachRow(SqliteStatement& stmt, absl::string_view key, RowFn row) {
  stmt.Bind(1, key);
  return onceonly::ForEachRow(stmt, std::move(row));
}

// KBO Language codes 1..4; 0 (unknown) and anything else is "".
std::string DenominationLanguage(absl::string_view code) {
  if (code == "1") return "fr";
  if (code == "2") return "nl";
  if (code == "3") return "de";
  if (code == "4") return "en";
  return "";
}

// Resolves `code` of `category` into `out`; an empty code stays empty. Descriptions are
// cached per connection: a GetEnterprise resolves dozens of codes, mostly the same ones.
absl::Status Resolve(ReadConnection& c, absl::string_view category, absl::string_view code,
                     absl::string_view language, v1::CodedValue* out) {
  out->set_code(std::string(code));
  if (code.empty()) return absl::OkStatus();
  std::string key = absl::StrCat(category, "\t", code, "\t", language);
  auto it = c.descriptions.find(key);
  if (it != c.descriptions.end()) {
    out->set_description(it->second);
    return absl::OkStatus();
  }
  c.code.Bind(1, category).Bind(2, code).Bind(3, language);
  absl::StatusOr<bool> row = c.code.Step();
  std::string description = row.ok() && *row ? c.code.ColumnText(0) : "";
  c.code.Reset();
  RETURN_IF_ERROR(row.status());
  out->set_description(description);
  c.descriptions.emplace(std::move(key), std::move(description));
  return absl::OkStatus();
}

// Drops cached descriptions if another connection committed since they were read. Must run
// inside the read transaction, after its first read, so the version is that of its snapshot.
absl::Status RefreshCodeCache(ReadConnection& c) {
  absl::StatusOr<bool> row = c.data_version.Step();
  int64_t version = row.ok() && *row ? c.data_version.ColumnInt(0) : -1;
  c.data_version.Reset();
  RETURN_IF_ERROR(row.status());
  if (version != c.cached_version) {
    c.descriptions.clear();
    c.cached_version = version;
  }
  return absl::OkStatus();
}

class RecordReader {
 public:
  RecordReader(ReadConnection& c, absl::string_view language) : c_(c), language_(language) {}

  absl::Status Denominations(SqliteStatement& stmt, absl::string_view entity,
                             google::protobuf::RepeatedPtrField<v1::Denomination>* out) {
    return ForEachRow(stmt, entity, [&](SqliteStatement& row) {
      v1::Denomination* d = out->Add();
      d->set_language(DenominationLanguage(row.ColumnText(0)));
      d->set_value(row.ColumnText(2));
      return Code("TypeOfDenomination", row.ColumnText(1), d->mutable_type());
    });
  }

  absl::Status Addresses(SqliteStatement& stmt, absl::string_view entity,
                         google::protobuf::RepeatedPtrField<v1::Address>* out) {
    return ForEachRow(stmt, entity, [&](SqliteStatement& row) {
      v1::Address* a = out->Add();
      a->set_country_nl(row.ColumnText(1));
      a->set_country_fr(row.ColumnText(2));
      a->set_zipcode(row.ColumnText(3));
      a->set_municipality_nl(row.ColumnText(4));
      a->set_municipality_fr(row.ColumnText(5));
      a->set_street_nl(row.ColumnText(6));
      a->set_street_fr(row.ColumnText(7));
      a->set_house_number(row.ColumnText(8));
      a->set_box(row.ColumnText(9));
      a->set_extra_address_info(row.ColumnText(10));
      a->set_date_striking_off(row.ColumnText(11));
      return Code("TypeOfAddress", row.ColumnText(0), a->mutable_type());
    });
  }

  absl::Status Activities(SqliteStatement& stmt, absl::string_view entity,
                          google::protobuf::RepeatedPtrField<v1::Activity>* out) {
    return ForEachRow(stmt, entity, [&](SqliteStatement& run) {
      const std::string activities = run.ColumnText(0);
      return ForEachActivity(activities, [&](const KboActivity& activity) {
        v1::Activity* a = out->Add();
        a->set_nace_version(std::string(activity.nace_version));
        RETURN_IF_ERROR(Code("ActivityGroup", std::string(activity.group), a->mutable_group()));
        RETURN_IF_ERROR(Code(absl::StrCat("Nace", activity.nace_version),
                             std::string(activity.nace_code), a->mutable_nace()));
        return Code("Classification", std::string(activity.classification),
                    a->mutable_classification());
      });
    });
  }

  absl::Status Contacts(SqliteStatement& stmt, absl::string_view entity,
                        google::protobuf::RepeatedPtrField<v1::Contact>* out) {
    return ForEachRow(stmt, entity, [&](SqliteStatement& row) {
      v1::Contact* c = out->Add();
      c->set_value(row.ColumnText(2));
      RETURN_IF_ERROR(Code("EntityContact", row.ColumnText(0), c->mutable_entity_contact()));
      return Code("ContactType", row.ColumnText(1), c->mutable_type());
    });
  }

  absl::Status Code(absl::string_view category, const std::string& code, v1::CodedValue* out) {
    return Resolve(c_, category, code, language_, out);
  }

 private:
  ReadConnection& c_;
  const absl::string_view language_;
};

absl::StatusOr<std::unique_ptr<SqliteDb>> OpenReadOnly(const std::string& path) {
  return SqliteDb::Open(path, SqliteDb::Mode::kReadOnly);
}

}  // namespace

KboStore::KboStore(std::string db_path, int max_connections)
    : db_path_(std::move(db_path)), max_connections_(max_connections) {}

KboStore::~KboStore() = default;

absl::StatusOr<std::unique_ptr<KboStore>> KboStore::Open(const std::string& db_path,
                                                         int max_connections) {
  struct stat st;
  if (::stat(db_path.c_str(), &st) != 0) {
    return absl::NotFoundError(
        absl::StrCat("no KBO database at ", db_path, "; import an extract first"));
  }
  if (max_connections < 1) max_connections = 1;
  std::unique_ptr<KboStore> store(new KboStore(db_path, max_connections));
  // Open one connection now so a bad database fails here rather than on the first call.
  ASSIGN_OR_RETURN(std::unique_ptr<Connection> connection, store->Acquire());
  store->Release(std::move(connection));
  return store;
}

bool KboStore::ConnectionAvailable() const {
  return !idle_.empty() || open_connections_ < max_connections_;
}

absl::StatusOr<std::unique_ptr<KboStore::Connection>> KboStore::Acquire(absl::Time deadline) {
  {
    // A caller past its deadline must not queue behind others: it gives up instead, so a
    // busy store cannot hold fetch threads (and a draining server) indefinitely.
    if (!mu_.LockWhenWithDeadline(absl::Condition(this, &KboStore::ConnectionAvailable),
                                  deadline)) {
      mu_.Unlock();
      return absl::DeadlineExceededError("no KBO connection free before the deadline");
    }
    if (!idle_.empty()) {
      std::unique_ptr<Connection> connection = std::move(idle_.back());
      idle_.pop_back();
      mu_.Unlock();
      return connection;
    }
    ++open_connections_;
    mu_.Unlock();
  }
  auto open = [this]() -> absl::StatusOr<std::unique_ptr<Connection>> {
    ASSIGN_OR_RETURN(std::unique_ptr<SqliteDb> db, OpenReadOnly(db_path_));
    auto prepare = [&](absl::string_view sql) -> absl::StatusOr<SqliteStatement> {
      absl::StatusOr<SqliteStatement> stmt = db->Prepare(sql);
      if (!stmt.ok()) {
        if (absl::StrContains(stmt.status().message(), "no such table: activity_run")) {
          return absl::FailedPreconditionError(absl::StrCat(
              db_path_, " was imported by an earlier onceonly, with a row per activity; import "
                        "a full extract into it"));
        }
        return absl::FailedPreconditionError(absl::StrCat(
            db_path_,
            " does not hold a KBO database (import an extract first): ", stmt.status().message()));
      }
      return stmt;
    };
    ASSIGN_OR_RETURN(SqliteStatement begin, prepare("BEGIN"));
    ASSIGN_OR_RETURN(SqliteStatement end, prepare("COMMIT"));
    ASSIGN_OR_RETURN(SqliteStatement enterprise,
                     prepare("SELECT status, juridical_situation, type_of_enterprise, "
                             "juridical_form, juridical_form_cac, start_date "
                             "FROM enterprise WHERE enterprise_number = ?1"));
    ASSIGN_OR_RETURN(SqliteStatement code,
                     prepare("SELECT description FROM code WHERE category = ?1 AND code = ?2 "
                             "ORDER BY CASE language WHEN ?3 THEN 0 WHEN 'fr' THEN 1 "
                             "WHEN 'nl' THEN 2 WHEN 'de' THEN 3 WHEN 'en' THEN 4 ELSE 5 END "
                             "LIMIT 1"));
    ASSIGN_OR_RETURN(SqliteStatement denominations,
                     prepare("SELECT language, type, value FROM denomination "
                             "WHERE entity_number = ?1 ORDER BY rowid"));
    ASSIGN_OR_RETURN(SqliteStatement addresses,
                     prepare("SELECT type, country_nl, country_fr, zipcode, municipality_nl, "
                             "municipality_fr, street_nl, street_fr, house_number, box, "
                             "extra_address_info, date_striking_off FROM address "
                             "WHERE entity_number = ?1 ORDER BY rowid"));
    ASSIGN_OR_RETURN(SqliteStatement activities,
                     prepare("SELECT activities FROM activity_run WHERE entity_number = ?1 "
                             "ORDER BY rowid"));
    ASSIGN_OR_RETURN(SqliteStatement contacts,
                     prepare("SELECT entity_contact, contact_type, value FROM contact "
                             "WHERE entity_number = ?1 ORDER BY rowid"));
    ASSIGN_OR_RETURN(SqliteStatement establishments,
                     prepare("SELECT establishment_number, start_date FROM establishment "
                             "WHERE enterprise_number = ?1 ORDER BY establishment_number"));
    ASSIGN_OR_RETURN(SqliteStatement branches,
                     prepare("SELECT id, start_date FROM branch WHERE enterprise_number = ?1 "
                             "ORDER BY id"));
    ASSIGN_OR_RETURN(SqliteStatement data_version, prepare("PRAGMA data_version"));
    ASSIGN_OR_RETURN(SqliteStatement summaries,
                     prepare("SELECT enterprise_number, type_of_enterprise, juridical_form, "
                             "start_date FROM enterprise ORDER BY enterprise_number LIMIT ?1"));
    return std::unique_ptr<Connection>(new Connection{std::move(db),
                                                      std::move(begin),
                                                      std::move(end),
                                                      std::move(enterprise),
                                                      std::move(code),
                                                      std::move(denominations),
                                                      std::move(addresses),
                                                      std::move(activities),
                                                      std::move(contacts),
                                                      std::move(establishments),
                                                      std::move(branches),
                                                      std::move(summaries),
                                                      std::move(data_version),
                                                      -1,
                                                      {},
                                                      nullptr});
  };
  absl::StatusOr<std::unique_ptr<Connection>> connection = open();
  if (!connection.ok()) {
    absl::MutexLock lock(&mu_);
    --open_connections_;
  }
  return connection;
}

void KboStore::Release(std::unique_ptr<Connection> connection) {
  absl::MutexLock lock(&mu_);
  idle_.push_back(std::move(connection));
}

// The top-level Enterprise fields a read fills, by field number; all of them for no names.
static absl::StatusOr<std::vector<bool>> WantedFields(const std::vector<std::string>& fields) {
  const google::protobuf::Descriptor* enterprise = v1::Enterprise::descriptor();
  static const int largest = [enterprise] {  // once: this runs on every read
    int n = 0;
    for (int i = 0; i < enterprise->field_count(); ++i) {
      n = std::max(n, enterprise->field(i)->number());
    }
    return n;
  }();
  std::vector<bool> wanted(largest + 1, fields.empty());  // by field number
  if (fields.empty()) return wanted;
  for (const std::string& name : fields) {
    const google::protobuf::FieldDescriptor* field = enterprise->FindFieldByName(name);
    if (field == nullptr) {
      std::vector<std::string> known;
      for (int i = 0; i < enterprise->field_count(); ++i) known.push_back(enterprise->field(i)->name());
      return InvalidField("read_mask", "UNKNOWN_FIELD",
                          absl::StrCat("\"", absl::CHexEscape(name), "\" is not a field of Enterprise; use ",
                                       absl::StrJoin(known, ", ")));
    }
    wanted[field->number()] = true;
  }
  wanted[v1::Enterprise::kEnterpriseNumberFieldNumber] = true;
  return wanted;
}

absl::StatusOr<v1::Enterprise> KboStore::GetEnterprise(absl::string_view canonical_number,
                                                       absl::string_view language,
                                                       absl::Time deadline,
                                                       const std::vector<std::string>& fields) {
  std::string lang = absl::AsciiStrToLower(language);
  if (lang.empty()) lang = "fr";
  if (lang != "fr" && lang != "nl" && lang != "de" && lang != "en") {
    return absl::InvalidArgumentError(
        absl::StrCat("language \"", language, "\" is not one of fr, nl, de, en"));
  }
  ASSIGN_OR_RETURN(const std::vector<bool> wanted, WantedFields(fields));
  ASSIGN_OR_RETURN(std::unique_ptr<Connection> acquired, Acquire(deadline));
  Lease lease(this, std::move(acquired));
  Connection& c = *lease;
  RETURN_IF_ERROR(c.begin.Run());
  ReadTransaction transaction(c.end);
  RecordReader records(c, lang);

  std::vector<std::string> columns;
  RETURN_IF_ERROR(ForEachRow(c.enterprise, canonical_number, [&](SqliteStatement& row) {
    for (int i = 0; i < 6; ++i) columns.push_back(row.ColumnText(i));
    return absl::OkStatus();
  }));
  if (columns.empty()) {
    return absl::NotFoundError(
        absl::StrCat("enterprise ", canonical_number, " is not in the KBO register"));
  }
  RETURN_IF_ERROR(RefreshCodeCache(c));
  v1::Enterprise enterprise;
  enterprise.set_enterprise_number(std::string(canonical_number));
  using E = v1::Enterprise;
  if (wanted[E::kStartDateFieldNumber]) enterprise.set_start_date(columns[5]);
  if (wanted[E::kStatusFieldNumber]) {
    RETURN_IF_ERROR(records.Code("Status", columns[0], enterprise.mutable_status()));
  }
  if (wanted[E::kJuridicalSituationFieldNumber]) {
    RETURN_IF_ERROR(
        records.Code("JuridicalSituation", columns[1], enterprise.mutable_juridical_situation()));
  }
  if (wanted[E::kTypeOfEnterpriseFieldNumber]) {
    RETURN_IF_ERROR(
        records.Code("TypeOfEnterprise", columns[2], enterprise.mutable_type_of_enterprise()));
  }
  if (wanted[E::kJuridicalFormFieldNumber]) {
    RETURN_IF_ERROR(records.Code("JuridicalForm", columns[3], enterprise.mutable_juridical_form()));
  }
  if (wanted[E::kJuridicalFormCacFieldNumber]) {
    RETURN_IF_ERROR(
        records.Code("JuridicalForm", columns[4], enterprise.mutable_juridical_form_cac()));
  }
  if (wanted[E::kDenominationsFieldNumber]) {
    RETURN_IF_ERROR(records.Denominations(c.denominations, canonical_number,
                                          enterprise.mutable_denominations()));
  }
  if (wanted[E::kAddressesFieldNumber]) {
    RETURN_IF_ERROR(
        records.Addresses(c.addresses, canonical_number, enterprise.mutable_addresses()));
  }
  if (wanted[E::kActivitiesFieldNumber]) {
    RETURN_IF_ERROR(
        records.Activities(c.activities, canonical_number, enterprise.mutable_activities()));
  }
  if (wanted[E::kContactsFieldNumber]) {
    RETURN_IF_ERROR(records.Contacts(c.contacts, canonical_number, enterprise.mutable_contacts()));
  }
  if (wanted[E::kEstablishmentsFieldNumber]) {
    RETURN_IF_ERROR(ForEachRow(c.establishments, canonical_number, [&](SqliteStatement& row) {
      v1::Establishment* e = enterprise.add_establishments();
      e->set_establishment_number(row.ColumnText(0));
      e->set_start_date(row.ColumnText(1));
      return absl::OkStatus();
    }));
    for (v1::Establishment& e : *enterprise.mutable_establishments()) {
      const std::string& number = e.establishment_number();
      RETURN_IF_ERROR(records.Denominations(c.denominations, number, e.mutable_denominations()));
      RETURN_IF_ERROR(records.Addresses(c.addresses, number, e.mutable_addresses()));
      RETURN_IF_ERROR(records.Activities(c.activities, number, e.mutable_activities()));
      RETURN_IF_ERROR(records.Contacts(c.contacts, number, e.mutable_contacts()));
    }
  }
  if (wanted[E::kBranchesFieldNumber]) {
    RETURN_IF_ERROR(ForEachRow(c.branches, canonical_number, [&](SqliteStatement& row) {
      v1::Branch* b = enterprise.add_branches();
      b->set_id(row.ColumnText(0));
      b->set_start_date(row.ColumnText(1));
      return absl::OkStatus();
    }));
    for (v1::Branch& b : *enterprise.mutable_branches()) {
      RETURN_IF_ERROR(records.Denominations(c.denominations, b.id(), b.mutable_denominations()));
      RETURN_IF_ERROR(records.Addresses(c.addresses, b.id(), b.mutable_addresses()));
    }
  }
  return enterprise;
}

absl::StatusOr<std::vector<v1::Enterprise>> KboStore::ListEnterpriseSummaries(int limit) {
  if (limit < 0) return absl::InvalidArgumentError("limit must not be negative");
  std::vector<v1::Enterprise> out;
  RETURN_IF_ERROR(ForEachSummary(limit, [&](const v1::Enterprise& e) {
    out.push_back(e);
    return absl::OkStatus();
  }));
  return out;
}

absl::Status KboStore::ForEachEnterpriseSummary(
    const std::function<absl::Status(const v1::Enterprise&)>& fn) {
  return ForEachSummary(-1, fn);
}

absl::Status KboStore::ForEachSummary(
    int64_t limit, const std::function<absl::Status(const v1::Enterprise&)>& fn) {
  ASSIGN_OR_RETURN(std::unique_ptr<Connection> acquired, Acquire());
  Lease lease(this, std::move(acquired));
  Connection& c = *lease;
  RETURN_IF_ERROR(c.begin.Run());
  ReadTransaction transaction(c.end);
  RecordReader records(c, "fr");

  c.summaries.Bind(1, limit);  // negative: no limit
  absl::Status status;
  bool first = true;
  v1::Enterprise e;
  while (status.ok()) {
    absl::StatusOr<bool> row = c.summaries.Step();
    if (!row.ok()) {
      status = row.status();
      break;
    }
    if (!*row) break;
    if (first) status = RefreshCodeCache(c);
    first = false;
    if (!status.ok()) break;
    e.Clear();
    e.set_enterprise_number(c.summaries.ColumnText(0));
    e.set_start_date(c.summaries.ColumnText(3));
    status =
        records.Code("TypeOfEnterprise", c.summaries.ColumnText(1), e.mutable_type_of_enterprise());
    if (status.ok()) {
      status = records.Code("JuridicalForm", c.summaries.ColumnText(2), e.mutable_juridical_form());
    }
    if (status.ok()) {
      status =
          records.Denominations(c.denominations, e.enterprise_number(), e.mutable_denominations());
    }
    if (status.ok()) {
      status = records.Addresses(c.addresses, e.enterprise_number(), e.mutable_addresses());
    }
    if (status.ok()) status = fn(e);
  }
  c.summaries.Reset();
  return status;
}

namespace {

using kbo_internal::SearchStatements;
using kbo_search_internal::EnterpriseKey;
using kbo_search_internal::EnterpriseNumberOfKey;

constexpr int kDefaultPageSize = 20;
constexpr int kMaxPageSize = 100;
constexpr int kMaxNameWords = 10;
constexpr size_t kMaxNameBytes = 200;
// A NACE code is checked enterprise by enterprise (and unit by unit): these bound the work of
// one call when matches are rare; the caller goes on with the token. On the full dump an
// enterprise costs ~3 µs in number order, more when it has many units.
constexpr int kMaxExaminedPerCall = 10000;
constexpr absl::Duration kMaxWorkPerCall = absl::Milliseconds(50);

// The criteria of a search once checked, in the form the queries take.
struct SearchCriteria {
  std::vector<std::string> name_tokens;  // as the index holds them; the last is a prefix
  std::string postcode;
  std::string nace_code;  // digits only
  std::string juridical_form;
  std::string language;
  std::string kbo_language;  // "1".."4", for the main name
  int page_size = kDefaultPageSize;
  int64_t after_key = -1;  // from the page token; -1 for the first page

  // FTS5 query over the index; empty when only a NACE code is asked.
  std::string MatchExpression() const {
    std::vector<std::string> parts;
    auto quoted = [](absl::string_view text) {
      return absl::StrCat("\"", absl::StrReplaceAll(text, {{"\"", "\"\""}}), "\"");
    };
    for (size_t i = 0; i < name_tokens.size(); ++i) {
      parts.push_back(
          absl::StrCat("name : ", quoted(name_tokens[i]), i + 1 == name_tokens.size() ? "*" : ""));
    }
    if (!postcode.empty()) parts.push_back(absl::StrCat("postcode : ", quoted(postcode)));
    if (!juridical_form.empty()) parts.push_back(absl::StrCat("form : ", quoted(juridical_form)));
    return absl::StrJoin(parts, " AND ");
  }

  // Ties a page token to the criteria it was issued for (not to page size or language, which
  // may change from page to page). FNV-1a: stable across processes and releases.
  std::string Fingerprint() const {
    std::string text = absl::StrCat(absl::StrJoin(name_tokens, " "), "\x1f", postcode, "\x1f",
                                    nace_code, "\x1f", juridical_form);
    uint64_t hash = 14695981039346656037ull;
    for (unsigned char c : text) {
      hash ^= c;
      hash *= 1099511628211ull;
    }
    return absl::StrFormat("%016x", hash);
  }
};

// A caller's value inside an error message, which must stay valid UTF-8 (messages travel in
// protobuf strings): bytes outside printable ASCII are escaped.
std::string Quoted(absl::string_view value) { return absl::CHexEscape(value); }

bool AllDigits(absl::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) {
    return absl::ascii_isdigit(static_cast<unsigned char>(c));
  });
}

std::string PageToken(const SearchCriteria& criteria, int64_t after_key) {
  return absl::WebSafeBase64Escape(absl::StrCat("s1:", after_key, ":", criteria.Fingerprint()));
}

absl::Status ApplyPageToken(const std::string& token, SearchCriteria& criteria) {
  if (token.empty()) return absl::OkStatus();
  std::string raw;
  std::vector<absl::string_view> parts;
  if (absl::WebSafeBase64Unescape(token, &raw)) parts = absl::StrSplit(raw, ':');
  int64_t after = -1;
  if (parts.size() != 3 || parts[0] != "s1" || !absl::SimpleAtoi(parts[1], &after) || after < 0) {
    return InvalidField("page_token", "INVALID_PAGE_TOKEN",
                        "not a token SearchEnterprises returned; start again without one");
  }
  if (parts[2] != criteria.Fingerprint()) {
    return InvalidField("page_token", "INVALID_PAGE_TOKEN",
                        "this token belongs to a search with other criteria; repeat the same "
                        "name, postcode, nace_code and juridical_form, or start without a token");
  }
  criteria.after_key = after;
  return absl::OkStatus();
}

// The checks that need no database. Name words are checked once tokenized.
absl::StatusOr<SearchCriteria> CheckCriteria(const v1::SearchEnterprisesRequest& request) {
  SearchCriteria criteria;
  criteria.language = absl::AsciiStrToLower(request.language());
  if (criteria.language.empty()) criteria.language = "fr";
  static const std::pair<const char*, const char*> kLanguages[] = {
      {"fr", "1"}, {"nl", "2"}, {"de", "3"}, {"en", "4"}};
  for (const auto& [language, code] : kLanguages) {
    if (criteria.language == language) criteria.kbo_language = code;
  }
  if (criteria.kbo_language.empty()) {
    return InvalidField(
        "language", "INVALID_LANGUAGE",
        absl::StrCat("\"", Quoted(request.language()), "\" is not one of fr, nl, de, en"));
  }
  if (request.page_size() < 0 || request.page_size() > kMaxPageSize) {
    return InvalidField("page_size", "INVALID_PAGE_SIZE",
                        absl::StrCat(request.page_size(), " is not between 1 and ", kMaxPageSize,
                                     " (0 means ", kDefaultPageSize, ")"));
  }
  if (request.page_size() > 0) criteria.page_size = request.page_size();
  if (request.name().size() > kMaxNameBytes) {
    return InvalidField("name", "NAME_TOO_LONG",
                        absl::StrCat("the name has ", request.name().size(),
                                     " bytes; search with at most ", kMaxNameBytes));
  }
  absl::string_view postcode = absl::StripAsciiWhitespace(request.postcode());
  if (!postcode.empty() && (postcode.size() != 4 || !AllDigits(postcode) || postcode[0] == '0')) {
    return InvalidField("postcode", "INVALID_POSTCODE",
                        absl::StrCat("\"", Quoted(request.postcode()),
                                     "\" is not a Belgian postcode (four digits, 1000 to 9999)"));
  }
  criteria.postcode = std::string(postcode);
  std::string nace =
      absl::StrReplaceAll(absl::StripAsciiWhitespace(request.nace_code()), {{".", ""}});
  if (!request.nace_code().empty() &&
      (!AllDigits(nace) || (nace.size() != 5 && nace.size() != 7))) {
    return InvalidField(
        "nace_code", "INVALID_NACE_CODE",
        absl::StrCat("\"", Quoted(request.nace_code()),
                     "\" is not a NACE code (5 or 7 digits, e.g. 56101 or 56.101)"));
  }
  criteria.nace_code = nace;
  absl::string_view form = absl::StripAsciiWhitespace(request.juridical_form());
  if (!form.empty() && (form.size() != 3 || !AllDigits(form))) {
    return InvalidField("juridical_form", "INVALID_JURIDICAL_FORM",
                        absl::StrCat("\"", Quoted(request.juridical_form()),
                                     "\" is not a juridical form code (three digits, e.g. 017)"));
  }
  criteria.juridical_form = std::string(form);
  if (absl::StripAsciiWhitespace(request.name()).empty() && criteria.postcode.empty() &&
      criteria.nace_code.empty() && criteria.juridical_form.empty()) {
    return InvalidField("name", "SEARCH_CRITERIA_REQUIRED",
                        "give at least one of name, postcode, nace_code and juridical_form");
  }
  return criteria;
}

absl::StatusOr<std::unique_ptr<SearchStatements>> PrepareSearch(SqliteDb& db) {
  auto prepare = [&](absl::string_view sql) -> absl::StatusOr<SqliteStatement> {
    absl::StatusOr<SqliteStatement> stmt = db.Prepare(sql);
    if (!stmt.ok()) {
      return absl::FailedPreconditionError(
          absl::StrCat(db.path(),
                       " has no enterprise search index (it was imported before search existed); "
                       "import a full extract again: ",
                       stmt.status().message()));
    }
    return stmt;
  };
  ASSIGN_OR_RETURN(auto tokenizer, kbo_search_internal::SearchTokenizer::Create(db));
  // FTS5 walks its doclists in rowid order from the bound: a page reads about page_size
  // entries, however many enterprises match.
  ASSIGN_OR_RETURN(SqliteStatement matching,
                   prepare("SELECT rowid FROM kbo_search WHERE kbo_search MATCH ?1 "
                           "AND rowid > ?2 ORDER BY rowid LIMIT ?3"));
  ASSIGN_OR_RETURN(SqliteStatement enterprises,
                   prepare("SELECT enterprise_number FROM enterprise WHERE enterprise_number > ?1 "
                           "ORDER BY enterprise_number LIMIT ?2"));
  // ?2 is ActivityRunNeedle(code): the packed runs of the enterprise and of its units are
  // read through activity_run_by_entity and searched as bytes.
  ASSIGN_OR_RETURN(SqliteStatement nace,
                   prepare("SELECT EXISTS (SELECT 1 FROM activity_run WHERE entity_number = ?1 "
                           "AND instr(activities, ?2) > 0) OR EXISTS (SELECT 1 FROM "
                           "establishment u JOIN activity_run a ON a.entity_number = "
                           "u.establishment_number AND instr(a.activities, ?2) > 0 "
                           "WHERE u.enterprise_number = ?1)"));
  ASSIGN_OR_RETURN(SqliteStatement nace_known,
                   prepare("SELECT 1 FROM code WHERE category >= 'Nace' AND category < 'Nacf' "
                           "AND code = ?1 LIMIT 1"));
  ASSIGN_OR_RETURN(SqliteStatement form_known,
                   prepare("SELECT 1 FROM code WHERE category = 'JuridicalForm' AND code = ?1 "
                           "LIMIT 1"));
  ASSIGN_OR_RETURN(SqliteStatement summary,
                   prepare("SELECT type_of_enterprise, juridical_form FROM enterprise "
                           "WHERE enterprise_number = ?1"));
  ASSIGN_OR_RETURN(SqliteStatement main_name,
                   prepare("SELECT value FROM denomination WHERE entity_number = ?1 "
                           "ORDER BY type <> '001', language <> ?2, rowid LIMIT 1"));
  ASSIGN_OR_RETURN(SqliteStatement seat,
                   prepare("SELECT zipcode, municipality_nl, municipality_fr FROM address "
                           "WHERE entity_number = ?1 AND type = 'REGO' ORDER BY rowid LIMIT 1"));
  return std::unique_ptr<SearchStatements>(
      new SearchStatements{std::move(tokenizer), std::move(matching), std::move(enterprises),
                           std::move(nace), std::move(nace_known), std::move(form_known),
                           std::move(summary), std::move(main_name), std::move(seat)});
}

// Whether `stmt`, with its parameters bound, returns a row whose first column is true.
absl::StatusOr<bool> Holds(SqliteStatement& stmt) {
  absl::StatusOr<bool> row = stmt.Step();
  bool holds = row.ok() && *row && stmt.ColumnInt(0) != 0;
  stmt.Reset();
  RETURN_IF_ERROR(row.status());
  return holds;
}

// What one call examined: the matches found (one more than a page when there is another),
// the last key examined, and whether nothing is left after it.
struct Examined {
  std::vector<int64_t> found;
  int64_t last_key = -1;
  bool exhausted = false;
};

// Walks the candidates after `criteria.after_key` in order (index matches, or every
// enterprise when only a NACE code is asked), keeping those with the NACE code if one is
// asked, until `wanted` are found, `most` were examined or kMaxWorkPerCall has passed. One
// statement for the whole walk: each FTS5 query start merges the doclists of a prefix again.
absl::StatusOr<Examined> Examine(SearchStatements& s, const SearchCriteria& criteria,
                                 const std::string& match, size_t wanted, int most,
                                 absl::Time deadline) {
  SqliteStatement& source = match.empty() ? s.enterprises : s.matching;
  const int64_t after = criteria.after_key;
  if (match.empty()) {
    source.Bind(1, after < 0 ? std::string() : EnterpriseNumberOfKey(after))
        .Bind(2, static_cast<int64_t>(most));
  } else {
    source.Bind(1, match).Bind(2, after).Bind(3, static_cast<int64_t>(most));
  }
  Examined out;
  out.last_key = after;
  int examined = 0;
  absl::Status status;
  const absl::Time stop_by = absl::Now() + kMaxWorkPerCall;
  while (out.found.size() < wanted) {
    if (examined % 64 == 63) {
      absl::Time now = absl::Now();
      if (now > deadline) {
        status = absl::DeadlineExceededError("enterprise search: the deadline passed");
        break;
      }
      // Not exhausted: the token resumes after out.last_key.
      if (!criteria.nace_code.empty() && now > stop_by) break;
    }
    absl::StatusOr<bool> row = source.Step();
    if (!row.ok()) {
      status = row.status();
      break;
    }
    if (!*row) {
      out.exhausted = examined < most;
      break;
    }
    ++examined;
    std::optional<int64_t> key =
        match.empty() ? EnterpriseKey(source.ColumnText(0)) : source.ColumnInt(0);
    if (!key) continue;  // the importer checked every number
    out.last_key = *key;
    if (!criteria.nace_code.empty()) {
      s.nace.Bind(1, EnterpriseNumberOfKey(*key)).Bind(2, ActivityRunNeedle(criteria.nace_code));
      absl::StatusOr<bool> has = Holds(s.nace);
      if (!has.ok()) {
        status = has.status();
        break;
      }
      if (!*has) continue;
    }
    out.found.push_back(*key);
  }
  source.Reset();
  RETURN_IF_ERROR(status);
  return out;
}

}  // namespace

absl::StatusOr<v1::SearchEnterprisesResponse> KboStore::SearchEnterprises(
    const v1::SearchEnterprisesRequest& request, absl::Time deadline) {
  ASSIGN_OR_RETURN(SearchCriteria criteria, CheckCriteria(request));
  ASSIGN_OR_RETURN(std::unique_ptr<Connection> acquired, Acquire(deadline));
  Lease lease(this, std::move(acquired));
  Connection& c = *lease;
  if (c.search == nullptr) {
    ASSIGN_OR_RETURN(c.search, PrepareSearch(*c.db));
  }
  SearchStatements& s = *c.search;

  if (!request.name().empty()) {
    criteria.name_tokens = s.tokenizer->Tokens(request.name());
    if (criteria.name_tokens.empty() && !absl::StripAsciiWhitespace(request.name()).empty()) {
      return InvalidField("name", "INVALID_NAME",
                          "the name has no letters or digits to search for");
    }
    if (criteria.name_tokens.size() > kMaxNameWords) {
      return InvalidField("name", "NAME_TOO_LONG",
                          absl::StrCat("the name has ", criteria.name_tokens.size(),
                                       " words; search with at most ", kMaxNameWords));
    }
  }

  // The token's fingerprint covers the name as tokenized.
  RETURN_IF_ERROR(ApplyPageToken(request.page_token(), criteria));

  RETURN_IF_ERROR(c.begin.Run());
  ReadTransaction transaction(c.end);
  if (!criteria.nace_code.empty()) {
    s.nace_known.Bind(1, criteria.nace_code);
    ASSIGN_OR_RETURN(bool known, Holds(s.nace_known));
    if (!known) {
      return InvalidField("nace_code", "UNKNOWN_NACE_CODE",
                          absl::StrCat(criteria.nace_code,
                                       " is not a NACE code of any version in the KBO code table"));
    }
  }
  if (!criteria.juridical_form.empty()) {
    s.form_known.Bind(1, criteria.juridical_form);
    ASSIGN_OR_RETURN(bool known, Holds(s.form_known));
    if (!known) {
      return InvalidField(
          "juridical_form", "UNKNOWN_JURIDICAL_FORM",
          absl::StrCat(criteria.juridical_form, " is not a juridical form in the KBO code table"));
    }
  }
  RETURN_IF_ERROR(RefreshCodeCache(c));

  if (absl::Now() > deadline) {
    return absl::DeadlineExceededError("enterprise search: the deadline passed");
  }
  // One more match than the page shows tells whether another page exists.
  const size_t wanted = static_cast<size_t>(criteria.page_size) + 1;
  const bool check_nace = !criteria.nace_code.empty();
  ASSIGN_OR_RETURN(Examined examined,
                   Examine(s, criteria, criteria.MatchExpression(), wanted,
                           check_nace ? kMaxExaminedPerCall : static_cast<int>(wanted), deadline));
  std::vector<int64_t>& found = examined.found;
  v1::SearchEnterprisesResponse response;
  if (found.size() == wanted) {
    found.pop_back();
    response.set_next_page_token(PageToken(criteria, found.back()));
  } else if (!examined.exhausted) {
    response.set_next_page_token(PageToken(criteria, examined.last_key));
  }

  RecordReader records(c, criteria.language);
  for (int64_t key : found) {
    v1::EnterpriseSummary* match_out = response.add_matches();
    std::string number = EnterpriseNumberOfKey(key);
    std::string type, form;
    RETURN_IF_ERROR(ForEachRow(s.summary, number, [&](SqliteStatement& row) {
      type = row.ColumnText(0);
      form = row.ColumnText(1);
      return absl::OkStatus();
    }));
    s.main_name.Bind(2, criteria.kbo_language);
    RETURN_IF_ERROR(ForEachRow(s.main_name, number, [&](SqliteStatement& row) {
      match_out->set_name(row.ColumnText(0));
      return absl::OkStatus();
    }));
    RETURN_IF_ERROR(ForEachRow(s.seat, number, [&](SqliteStatement& row) {
      match_out->set_postcode(row.ColumnText(0));
      std::string nl = row.ColumnText(1), fr = row.ColumnText(2);
      bool dutch = criteria.language == "nl";
      match_out->set_municipality(dutch ? (nl.empty() ? fr : nl) : (fr.empty() ? nl : fr));
      return absl::OkStatus();
    }));
    match_out->set_enterprise_number(std::move(number));
    RETURN_IF_ERROR(records.Code("JuridicalForm", form, match_out->mutable_juridical_form()));
    RETURN_IF_ERROR(
        records.Code("TypeOfEnterprise", type, match_out->mutable_type_of_enterprise()));
  }
  return response;
}

}  // namespace onceonly
