#include "connectors/kbo/kbo_search.h"

#include <sqlite3.h>

#include <algorithm>
#include <limits>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "common/status_macros.h"

namespace onceonly {
namespace {

// columnsize=0: results are ordered by number, never ranked, so per-document token counts
// would be dead weight. detail stays full: a query word the tokenizer cuts in two ("l'ange")
// is a phrase.
constexpr char kCreateSearchTable[] = R"sql(
CREATE VIRTUAL TABLE IF NOT EXISTS kbo_search USING fts5(
  name, postcode, form,
  tokenize = 'unicode61 remove_diacritics 2', prefix = '1 2 3', columnsize = 0);
)sql";

constexpr char kInsertDocument[] =
    "INSERT INTO kbo_search(rowid, name, postcode, form) VALUES (?1, ?2, ?3, ?4)";

// What one enterprise's document says, each value once.
class SearchDocument {
 public:
  void AddName(absl::string_view name) { AddTo(names_, name); }
  void AddPostcode(absl::string_view postcode) { AddTo(postcodes_, postcode); }
  void AddForm(absl::string_view form) { AddTo(forms_, form); }
  bool empty() const { return names_.empty() && postcodes_.empty() && forms_.empty(); }
  void Clear() {
    names_.clear();
    postcodes_.clear();
    forms_.clear();
  }

  absl::Status Insert(SqliteStatement& insert, int64_t key) const {
    return insert.Bind(1, key)
        .Bind(2, absl::StrJoin(names_, "\n"))
        .Bind(3, absl::StrJoin(postcodes_, " "))
        .Bind(4, absl::StrJoin(forms_, " "))
        .Run();
  }

 private:
  static void AddTo(std::vector<std::string>& values, absl::string_view value) {
    value = absl::StripAsciiWhitespace(value);
    if (value.empty() || std::find(values.begin(), values.end(), value) != values.end()) return;
    values.emplace_back(value);
  }
  std::vector<std::string> names_;
  std::vector<std::string> postcodes_;
  std::vector<std::string> forms_;
};

// "2.379.318.641" -> 2379318641: establishment unit numbers, digits and dots only.
std::optional<int64_t> DigitsKey(absl::string_view number) {
  int64_t key = 0;
  int digits = 0;
  for (char c : number) {
    if (c == '.') continue;
    if (!absl::ascii_isdigit(static_cast<unsigned char>(c)) || ++digits > 18) return std::nullopt;
    key = key * 10 + (c - '0');
  }
  if (digits == 0) return std::nullopt;
  return key;
}

// Which enterprise each establishment unit and branch belongs to, for the full build: one
// scan of each table instead of a lookup per name and per address.
class UnitOwners {
 public:
  absl::Status Load(SqliteDb& db) {
    ASSIGN_OR_RETURN(
        SqliteStatement units,
        db.Prepare("SELECT establishment_number, enterprise_number FROM establishment"));
    RETURN_IF_ERROR(ForEachRow(units, [&](SqliteStatement& row) {
      std::optional<int64_t> unit = DigitsKey(row.ColumnText(0));
      std::optional<int64_t> owner = kbo_search_internal::EnterpriseKey(row.ColumnText(1));
      if (unit && owner) establishments_.emplace_back(*unit, *owner);
      return absl::OkStatus();
    }));
    std::sort(establishments_.begin(), establishments_.end());
    ASSIGN_OR_RETURN(SqliteStatement branches,
                     db.Prepare("SELECT id, enterprise_number FROM branch"));
    return ForEachRow(branches, [&](SqliteStatement& row) {
      std::optional<int64_t> owner = kbo_search_internal::EnterpriseKey(row.ColumnText(1));
      if (owner) branches_[row.ColumnText(0)] = *owner;
      return absl::OkStatus();
    });
  }

