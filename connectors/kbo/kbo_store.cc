#include "connectors/kbo/kbo_store.h"

#include <sys/stat.h>

#include <unordered_map>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "common/sqlite.h"
#include "common/status_macros.h"

namespace onceonly {

namespace v1 = registry::v1;

namespace kbo_internal {

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
  absl::Status status;
  while (true) {
    absl::StatusOr<bool> has_row = stmt.Step();
    if (!has_row.ok()) {
      status = has_row.status();
      break;
    }
    if (!*has_row) break;
    status = row(stmt);
    if (!status.ok()) break;
  }
  stmt.Reset();
  return status;
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
    return ForEachRow(stmt, entity, [&](SqliteStatement& row) {
      v1::Activity* a = out->Add();
      std::string version = row.ColumnText(1);
      a->set_nace_version(version);
      RETURN_IF_ERROR(Code("ActivityGroup", row.ColumnText(0), a->mutable_group()));
      RETURN_IF_ERROR(Code(absl::StrCat("Nace", version), row.ColumnText(2), a->mutable_nace()));
      return Code("Classification", row.ColumnText(3), a->mutable_classification());
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
                     prepare("SELECT activity_group, nace_version, nace_code, classification "
                             "FROM activity WHERE entity_number = ?1 ORDER BY rowid"));
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
                                                      {}});
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

absl::StatusOr<v1::Enterprise> KboStore::GetEnterprise(absl::string_view canonical_number,
                                                       absl::string_view language,
                                                       absl::Time deadline) {
  std::string lang = absl::AsciiStrToLower(language);
  if (lang.empty()) lang = "fr";
  if (lang != "fr" && lang != "nl" && lang != "de" && lang != "en") {
    return absl::InvalidArgumentError(
        absl::StrCat("language \"", language, "\" is not one of fr, nl, de, en"));
  }
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
  enterprise.set_start_date(columns[5]);
  RETURN_IF_ERROR(records.Code("Status", columns[0], enterprise.mutable_status()));
  RETURN_IF_ERROR(
      records.Code("JuridicalSituation", columns[1], enterprise.mutable_juridical_situation()));
  RETURN_IF_ERROR(
      records.Code("TypeOfEnterprise", columns[2], enterprise.mutable_type_of_enterprise()));
  RETURN_IF_ERROR(records.Code("JuridicalForm", columns[3], enterprise.mutable_juridical_form()));
  RETURN_IF_ERROR(
      records.Code("JuridicalForm", columns[4], enterprise.mutable_juridical_form_cac()));
  RETURN_IF_ERROR(
      records.Denominations(c.denominations, canonical_number, enterprise.mutable_denominations()));
  RETURN_IF_ERROR(records.Addresses(c.addresses, canonical_number, enterprise.mutable_addresses()));
  RETURN_IF_ERROR(
      records.Activities(c.activities, canonical_number, enterprise.mutable_activities()));
  RETURN_IF_ERROR(records.Contacts(c.contacts, canonical_number, enterprise.mutable_contacts()));

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
  return enterprise;
}

absl::StatusOr<std::vector<v1::Enterprise>> KboStore::ListEnterpriseSummaries(int limit) {
  if (limit < 0) return absl::InvalidArgumentError("limit must not be negative");
  ASSIGN_OR_RETURN(std::unique_ptr<Connection> acquired, Acquire());
  Lease lease(this, std::move(acquired));
  Connection& c = *lease;
  RETURN_IF_ERROR(c.begin.Run());
  ReadTransaction transaction(c.end);
  RecordReader records(c, "fr");

  std::vector<v1::Enterprise> out;
  c.summaries.Bind(1, static_cast<int64_t>(limit));
  absl::Status status;
  while (true) {
    absl::StatusOr<bool> row = c.summaries.Step();
    if (!row.ok()) {
      status = row.status();
      break;
    }
    if (!*row) break;
    if (out.empty()) status = RefreshCodeCache(c);
    if (!status.ok()) break;
    v1::Enterprise& e = out.emplace_back();
    e.set_enterprise_number(c.summaries.ColumnText(0));
    e.set_start_date(c.summaries.ColumnText(3));
    status =
        records.Code("TypeOfEnterprise", c.summaries.ColumnText(1), e.mutable_type_of_enterprise());
    if (status.ok()) {
      status = records.Code("JuridicalForm", c.summaries.ColumnText(2), e.mutable_juridical_form());
    }
    if (!status.ok()) break;
  }
  c.summaries.Reset();
  RETURN_IF_ERROR(status);
  for (v1::Enterprise& e : out) {
    RETURN_IF_ERROR(
        records.Denominations(c.denominations, e.enterprise_number(), e.mutable_denominations()));
    RETURN_IF_ERROR(records.Addresses(c.addresses, e.enterprise_number(), e.mutable_addresses()));
  }
  return out;
}

}  // namespace onceonly
