#include "connectors/kbo/kbo_digest.h"

#include <openssl/sha.h>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "common/status_macros.h"
#include "connectors/kbo/kbo_schema.h"

namespace onceonly {

const std::array<KboTableInfo, kKboTableCount>& KboTables() {
  static const auto* const kTables = new std::array<KboTableInfo, kKboTableCount>{{
      {"enterprise",
       {"enterprise_number", "status", "juridical_situation", "type_of_enterprise",
        "juridical_form", "juridical_form_cac", "start_date"}},
      {"establishment", {"establishment_number", "start_date", "enterprise_number"}},
      {"denomination", {"entity_number", "language", "type", "value"}},
      {"address",
       {"entity_number", "type", "country_nl", "country_fr", "zipcode", "municipality_nl",
        "municipality_fr", "street_nl", "street_fr", "house_number", "box", "extra_address_info",
        "date_striking_off"}},
      {"contact", {"entity_number", "entity_contact", "contact_type", "value"}},
      {"activity",
       {"entity_number", "activity_group", "nace_version", "nace_code", "classification"}},
      {"branch", {"id", "start_date", "enterprise_number"}},
  }};
  return *kTables;
}

uint64_t KboDigest::RowHash(const std::vector<absl::string_view>& values) {
  scratch_.clear();
  for (size_t i = 0; i < values.size(); ++i) {
    if (i > 0) scratch_.push_back('\x1f');
    scratch_.append(values[i].data(), values[i].size());
  }
  unsigned char hash[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(scratch_.data()), scratch_.size(), hash);
  uint64_t h = 0;
  for (int i = 0; i < 8; ++i) h = (h << 8) | hash[i];
  return h;
}

void KboDigest::AddRow(KboTable table, const std::vector<absl::string_view>& values) {
  KboTableDigest& t = tables_[Index(table)];
  t.rows += 1;
  t.sum += RowHash(values);
}

void KboDigest::RemoveRow(KboTable table, const std::vector<absl::string_view>& values) {
  KboTableDigest& t = tables_[Index(table)];
  t.rows -= 1;
  t.sum -= RowHash(values);
}

std::string KboDigest::Hex() const {
  std::string text;
  for (int i = 0; i < kKboTableCount; ++i) {
    absl::StrAppendFormat(&text, "%s %d %016x\n", KboTables()[i].name, tables_[i].rows,
                          tables_[i].sum);
  }
  unsigned char hash[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(text.data()), text.size(), hash);
  return absl::BytesToHexString(
      absl::string_view(reinterpret_cast<const char*>(hash), sizeof(hash)));
}

absl::StatusOr<KboDigest> KboContentDigest(SqliteDb& db) {
  KboDigest digest;
  std::vector<std::string> row;
  std::vector<absl::string_view> views;
  for (int i = 0; i < kKboTableCount; ++i) {
    const KboTableInfo& info = KboTables()[i];
    // Activities are stored packed, a run of one entity's rows per SQL row (kbo_schema.h).
    const bool packed = static_cast<KboTable>(i) == KboTable::kActivity;
    const char* sql_table = packed ? "activity_run" : info.name;
    ASSIGN_OR_RETURN(SqliteStatement exists,
                     db.Prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?1"));
    ASSIGN_OR_RETURN(bool found, exists.Bind(1, sql_table).Step());
    if (!found) {
      return absl::FailedPreconditionError(
          absl::StrCat(db.path(), " holds no KBO data (no table \"", sql_table,
                       "\"); import a full extract first with `onceonly kbo import DIR --db FILE`"));
    }
    if (packed) {
      ASSIGN_OR_RETURN(SqliteStatement runs,
                       db.Prepare("SELECT entity_number, activities FROM activity_run"));
      RETURN_IF_ERROR(ForEachRow(runs, [&](SqliteStatement& run) {
        const std::string entity = run.ColumnText(0);
        const std::string activities = run.ColumnText(1);
        return ForEachActivity(activities, [&](const KboActivity& a) {
          digest.AddRow(KboTable::kActivity,
                        {entity, a.group, a.nace_version, a.nace_code, a.classification});
          return absl::OkStatus();
        });
      }));
      continue;
    }
    ASSIGN_OR_RETURN(SqliteStatement select,
                     db.Prepare(absl::StrCat("SELECT ", absl::StrJoin(info.sql_columns, ", "),
                                             " FROM ", info.name)));
    const int columns = static_cast<int>(info.sql_columns.size());
    row.resize(columns);
    views.resize(columns);
    while (true) {
      ASSIGN_OR_RETURN(bool more, select.Step());
      if (!more) break;
      for (int c = 0; c < columns; ++c) {
        row[c] = select.ColumnText(c);
        views[c] = row[c];
      }
      digest.AddRow(static_cast<KboTable>(i), views);
    }
  }
  return digest;
}

}  // namespace onceonly