  // The enterprise an entity number (enterprise, unit or branch) belongs to, if known.
  std::optional<int64_t> Owner(absl::string_view entity) const {
    if (std::optional<int64_t> enterprise = kbo_search_internal::EnterpriseKey(entity)) {
      return enterprise;
    }
    if (std::optional<int64_t> unit = DigitsKey(entity)) {
      auto it = std::lower_bound(establishments_.begin(), establishments_.end(),
                                 std::make_pair(*unit, std::numeric_limits<int64_t>::min()));
      if (it != establishments_.end() && it->first == *unit) return it->second;
    }
    auto branch = branches_.find(entity);
    if (branch != branches_.end()) return branch->second;
    return std::nullopt;
  }

 private:
  std::vector<std::pair<int64_t, int64_t>> establishments_;  // sorted by unit
  absl::flat_hash_map<std::string, int64_t> branches_;
};

// Names and postcodes of the whole database, grouped by owner after Sort(). Text lives in one
// arena: the full dump has ~6 M of them, and a string each would double the memory.
class OwnedValues {
 public:
  enum class Column : uint32_t { kName = 0, kPostcode = 1 };

  absl::Status Add(int64_t owner, Column column, absl::string_view text) {
    if (arena_.size() + text.size() > std::numeric_limits<uint32_t>::max()) {
      return absl::ResourceExhaustedError(
          "the KBO names and postcodes exceed 4 GiB; the search index cannot be built");
    }
    // A name longer than 2 GiB cannot come out of a CSV field the importer accepted.
    values_.push_back(Value{owner, static_cast<uint32_t>(arena_.size()),
                            static_cast<uint32_t>(text.size()) & 0x7fffffffu,
                            column == Column::kPostcode});
    arena_.append(text.data(), text.size());
    return absl::OkStatus();
  }

  // By owner, keeping scan order within an owner (offsets grow with it).
  void Sort() {
    std::sort(values_.begin(), values_.end(), [](const Value& a, const Value& b) {
      return a.owner != b.owner ? a.owner < b.owner : a.offset < b.offset;
    });
  }

  // Adds the values of `owner` to `document`, skipping those of smaller owners (orphans:
  // rows of entities KBO holds no enterprise for). Owners must be asked in increasing order.
  void TakeFor(int64_t owner, SearchDocument& document) {
    while (next_ < values_.size() && values_[next_].owner < owner) ++next_;
    for (; next_ < values_.size() && values_[next_].owner == owner; ++next_) {
      const Value& v = values_[next_];
      absl::string_view text(arena_.data() + v.offset, v.size);
      if (!v.is_postcode) {
        document.AddName(text);
      } else {
        document.AddPostcode(text);
      }
    }
  }

 private:
  struct Value {  // 16 bytes
    int64_t owner;
    uint32_t offset;
    uint32_t size : 31;
    uint32_t is_postcode : 1;
  };
  std::vector<Value> values_;
  std::string arena_;
  size_t next_ = 0;
};

absl::Status CollectOwned(SqliteDb& db, const UnitOwners& owners, absl::string_view sql,
                          OwnedValues::Column column, OwnedValues& values) {
  ASSIGN_OR_RETURN(SqliteStatement scan, db.Prepare(sql));
  return ForEachRow(scan, [&](SqliteStatement& row) {
    std::optional<int64_t> owner = owners.Owner(row.ColumnText(0));
    if (!owner) return absl::OkStatus();  // a unit whose enterprise is not held
    return values.Add(*owner, column, row.ColumnText(1));
  });
}

// Re-indexes one enterprise from the tables, by lookups: for updates, which touch a few
// thousand enterprises, not the whole database.
class DocumentRefresher {
 public:
  static absl::StatusOr<DocumentRefresher> Create(SqliteDb& db) {
    ASSIGN_OR_RETURN(SqliteStatement enterprise,
                     db.Prepare("SELECT juridical_form, juridical_form_cac FROM enterprise "
                                "WHERE enterprise_number = ?1"));
    auto owned = [](absl::string_view table, absl::string_view column) {
      return absl::StrCat(
          "SELECT ", column, " FROM ", table, " WHERE entity_number = ?1 ", "UNION ALL SELECT x.",
          column, " FROM establishment s JOIN ", table,
          " x ON x.entity_number = s.establishment_number WHERE s.enterprise_number = ?1 ",
          "UNION ALL SELECT x.", column, " FROM branch b JOIN ", table,
          " x ON x.entity_number = b.id WHERE b.enterprise_number = ?1");
    };
    ASSIGN_OR_RETURN(SqliteStatement names, db.Prepare(owned("denomination", "value")));
    ASSIGN_OR_RETURN(SqliteStatement postcodes, db.Prepare(owned("address", "zipcode")));
    ASSIGN_OR_RETURN(SqliteStatement remove, db.Prepare("DELETE FROM kbo_search WHERE rowid = ?1"));
    ASSIGN_OR_RETURN(SqliteStatement insert, db.Prepare(kInsertDocument));
    return DocumentRefresher(std::move(enterprise), std::move(names), std::move(postcodes),
                             std::move(remove), std::move(insert));
  }

  absl::Status Refresh(absl::string_view number) {
    std::optional<int64_t> key = kbo_search_internal::EnterpriseKey(number);
    if (!key) {
      return absl::InvalidArgumentError(
          absl::StrCat("\"", number, "\" is not a canonical enterprise number (0xxx.xxx.xxx)"));
    }
    RETURN_IF_ERROR(remove_.Bind(1, *key).Run());
    SearchDocument document;
    bool held = false;
    enterprise_.Bind(1, number);
    RETURN_IF_ERROR(ForEachRow(enterprise_, [&](SqliteStatement& row) {
      held = true;
      document.AddForm(row.ColumnText(0));
      document.AddForm(row.ColumnText(1));
      return absl::OkStatus();
    }));
    if (!held) return absl::OkStatus();
    names_.Bind(1, number);
    RETURN_IF_ERROR(ForEachRow(names_, [&](SqliteStatement& row) {
      document.AddName(row.ColumnText(0));
      return absl::OkStatus();
    }));
    postcodes_.Bind(1, number);
    RETURN_IF_ERROR(ForEachRow(postcodes_, [&](SqliteStatement& row) {
      document.AddPostcode(row.ColumnText(0));
      return absl::OkStatus();
    }));
    if (document.empty()) return absl::OkStatus();
    return document.Insert(insert_, *key);
  }

 private:
  DocumentRefresher(SqliteStatement enterprise, SqliteStatement names, SqliteStatement postcodes,
                    SqliteStatement remove, SqliteStatement insert)
      : enterprise_(std::move(enterprise)),
        names_(std::move(names)),
        postcodes_(std::move(postcodes)),
        remove_(std::move(remove)),
        insert_(std::move(insert)) {}
  SqliteStatement enterprise_;
  SqliteStatement names_;
  SqliteStatement postcodes_;
  SqliteStatement remove_;
  SqliteStatement insert_;
};

// The enterprise an entity number of a changed row belongs to: itself if it has the shape of
// an enterprise number, else the owner of the unit or branch, looked up at the time of the
// change (so a deleted unit is still resolved, by its own delete).
constexpr char kOwnersOfEntity[] = R"sql(
  SELECT {E} WHERE {E} GLOB '[0-9][0-9][0-9][0-9].[0-9][0-9][0-9].[0-9][0-9][0-9]'
  UNION ALL SELECT enterprise_number FROM main.establishment WHERE establishment_number = {E}
  UNION ALL SELECT enterprise_number FROM main.branch WHERE id = {E}
)sql";

std::string TrackingTriggers() {
  std::string sql =
      "CREATE TEMP TABLE IF NOT EXISTS kbo_search_touched "
      "(enterprise_number TEXT PRIMARY KEY NOT NULL) WITHOUT ROWID;\n";
  struct Source {
    const char* table;
    const char* owner_sql;  // with {E} for the row's entity column
    const char* entity;
  };
  const Source sources[] = {
      {"enterprise", "SELECT {E}", "enterprise_number"},
      {"establishment", "SELECT {E}", "enterprise_number"},
      {"branch", "SELECT {E}", "enterprise_number"},
      {"denomination", kOwnersOfEntity, "entity_number"},
      {"address", kOwnersOfEntity, "entity_number"},
  };
  for (const Source& source : sources) {
    for (absl::string_view event : {"DELETE", "INSERT"}) {
      std::string row = absl::StrCat(event == "DELETE" ? "OLD." : "NEW.", source.entity);
      std::string owners = source.owner_sql;
      for (size_t at = owners.find("{E}"); at != std::string::npos; at = owners.find("{E}")) {
        owners.replace(at, 3, row);
      }
      absl::StrAppend(&sql, "CREATE TEMP TRIGGER IF NOT EXISTS kbo_search_track_", source.table,
                      "_", absl::AsciiStrToLower(event), " AFTER ", event, " ON main.",
                      source.table, " BEGIN INSERT OR IGNORE INTO kbo_search_touched ", owners,
                      "; END;\n");
    }
  }
  return sql;
}

std::string DropTrackingTriggers() {
  std::string sql;
  for (const char* table : {"enterprise", "establishment", "branch", "denomination", "address"}) {
    for (const char* event : {"delete", "insert"}) {
      absl::StrAppend(&sql, "DROP TRIGGER IF EXISTS temp.kbo_search_track_", table, "_", event,
                      ";\n");
    }
  }
  return absl::StrCat(sql, "DROP TABLE IF EXISTS temp.kbo_search_touched;\n");
}

}  // namespace

namespace kbo_search_internal {

std::optional<int64_t> EnterpriseKey(absl::string_view number) {
  if (number.size() != 12 || number[4] != '.' || number[8] != '.') return std::nullopt;
  return DigitsKey(number);
}

std::string EnterpriseNumberOfKey(int64_t key) {
  std::string digits = absl::StrFormat("%010d", key);
  return absl::StrCat(digits.substr(0, 4), ".", digits.substr(4, 3), ".", digits.substr(7));
}

SearchTokenizer::SearchTokenizer(std::unique_ptr<fts5_tokenizer> methods, Fts5Tokenizer* tokenizer)
    : methods_(std::move(methods)), tokenizer_(tokenizer) {}

SearchTokenizer::~SearchTokenizer() { methods_->xDelete(tokenizer_); }

absl::StatusOr<std::unique_ptr<SearchTokenizer>> SearchTokenizer::Create(SqliteDb& db) {
  // The documented way to reach the FTS5 C API of a connection.
  // SqliteStatement binds no pointers, hence the raw calls.
  fts5_api* api = nullptr;
  sqlite3_stmt* raw = nullptr;
  if (sqlite3_prepare_v2(db.raw(), "SELECT fts5(?1)", -1, &raw, nullptr) == SQLITE_OK) {
    sqlite3_bind_pointer(raw, 1, &api, "fts5_api_ptr", nullptr);
    sqlite3_step(raw);
  }
  sqlite3_finalize(raw);
  auto methods = std::make_unique<fts5_tokenizer>();
  void* context = nullptr;
  if (api == nullptr || api->iVersion < 2 ||
      api->xFindTokenizer(api, "unicode61", &context, methods.get()) != SQLITE_OK) {
    return absl::FailedPreconditionError(
        "this SQLite library has no FTS5 unicode61 tokenizer, which enterprise search needs");
  }
  const char* args[] = {"remove_diacritics", "2"};
  Fts5Tokenizer* tokenizer = nullptr;
  if (methods->xCreate(context, args, 2, &tokenizer) != SQLITE_OK) {
    return absl::InternalError("cannot create the FTS5 unicode61 tokenizer");
  }
  return std::unique_ptr<SearchTokenizer>(new SearchTokenizer(std::move(methods), tokenizer));
}

std::vector<std::string> SearchTokenizer::Tokens(absl::string_view text) {
  std::vector<std::string> tokens;
  auto collect = [](void* out, int, const char* token, int size, int, int) -> int {
    static_cast<std::vector<std::string>*>(out)->emplace_back(token, size);
    return SQLITE_OK;
  };
  methods_->xTokenize(tokenizer_, &tokens, FTS5_TOKENIZE_QUERY, text.data(),
                      static_cast<int>(text.size()), collect);
  return tokens;
}

}  // namespace kbo_search_internal

absl::Status CreateKboSearchIndex(SqliteDb& db) { return db.Exec(kCreateSearchTable); }

absl::Status RebuildKboSearchIndex(SqliteDb& db) {
  // A fresh table rather than deleting a whole index row by row.
  RETURN_IF_ERROR(db.Exec("DROP TABLE IF EXISTS kbo_search;"));
  RETURN_IF_ERROR(db.Exec(kCreateSearchTable));
  // Bulk load: FTS5 buffers 32 MiB of postings instead of 1 before writing a segment, and
  // merges nothing until the final optimize. About 40 % faster on the full dump.
  RETURN_IF_ERROR(
      db.Exec("INSERT INTO kbo_search(kbo_search, rank) VALUES ('hashsize', 33554432);"
              "INSERT INTO kbo_search(kbo_search, rank) VALUES ('automerge', 0);"));
  UnitOwners owners;
  RETURN_IF_ERROR(owners.Load(db));
  OwnedValues values;
  RETURN_IF_ERROR(CollectOwned(db, owners, "SELECT entity_number, value FROM denomination",
                               OwnedValues::Column::kName, values));
  RETURN_IF_ERROR(CollectOwned(db, owners, "SELECT entity_number, zipcode FROM address",
                               OwnedValues::Column::kPostcode, values));
  values.Sort();

  // FTS5 writes best in increasing rowid order: a smaller rowid forces a flush.
  ASSIGN_OR_RETURN(SqliteStatement enterprises,
                   db.Prepare("SELECT enterprise_number, juridical_form, juridical_form_cac "
                              "FROM enterprise ORDER BY enterprise_number"));
  ASSIGN_OR_RETURN(SqliteStatement insert, db.Prepare(kInsertDocument));
  SearchDocument document;
  RETURN_IF_ERROR(ForEachRow(enterprises, [&](SqliteStatement& row) {
    std::optional<int64_t> key = kbo_search_internal::EnterpriseKey(row.ColumnText(0));
    if (!key) return absl::OkStatus();  // the importer checked every number
    document.Clear();
    document.AddForm(row.ColumnText(1));
    document.AddForm(row.ColumnText(2));
    values.TakeFor(*key, document);
    if (document.empty()) return absl::OkStatus();
    return document.Insert(insert, *key);
  }));
  // One segment: queries then read one doclist per term instead of merging several. Then
  // the defaults again, for the small writes of daily updates.
  return db.Exec(
      "INSERT INTO kbo_search(kbo_search) VALUES ('optimize');"
      "INSERT INTO kbo_search(kbo_search, rank) VALUES ('automerge', 4);"
      "INSERT INTO kbo_search(kbo_search, rank) VALUES ('hashsize', 1048576);");
}

absl::Status TrackKboSearchChanges(SqliteDb& db) {
  RETURN_IF_ERROR(CreateKboSearchIndex(db));
  return db.Exec(TrackingTriggers());
}

absl::StatusOr<int64_t> RefreshTrackedKboSearch(SqliteDb& db) {
  std::vector<std::string> touched;
  {
    absl::StatusOr<SqliteStatement> list =
        db.Prepare("SELECT enterprise_number FROM temp.kbo_search_touched ORDER BY 1");
    if (!list.ok()) {
      return absl::FailedPreconditionError(
          "RefreshTrackedKboSearch without TrackKboSearchChanges on this connection");
    }
    RETURN_IF_ERROR(ForEachRow(*list, [&](SqliteStatement& row) {
      touched.push_back(row.ColumnText(0));
      return absl::OkStatus();
    }));
  }
  // The triggers must not see the refresh itself (it writes only kbo_search, but stop first).
  RETURN_IF_ERROR(db.Exec(DropTrackingTriggers()));
  RETURN_IF_ERROR(RefreshKboSearchIndex(db, touched));
  return static_cast<int64_t>(touched.size());
}

absl::Status RefreshKboSearchIndex(SqliteDb& db,
                                   const std::vector<std::string>& enterprise_numbers) {
  RETURN_IF_ERROR(CreateKboSearchIndex(db));
  ASSIGN_OR_RETURN(DocumentRefresher refresher, DocumentRefresher::Create(db));
  for (const std::string& number : enterprise_numbers) {
    RETURN_IF_ERROR(refresher.Refresh(number));
  }
  return absl::OkStatus();
}

}  // namespace onceonly
