#include "connectors/kbo/kbo_import.h"

#include <sqlite3.h>
#include <sys/resource.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>  // renameat2
#include <cstring>
#include <deque>
#include <filesystem>
#include <memory>
#include <thread>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "common/enterprise_number.h"
#include "common/output_file.h"
#include "common/sqlite.h"
#include "common/status_macros.h"
#include "connectors/kbo/csv_reader.h"
#include "connectors/kbo/kbo_schema.h"
#include "connectors/kbo/kbo_search.h"

namespace onceonly {
namespace {

// How a CSV column is validated and converted before it is stored.
enum class Kind {
  kText,
  kEnterpriseNumber,     // canonical "0xxx.xxx.xxx" with a valid mod-97 check
  kEstablishmentNumber,  // canonical "2.xxx.xxx.xxx" with a valid mod-97 check
  kEntityNumber,         // an enterprise, establishment unit or branch
  kBranchId,             // KBO's internal branch id: digits and dots
  kDate,                 // "dd-mm-yyyy", stored ISO
  kOptionalDate,         // same, or empty
  kNaceVersion,          // 2003, 2008 or 2025
  kCode,                 // a code of `code_category` in code.csv
  kOptionalCode,         // same, or empty
  kNaceCode,             // a code of category Nace<NaceVersion of the same row>
};

struct Column {
  const char* csv_name;
  Kind kind;
  const char* code_category = nullptr;  // kCode, kOptionalCode
};

struct TableSpec {
  const char* table;
  std::vector<Column> columns;  // CSV order = SQL column order
  std::vector<const char*> sql_columns;
  bool primary_key;        // rows replace rows with the same first column
  Column delete_column;    // the single column of <table>_delete.csv
  const char* delete_key;  // the SQL column it matches
  // activity: stored as runs of one entity's consecutive rows in activity_run (kbo_schema.h).
  bool packed_runs = false;
};

const char* SqlTable(const TableSpec& spec) { return spec.packed_runs ? "activity_run" : spec.table; }

const std::vector<TableSpec>& Tables() {
  static const auto* const kTables = new std::vector<TableSpec>{
      {"enterprise",
       {{"EnterpriseNumber", Kind::kEnterpriseNumber},
        {"Status", Kind::kCode, "Status"},
        {"JuridicalSituation", Kind::kCode, "JuridicalSituation"},
        {"TypeOfEnterprise", Kind::kCode, "TypeOfEnterprise"},
        {"JuridicalForm", Kind::kOptionalCode, "JuridicalForm"},
        {"JuridicalFormCAC", Kind::kOptionalCode, "JuridicalForm"},
        {"StartDate", Kind::kDate}},
       {"enterprise_number", "status", "juridical_situation", "type_of_enterprise",
        "juridical_form", "juridical_form_cac", "start_date"},
       true,
       {"EnterpriseNumber", Kind::kEnterpriseNumber},
       "enterprise_number"},
      {"establishment",
       {{"EstablishmentNumber", Kind::kEstablishmentNumber},
        {"StartDate", Kind::kDate},
        {"EnterpriseNumber", Kind::kEnterpriseNumber}},
       {"establishment_number", "start_date", "enterprise_number"},
       true,
       {"EstablishmentNumber", Kind::kEstablishmentNumber},
       "establishment_number"},
      {"denomination",
       {{"EntityNumber", Kind::kEntityNumber},
        {"Language", Kind::kCode, "Language"},
        {"TypeOfDenomination", Kind::kCode, "TypeOfDenomination"},
        {"Denomination", Kind::kText}},
       {"entity_number", "language", "type", "value"},
       false,
       {"EntityNumber", Kind::kEntityNumber},
       "entity_number"},
      {"address",
       {{"EntityNumber", Kind::kEntityNumber},
        {"TypeOfAddress", Kind::kCode, "TypeOfAddress"},
        {"CountryNL", Kind::kText},
        {"CountryFR", Kind::kText},
        {"Zipcode", Kind::kText},
        {"MunicipalityNL", Kind::kText},
        {"MunicipalityFR", Kind::kText},
        {"StreetNL", Kind::kText},
        {"StreetFR", Kind::kText},
        {"HouseNumber", Kind::kText},
        {"Box", Kind::kText},
        {"ExtraAddressInfo", Kind::kText},
        {"DateStrikingOff", Kind::kOptionalDate}},
       {"entity_number", "type", "country_nl", "country_fr", "zipcode", "municipality_nl",
        "municipality_fr", "street_nl", "street_fr", "house_number", "box", "extra_address_info",
        "date_striking_off"},
       false,
       {"EntityNumber", Kind::kEntityNumber},
       "entity_number"},
      {"contact",
       {{"EntityNumber", Kind::kEntityNumber},
        {"EntityContact", Kind::kCode, "EntityContact"},
        {"ContactType", Kind::kCode, "ContactType"},
        {"Value", Kind::kText}},
       {"entity_number", "entity_contact", "contact_type", "value"},
       false,
       {"EntityNumber", Kind::kEntityNumber},
       "entity_number"},
      {"activity",
       {{"EntityNumber", Kind::kEntityNumber},
        {"ActivityGroup", Kind::kCode, "ActivityGroup"},
        {"NaceVersion", Kind::kNaceVersion},
        {"NaceCode", Kind::kNaceCode},
        {"Classification", Kind::kCode, "Classification"}},
       {"entity_number", "activity_group", "nace_version", "nace_code", "classification"},
       false,
       {"EntityNumber", Kind::kEntityNumber},
       "entity_number",
       /*packed_runs=*/true},
      {"branch",
       {{"Id", Kind::kBranchId},
        {"StartDate", Kind::kDate},
        {"EnterpriseNumber", Kind::kEnterpriseNumber}},
       {"id", "start_date", "enterprise_number"},
       true,
       {"Id", Kind::kBranchId},
       "id"},
  };
  return *kTables;
}

bool FileExists(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode);
}

bool AllDigits(absl::string_view s) {
  for (char c : s) {
    if (!absl::ascii_isdigit(static_cast<unsigned char>(c))) return false;
  }
  return true;
}

// KBO writes its own numbers canonically; anything else is a corrupt extract.
absl::StatusOr<std::string> CheckCanonical(absl::StatusOr<std::string> canonical,
                                           absl::string_view value) {
  if (!canonical.ok()) return canonical.status();
  if (*canonical != value) {
    return absl::InvalidArgumentError(
        absl::StrCat("\"", value, "\" is not in canonical form \"", *canonical, "\""));
  }
  return canonical;
}

absl::StatusOr<std::string> BranchId(absl::string_view value) {
  bool ok = !value.empty() && value.size() <= 20;
  for (char c : value) {
    if (!absl::ascii_isdigit(static_cast<unsigned char>(c)) && c != '.') ok = false;
  }
  if (!ok) {
    return absl::InvalidArgumentError(
        absl::StrCat("branch id \"", value, "\" is not digits and dots"));
  }
  return std::string(value);
}

// Enterprise numbers are "dddd.ddd.ddd" (first digit 0 or 1); establishment unit numbers
// "d.ddd.ddd.ddd" with 2..8; KBO's branch ids, which the child tables also key on, start
// with 9 and carry no check digits.
absl::StatusOr<std::string> EntityNumber(absl::string_view value) {
  if (value.size() == 13 && value[1] == '.') {
    if (value[0] == '9') return BranchId(value);
    return CheckCanonical(CanonicalEstablishmentNumber(value), value);
  }
  return CheckCanonical(CanonicalEnterpriseNumber(value), value);
}

absl::StatusOr<std::string> Convert(Kind kind, absl::string_view value) {
  switch (kind) {
    case Kind::kText:
    case Kind::kCode:
    case Kind::kOptionalCode:
    case Kind::kNaceCode:
      return std::string(value);  // checked against code.csv by the importer
    case Kind::kEnterpriseNumber:
      return CheckCanonical(CanonicalEnterpriseNumber(value), value);
    case Kind::kEstablishmentNumber:
      return CheckCanonical(CanonicalEstablishmentNumber(value), value);
    case Kind::kEntityNumber:
      return EntityNumber(value);
    case Kind::kBranchId:
      return BranchId(value);
    case Kind::kDate:
      return KboDateToIso(value);
    case Kind::kOptionalDate:
      if (value.empty()) return std::string();
      return KboDateToIso(value);
    case Kind::kNaceVersion:
      if (value == "2003" || value == "2008" || value == "2025") return std::string(value);
      return absl::InvalidArgumentError(
          absl::StrCat("\"", value, "\" is not a NACE version (2003, 2008 or 2025)"));
  }
  return absl::InternalError("unknown column kind");
}

absl::Status AtRow(const CsvReader& reader, absl::string_view column, const absl::Status& status) {
  return absl::InvalidArgumentError(
      absl::StrCat(reader.path(), ":", reader.line(), ": ", column, ": ", status.message()));
}

// Where rows that fail validation go with --reject-file: one "file:line: column: reason" line
// each, instead of stopping the import.
class RejectSink {
 public:
  static absl::StatusOr<std::unique_ptr<RejectSink>> Open(const std::string& path) {
    // Written in place as rows are rejected, so that it helps even if the import fails.
    absl::StatusOr<int> fd = CreateNewFile(path, 0600);
    if (!fd.ok()) {
      return absl::Status(fd.status().code(),
                          absl::StrCat("--reject-file: ", fd.status().message()));
    }
    std::unique_ptr<std::FILE, int (*)(std::FILE*)> file(::fdopen(*fd, "w"), &std::fclose);
    if (file == nullptr) {
      ::close(*fd);
      return absl::UnavailableError(
          absl::StrCat("--reject-file ", path, ": ", std::strerror(errno)));
    }
    return std::unique_ptr<RejectSink>(new RejectSink(path, std::move(file)));
  }
  absl::Status Add(absl::string_view reason) {
    if (std::fprintf(file_.get(), "%.*s\n", static_cast<int>(reason.size()), reason.data()) < 0) {
      return absl::UnavailableError(absl::StrCat("cannot write ", path_));
    }
    ++count_;
    return absl::OkStatus();
  }
  absl::Status Close() {
    if (std::fflush(file_.get()) != 0) return absl::UnavailableError("cannot write " + path_);
    return absl::OkStatus();
  }
  int64_t count() const { return count_; }

 private:
  RejectSink(std::string path, std::unique_ptr<std::FILE, int (*)(std::FILE*)> file)
      : path_(std::move(path)), file_(std::move(file)) {}
  const std::string path_;
  std::unique_ptr<std::FILE, int (*)(std::FILE*)> file_;
  int64_t count_ = 0;
};

// Streams one CSV file: checks the header, then hands every row (column count checked) to
// `row`. A row that fails (INVALID_ARGUMENT) stops the load, or goes to `rejects` if set; a
// file that is not valid CSV (an unterminated quote) stops it either way, as nothing after
// it can be trusted. Reports progress (rows/s, share of the file, ETA) every few seconds and
// at the end.
class FileLoader {
 public:
  FileLoader(const std::function<void(absl::string_view)>& progress, RejectSink* rejects)
      : progress_(progress), rejects_(rejects) {}

  absl::StatusOr<int64_t> Load(
      const std::string& path, const std::vector<const char*>& header,
      const std::function<absl::Status(const CsvReader&, const std::vector<std::string>&)>& row) {
    absl::Time start = absl::Now();
    absl::Time next_report = start + kReportEvery;
    ASSIGN_OR_RETURN(std::unique_ptr<CsvReader> reader, CsvReader::Open(path));
    std::error_code ec;
    const int64_t file_bytes = static_cast<int64_t>(std::filesystem::file_size(path, ec));
    std::vector<std::string> fields;
    ASSIGN_OR_RETURN(bool has_header, reader->Next(&fields));
    std::vector<std::string> expected(header.begin(), header.end());
    if (!has_header || fields != expected) {
      return absl::InvalidArgumentError(absl::StrCat(
          path, ":1: header is \"", has_header ? absl::StrJoin(fields, ",") : "<empty file>",
          "\", expected \"", absl::StrJoin(expected, ","), "\""));
    }
    int64_t rows = 0;
    while (true) {
      ASSIGN_OR_RETURN(bool more, reader->Next(&fields));
      if (!more) break;
      absl::Status status;
      if (fields.size() != expected.size()) {
        status = absl::InvalidArgumentError(absl::StrFormat(
            "%s:%d: %s: row has %d columns, the header has %d", path, reader->line(),
            fields.size() < expected.size() ? expected[fields.size()] : "(extra column)",
            fields.size(), expected.size()));
      } else {
        status = CheckFieldsAreUtf8(*reader, header, fields);
        if (status.ok()) status = row(*reader, fields);
      }
      if (!status.ok()) {
        if (rejects_ == nullptr || status.code() != absl::StatusCode::kInvalidArgument) {
          return status;
        }
        RETURN_IF_ERROR(rejects_->Add(status.message()));
        continue;
      }
      ++rows;
      if ((rows & 0xfff) == 0 && absl::Now() >= next_report) {
        Report(path, rows, reader->bytes_consumed(), file_bytes, start, false);
        next_report = absl::Now() + kReportEvery;
      }
    }
    Report(path, rows, file_bytes, file_bytes, start, true);
    return rows;
  }

 private:
  static constexpr absl::Duration kReportEvery = absl::Seconds(2);

  void Report(const std::string& path, int64_t rows, int64_t bytes, int64_t file_bytes,
              absl::Time start, bool done) {
    if (!progress_) return;
    const double seconds = absl::ToDoubleSeconds(absl::Now() - start);
    const double rate = seconds > 0 ? rows / seconds : 0;
    if (done) {
      progress_(absl::StrFormat("%s: %d rows in %.2f s (%.0f rows/s)", path, rows, seconds,
                                rate));
      return;
    }
    const double share = file_bytes > 0 ? static_cast<double>(bytes) / file_bytes : 0;
    const double eta = share > 0 ? seconds * (1 - share) / share : 0;
    progress_(absl::StrFormat("%s: %d rows so far (%.0f rows/s), %.0f%% of the file, ETA %.0f s",
                              path, rows, rate, 100 * share, eta));
  }

  const std::function<void(absl::string_view)>& progress_;
  RejectSink* const rejects_;
};

struct Meta {
  std::string extract_type;
  int64_t extract_number = 0;
  std::string snapshot_date;
  std::string extract_timestamp;
};

// "dd-mm-yyyy hh:mm:ss" -> "yyyy-mm-ddThh:mm:ss".
absl::StatusOr<std::string> KboTimestampToIso(absl::string_view value) {
  if (value.size() != 19 || value[10] != ' ' || value[13] != ':' || value[16] != ':') {
    return absl::InvalidArgumentError(
        absl::StrCat("\"", value, "\" is not a timestamp dd-mm-yyyy hh:mm:ss"));
  }
  ASSIGN_OR_RETURN(std::string date, KboDateToIso(value.substr(0, 10)));
  int h = 0, m = 0, s = 0;
  if (!AllDigits(value.substr(11, 2)) || !AllDigits(value.substr(14, 2)) ||
      !AllDigits(value.substr(17, 2)) || !absl::SimpleAtoi(value.substr(11, 2), &h) ||
      !absl::SimpleAtoi(value.substr(14, 2), &m) || !absl::SimpleAtoi(value.substr(17, 2), &s) ||
      h > 23 || m > 59 || s > 60) {
    return absl::InvalidArgumentError(absl::StrCat("\"", value, "\" has an invalid time"));
  }
  return absl::StrCat(date, "T", value.substr(11));
}

absl::StatusOr<Meta> ReadMeta(const std::string& extract_dir,
                              const std::function<void(absl::string_view)>& progress) {
  const std::string path = extract_dir + "/meta.csv";
  if (!FileExists(path)) {
    return absl::InvalidArgumentError(
        absl::StrCat(extract_dir,
                     " is not a KBO extract: it has no meta.csv (expected the unzipped "
                     "KboOpenData_<n>_<yyyy>_<mm>_<dd>_Full/Update directory)"));
  }
  Meta meta;
  bool have_type = false, have_number = false, have_snapshot = false, have_timestamp = false;
  FileLoader loader(progress, /*rejects=*/nullptr);  // a bad meta.csv stops the import
  RETURN_IF_ERROR(
      loader
          .Load(path, {"Variable", "Value"},
                [&](const CsvReader& reader, const std::vector<std::string>& f) -> absl::Status {
                  const std::string& name = f[0];
                  const std::string& value = f[1];
                  if (name == "ExtractType") {
                    std::string type = absl::AsciiStrToLower(value);
                    if (type != "full" && type != "update") {
                      return AtRow(reader, name,
                                   absl::InvalidArgumentError(absl::StrCat(
                                       "\"", value, "\" is neither \"full\" nor \"update\"")));
                    }
                    meta.extract_type = type;
                    have_type = true;
                  } else if (name == "ExtractNumber") {
                    if (!AllDigits(value) || !absl::SimpleAtoi(value, &meta.extract_number)) {
                      return AtRow(reader, name,
                                   absl::InvalidArgumentError(
                                       absl::StrCat("\"", value, "\" is not a number")));
                    }
                    have_number = true;
                  } else if (name == "SnapshotDate") {
                    absl::StatusOr<std::string> date = KboDateToIso(value);
                    if (!date.ok()) return AtRow(reader, name, date.status());
                    meta.snapshot_date = *date;
                    have_snapshot = true;
                  } else if (name == "ExtractTimestamp") {
                    absl::StatusOr<std::string> ts = KboTimestampToIso(value);
                    if (!ts.ok()) return AtRow(reader, name, ts.status());
                    meta.extract_timestamp = *ts;
                    have_timestamp = true;
                  }
                  return absl::OkStatus();
                })
          .status());
  std::vector<std::string> missing;
  if (!have_type) missing.push_back("ExtractType");
  if (!have_number) missing.push_back("ExtractNumber");
  if (!have_snapshot) missing.push_back("SnapshotDate");
  if (!have_timestamp) missing.push_back("ExtractTimestamp");
  if (!missing.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat(path, ": missing ", absl::StrJoin(missing, ", ")));
  }
  return meta;
}

// Rolls back unless committed.
class Transaction {
 public:
  static absl::StatusOr<std::unique_ptr<Transaction>> Begin(SqliteDb& db) {
    RETURN_IF_ERROR(db.Exec("BEGIN IMMEDIATE"));
    return std::unique_ptr<Transaction>(new Transaction(db));
  }
  ~Transaction() {
    if (!committed_) db_.Exec("ROLLBACK").IgnoreError();
  }
  absl::Status Commit() {
    RETURN_IF_ERROR(db_.Exec("COMMIT"));
    committed_ = true;
    return absl::OkStatus();
  }

 private:
  explicit Transaction(SqliteDb& db) : db_(db) {}
  SqliteDb& db_;
  bool committed_ = false;
};

// A full extract for a path that holds no database yet is built beside it, without a journal,
// and linked into place once complete and synced: every page is written once, where the WAL
// writes it twice, and a crash leaves no half-built database at the path. (A database in
// service is replaced in one WAL transaction instead, so that its readers never see a mix.)
class FreshBuild {
 public:
  // Whether `db_path` is free for a fresh build: nothing there yet.
  static bool Applies(const std::string& db_path) { return !PathExists(db_path); }

  // Takes `<db>.importing.lock` (FAILED_PRECONDITION if another first import of the same
  // path holds it), then clears what a crashed build left. Null if a database appeared at the
  // path meanwhile (another import published it): import into it instead.
  static absl::StatusOr<std::unique_ptr<FreshBuild>> Start(const std::string& db_path) {
    std::unique_ptr<FreshBuild> build(new FreshBuild(db_path));
    const std::string lock_path = db_path + ".importing.lock";
    build->lock_fd_ = ::open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (build->lock_fd_ < 0) {
      return absl::UnavailableError(absl::StrCat("cannot create the database ", db_path, " (",
                                                 lock_path, ": ", std::strerror(errno), ")"));
    }
    if (::flock(build->lock_fd_, LOCK_EX | LOCK_NB) != 0) {
      return absl::FailedPreconditionError(absl::StrCat(
          "another import is building ", db_path, " (it holds ", lock_path,
          "); wait for it to finish, then import again"));
    }
    build->locked_ = true;
    if (PathExists(db_path)) return nullptr;
    // Leftovers of a build that crashed, and the WAL of a database deleted by hand: SQLite
    // would apply the latter to the new database.
    for (const std::string& path :
         {build->build_path_, build->build_path_ + "-wal", build->build_path_ + "-shm",
          build->build_path_ + "-journal", db_path + "-wal", db_path + "-shm"}) {
      if (::unlink(path.c_str()) != 0 && errno != ENOENT) {
        return absl::UnavailableError(absl::StrCat("cannot remove ", path, ": ",
                                                   std::strerror(errno)));
      }
    }
    return build;
  }

  // A crash between Publish's link and unlink leaves the build name as a second name of the
  // database in service; it goes at the next import.
  static void RemoveStaleBuildName(const std::string& db_path) {
    struct stat db, build;
    const std::string build_path = db_path + ".importing";
    if (::stat(db_path.c_str(), &db) == 0 && ::stat(build_path.c_str(), &build) == 0 &&
        db.st_dev == build.st_dev && db.st_ino == build.st_ino) {
      ::unlink(build_path.c_str());
    }
  }

  ~FreshBuild() {
    if (locked_ && !published_) {  // without the lock, the build file is another import's
      for (const char* suffix : {"", "-wal", "-shm", "-journal"}) {
        ::unlink((build_path_ + suffix).c_str());
      }
    }
    if (lock_fd_ >= 0) ::close(lock_fd_);  // releases the lock
  }

  const std::string& build_path() const { return build_path_; }

  // Call with the build's connection closed. Syncs the file, puts it at the database path
  // unless something appeared there meanwhile, and syncs the directory.
  absl::Status Publish() {
    RETURN_IF_ERROR(Sync(build_path_, O_RDONLY));
    if (::link(build_path_.c_str(), db_path_.c_str()) == 0) {
      published_ = true;
      ::unlink(build_path_.c_str());
    } else if (errno != EEXIST &&
               ::renameat2(AT_FDCWD, build_path_.c_str(), AT_FDCWD, db_path_.c_str(),
                           RENAME_NOREPLACE) == 0) {
      published_ = true;  // a file system without hard links
    } else {
      return absl::UnavailableError(absl::StrCat(
          "cannot put the new database at ", db_path_, ": ", std::strerror(errno),
          errno == EEXIST ? " (something created it meanwhile; nothing was changed)" : ""));
    }
    const std::string dir = std::filesystem::path(db_path_).parent_path().string();
    absl::Status synced = Sync(dir.empty() ? "." : dir, O_RDONLY | O_DIRECTORY);
    if (!synced.ok()) {
      return absl::UnavailableError(absl::StrCat(
          "the new database is at ", db_path_, ", but a crash could still lose its name: ",
          synced.message()));
    }
    return absl::OkStatus();
  }

 private:
  explicit FreshBuild(const std::string& db_path)
      : db_path_(db_path), build_path_(db_path + ".importing") {}

  static bool PathExists(const std::string& path) {
    struct stat st;
    return ::lstat(path.c_str(), &st) == 0;
  }

  static absl::Status Sync(const std::string& path, int flags) {
    const int fd = ::open(path.c_str(), flags | O_CLOEXEC);
    if (fd < 0 || ::fsync(fd) != 0) {
      const int err = errno;
      if (fd >= 0) ::close(fd);
      return absl::UnavailableError(absl::StrCat("cannot sync ", path, ": ", std::strerror(err)));
    }
    ::close(fd);
    return absl::OkStatus();
  }

  const std::string db_path_;
  const std::string build_path_;
  int lock_fd_ = -1;
  bool locked_ = false;
  bool published_ = false;
};

// Batches of checked SQL rows, from the thread that parses a file to the one that writes
// them to SQLite. Bounded: the parser waits when kMaxQueued batches are ahead of SQLite, so
// memory stays flat whatever the file's size.
class RowPipe {
 public:
  static constexpr size_t kValuesPerBatch = 8192;
  static constexpr size_t kMaxQueued = 4;

  struct Batch {
    std::string bytes;           // every value, back to back
    std::vector<uint32_t> ends;  // where each value ends in `bytes`
    void Add(absl::string_view value) {
      bytes.append(value.data(), value.size());
      ends.push_back(static_cast<uint32_t>(bytes.size()));
    }
    absl::string_view value(size_t i) const {
      const uint32_t begin = i == 0 ? 0 : ends[i - 1];
      return absl::string_view(bytes).substr(begin, ends[i] - begin);
    }
  };

  // Parser side. A batch to fill: a recycled one if there is one.
  std::unique_ptr<Batch> Spare() {
    absl::MutexLock lock(&mu_);
    if (spare_.empty()) return std::make_unique<Batch>();
    std::unique_ptr<Batch> batch = std::move(spare_.back());
    spare_.pop_back();
    batch->bytes.clear();
    batch->ends.clear();
    return batch;
  }
  // Waits for room. CANCELLED once the writer has given up.
  absl::Status Put(std::unique_ptr<Batch> batch) {
    absl::MutexLock lock(&mu_);
    mu_.Await(absl::Condition(this, &RowPipe::HasRoom));
    if (cancelled_) return absl::CancelledError("the database write failed");
    queued_.push_back(std::move(batch));
    return absl::OkStatus();
  }
  // The last call of the parser, with how its parse ended.
  void Finish(absl::Status status) {
    absl::MutexLock lock(&mu_);
    parse_status_ = std::move(status);
    finished_ = true;
  }

  // Writer side. The next batch, or null once the parser has finished and all are taken.
  std::unique_ptr<Batch> Take() {
    absl::MutexLock lock(&mu_);
    mu_.Await(absl::Condition(this, &RowPipe::HasBatchOrFinished));
    if (queued_.empty()) return nullptr;
    std::unique_ptr<Batch> batch = std::move(queued_.front());
    queued_.pop_front();
    return batch;
  }
  void Recycle(std::unique_ptr<Batch> batch) {
    absl::MutexLock lock(&mu_);
    if (spare_.size() < kMaxQueued) spare_.push_back(std::move(batch));
  }
  void Cancel() {
    absl::MutexLock lock(&mu_);
    cancelled_ = true;
  }
  absl::Status parse_status() {
    absl::MutexLock lock(&mu_);
    return parse_status_;
  }

 private:
  bool HasRoom() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return cancelled_ || queued_.size() < kMaxQueued;
  }
  bool HasBatchOrFinished() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return finished_ || !queued_.empty();
  }

  absl::Mutex mu_;
  std::deque<std::unique_ptr<Batch>> queued_ ABSL_GUARDED_BY(mu_);
  std::vector<std::unique_ptr<Batch>> spare_ ABSL_GUARDED_BY(mu_);
  bool finished_ ABSL_GUARDED_BY(mu_) = false;
  bool cancelled_ ABSL_GUARDED_BY(mu_) = false;
  absl::Status parse_status_ ABSL_GUARDED_BY(mu_);
};

class Importer {
 public:
  Importer(SqliteDb& db, std::string dir, const std::function<void(absl::string_view)>& progress,
           RejectSink* rejects)
      : db_(db), dir_(std::move(dir)), loader_(progress, rejects) {}

  // The codes every coded column is checked against: those of the extract's code.csv, once
  // ReplaceCodes has stored it.
  absl::Status LoadCodes() {
    ASSIGN_OR_RETURN(SqliteStatement codes, db_.Prepare("SELECT DISTINCT category, code FROM code"));
    while (true) {
      ASSIGN_OR_RETURN(bool row, codes.Step());
      if (!row) break;
      codes_[codes.ColumnText(0)].insert(codes.ColumnText(1));
    }
    return absl::OkStatus();
  }

  absl::Status ReplaceCodes(KboTableCounts* counts) {
    RETURN_IF_ERROR(db_.Exec("DELETE FROM code"));
    counts->deleted = sqlite3_changes(db_.raw());
    ASSIGN_OR_RETURN(SqliteStatement insert,
                     db_.Prepare("INSERT OR REPLACE INTO code (category, code, language, "
                                 "description) VALUES (?1, ?2, ?3, ?4)"));
    ASSIGN_OR_RETURN(counts->inserted,
                     loader_.Load(Path("code.csv"), {"Category", "Code", "Language", "Description"},
                                  [&](const CsvReader& reader, const std::vector<std::string>& f) {
                                    for (int i = 0; i < 3; ++i) {
                                      if (f[i].empty()) {
                                        return AtRow(reader,
                                                     i == 0   ? "Category"
                                                     : i == 1 ? "Code"
                                                              : "Language",
                                                     absl::InvalidArgumentError("is empty"));
                                      }
                                    }
                                    if (!ActivityFieldEncodable(f[1])) {
                                      return AtRow(reader, "Code",
                                                   absl::InvalidArgumentError(
                                                       "holds a control character (0x1e or "
                                                       "0x1f)"));
                                    }
                                    insert.Bind(1, f[0]).Bind(2, f[1]).Bind(
                                        3, absl::AsciiStrToLower(f[2]));
                                    insert.Bind(4, f[3]);
                                    return insert.Run();
                                  }));
    return absl::OkStatus();
  }

  absl::Status ClearTable(const TableSpec& spec, KboTableCounts* counts) {
    if (spec.packed_runs) {
      ASSIGN_OR_RETURN(SqliteStatement total,
                       db_.Prepare("SELECT coalesce(sum(activity_count), 0) FROM activity_run"));
      ASSIGN_OR_RETURN(bool row, total.Step());
      if (row) counts->deleted += total.ColumnInt(0);
      return db_.Exec("DELETE FROM activity_run");
    }
    RETURN_IF_ERROR(db_.Exec(absl::StrCat("DELETE FROM ", spec.table)));
    counts->deleted += sqlite3_changes(db_.raw());
    return absl::OkStatus();
  }

  absl::Status ApplyDeletes(const TableSpec& spec, KboTableCounts* counts) {
    // A packed run counts as the activities it holds.
    ASSIGN_OR_RETURN(
        SqliteStatement del,
        db_.Prepare(absl::StrCat("DELETE FROM ", SqlTable(spec), " WHERE ", spec.delete_key,
                                 " = ?1", spec.packed_runs ? " RETURNING activity_count" : "")));
    const Column& column = spec.delete_column;
    ASSIGN_OR_RETURN(int64_t rows,
                     loader_.Load(Path(absl::StrCat(spec.table, "_delete.csv")), {column.csv_name},
                                  [&](const CsvReader& reader, const std::vector<std::string>& f) {
                                    absl::StatusOr<std::string> key = Convert(column.kind, f[0]);
                                    if (!key.ok())
                                      return AtRow(reader, column.csv_name, key.status());
                                    if (!spec.packed_runs) {
                                      RETURN_IF_ERROR(del.Bind(1, *key).Run());
                                      counts->deleted += sqlite3_changes(db_.raw());
                                      return absl::OkStatus();
                                    }
                                    del.Bind(1, *key);
                                    return ForEachRow(del, [&](SqliteStatement& run) {
                                      counts->deleted += run.ColumnInt(0);
                                      return absl::OkStatus();
                                    });
                                  }));
    (void)rows;
    return absl::OkStatus();
  }

  // Loads `file` on two threads: this one writes to SQLite while another parses and checks
  // the next rows (RowPipe). On two cores the import then takes about the longer of the two
  // instead of their sum.
  absl::Status InsertRows(const TableSpec& spec, const std::string& file, KboTableCounts* counts) {
    std::string sql;
    if (spec.packed_runs) {
      sql = "INSERT INTO activity_run (entity_number, activity_count, activities) "
            "VALUES (?1, ?2, ?3)";
    } else {
      std::vector<std::string> placeholders;
      for (size_t i = 1; i <= spec.columns.size(); ++i) {
        placeholders.push_back(absl::StrCat("?", i));
      }
      sql = absl::StrCat(spec.primary_key ? "INSERT OR REPLACE" : "INSERT", " INTO ", spec.table,
                         " (", absl::StrJoin(spec.sql_columns, ", "), ") VALUES (",
                         absl::StrJoin(placeholders, ", "), ")");
    }
    ASSIGN_OR_RETURN(SqliteStatement insert, db_.Prepare(sql));
    const int sql_columns = spec.packed_runs ? 3 : static_cast<int>(spec.columns.size());

    RowPipe pipe;
    int64_t rows = 0;
    std::thread parser([&] {
      absl::StatusOr<int64_t> loaded = ParseRows(spec, file, pipe);
      if (loaded.ok()) rows = *loaded;
      pipe.Finish(loaded.status());
    });
    absl::Status written;
    while (std::unique_ptr<RowPipe::Batch> batch = pipe.Take()) {
      for (size_t v = 0; written.ok() && v < batch->ends.size(); v += sql_columns) {
        for (int c = 0; c < sql_columns; ++c) insert.BindTextUncopied(c + 1, batch->value(v + c));
        written = insert.Run();
      }
      if (!written.ok()) pipe.Cancel();  // the parser stops at its next batch
      pipe.Recycle(std::move(batch));
    }
    parser.join();
    RETURN_IF_ERROR(written);
    RETURN_IF_ERROR(pipe.parse_status());
    counts->inserted += rows;
    return absl::OkStatus();
  }

  std::string Path(absl::string_view file) const { return absl::StrCat(dir_, "/", file); }

 private:
  using CodeSet = absl::flat_hash_set<std::string>;

  // The code sets a table's coded columns are checked against, looked up once per file.
  class ColumnChecks {
   public:
    // Whether `value`, in column `i` of a row `f`, is a code the column allows; a NACE code
    // is looked up in the table of the row's own NaceVersion.
    absl::Status Check(size_t i, const Column& column, const std::string& value,
                       const std::vector<std::string>& f) const {
      if (column.kind == Kind::kOptionalCode && value.empty()) return absl::OkStatus();
      const CodeSet* codes = sets_[i];
      if (column.kind == Kind::kNaceCode) {
        codes = nullptr;
        for (const auto& [version, set] : nace_sets_) {
          if (version == f[nace_version_column_]) codes = set;
        }
      }
      if (codes != nullptr && codes->contains(value)) return absl::OkStatus();
      const std::string category = column.kind == Kind::kNaceCode
                                       ? absl::StrCat("Nace", f[nace_version_column_])
                                       : std::string(column.code_category);
      return absl::InvalidArgumentError(
          absl::StrCat("\"", value, "\" is not a ", category, " code in code.csv"));
    }

   private:
    friend class Importer;
    std::vector<const CodeSet*> sets_;  // per column; null if not coded or no such category
    size_t nace_version_column_ = 0;
    std::vector<std::pair<std::string, const CodeSet*>> nace_sets_;  // "2008" -> Nace2008
  };

  ColumnChecks ChecksFor(const TableSpec& spec) const {
    ColumnChecks checks;
    auto find = [&](const std::string& category) -> const CodeSet* {
      auto found = codes_.find(category);
      return found == codes_.end() ? nullptr : &found->second;
    };
    for (size_t i = 0; i < spec.columns.size(); ++i) {
      const Column& column = spec.columns[i];
      checks.sets_.push_back(column.code_category == nullptr ? nullptr
                                                             : find(column.code_category));
      if (column.kind == Kind::kNaceVersion) checks.nace_version_column_ = i;
    }
    for (const char* version : {"2003", "2008", "2025"}) {
      checks.nace_sets_.emplace_back(version, find(absl::StrCat("Nace", version)));
    }
    return checks;
  }

  // The parsing side of InsertRows: checks and converts every row of `file` and hands the
  // SQL rows to `pipe` in batches (activity rows packed into runs first). Returns the CSV rows
  // accepted. Runs on its own thread: reads only the code sets and the spec.
  absl::StatusOr<int64_t> ParseRows(const TableSpec& spec, const std::string& file,
                                    RowPipe& pipe) {
    std::vector<const char*> header;
    for (const Column& column : spec.columns) header.push_back(column.csv_name);
    const ColumnChecks checks = ChecksFor(spec);
    std::vector<std::string> converted(spec.columns.size());
    std::vector<absl::string_view> values(spec.columns.size());
    std::unique_ptr<RowPipe::Batch> batch = pipe.Spare();
    // After each SQL row: a full batch goes to the writer.
    auto hand_over_if_full = [&]() -> absl::Status {
      if (batch->ends.size() < RowPipe::kValuesPerBatch) return absl::OkStatus();
      RETURN_IF_ERROR(pipe.Put(std::move(batch)));
      batch = pipe.Spare();
      return absl::OkStatus();
    };
    // The run being packed (activity only): one entity's consecutive rows.
    std::string run_entity, run_activities;
    int64_t run_count = 0;
    auto flush_run = [&]() -> absl::Status {
      if (run_count == 0) return absl::OkStatus();
      batch->Add(run_entity);
      batch->Add(absl::StrCat(run_count));  // stored as an integer: the column's affinity
      batch->Add(run_activities);
      RETURN_IF_ERROR(hand_over_if_full());
      run_count = 0;
      run_activities.clear();
      return absl::OkStatus();
    };
    auto row = [&](const CsvReader& reader, const std::vector<std::string>& f) -> absl::Status {
      for (size_t i = 0; i < spec.columns.size(); ++i) {
        const Column& column = spec.columns[i];
        switch (column.kind) {
          case Kind::kText:
            values[i] = f[i];
            break;
          case Kind::kCode:
          case Kind::kOptionalCode:
          case Kind::kNaceCode: {
            absl::Status known = checks.Check(i, column, f[i], f);
            if (!known.ok()) return AtRow(reader, column.csv_name, known);
            values[i] = f[i];
            break;
          }
          default: {
            absl::StatusOr<std::string> value = Convert(column.kind, f[i]);
            if (!value.ok()) return AtRow(reader, column.csv_name, value.status());
            converted[i] = *std::move(value);
            values[i] = converted[i];
          }
        }
      }
      if (!spec.packed_runs) {
        for (absl::string_view value : values) batch->Add(value);
        return hand_over_if_full();
      }
      // Every field but the entity is a checked code or NaceVersion: ReplaceCodes refused
      // codes that could not be packed.
      if (values[0] != run_entity) {
        RETURN_IF_ERROR(flush_run());
        run_entity.assign(values[0].data(), values[0].size());
      }
      EncodeActivity(KboActivity{values[1], values[2], values[3], values[4]}, &run_activities);
      ++run_count;
      return absl::OkStatus();
    };
    ASSIGN_OR_RETURN(int64_t rows, loader_.Load(Path(file), header, row));
    RETURN_IF_ERROR(flush_run());
    if (!batch->ends.empty()) RETURN_IF_ERROR(pipe.Put(std::move(batch)));
    return rows;
  }

  SqliteDb& db_;
  const std::string dir_;
  FileLoader loader_;
  absl::flat_hash_map<std::string, CodeSet> codes_;  // category -> codes
};

}  // namespace

absl::StatusOr<std::string> KboDateToIso(absl::string_view kbo_date) {
  auto bad = [&](absl::string_view why) {
    return absl::InvalidArgumentError(
        absl::StrCat("\"", kbo_date, "\" is not a date dd-mm-yyyy: ", why));
  };
  if (kbo_date.size() != 10 || kbo_date[2] != '-' || kbo_date[5] != '-') {
    return bad("wrong format");
  }
  absl::string_view dd = kbo_date.substr(0, 2), mm = kbo_date.substr(3, 2),
                    yyyy = kbo_date.substr(6, 4);
  int day = 0, month = 0, year = 0;
  if (!AllDigits(dd) || !AllDigits(mm) || !AllDigits(yyyy) || !absl::SimpleAtoi(dd, &day) ||
      !absl::SimpleAtoi(mm, &month) || !absl::SimpleAtoi(yyyy, &year)) {
    return bad("not all digits");
  }
  if (month < 1 || month > 12) return bad("month out of range");
  static constexpr int kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  bool leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
  int days = kDays[month - 1] + (month == 2 && leap ? 1 : 0);
  if (day < 1 || day > days) return bad("day out of range");
  if (year < 1) return bad("year out of range");
  return absl::StrCat(yyyy, "-", mm, "-", dd);
}

absl::StatusOr<KboImportSummary> ImportKboExtract(
    const std::string& extract_dir, const std::string& db_path,
    const std::function<void(absl::string_view progress_line)>& progress) {
  return ImportKboExtract(extract_dir, db_path, KboImportOptions(), progress);
}

absl::StatusOr<KboImportSummary> ImportKboExtract(
    const std::string& extract_dir, const std::string& db_path, const KboImportOptions& options,
    const std::function<void(absl::string_view progress_line)>& progress) {
  ASSIGN_OR_RETURN(Meta meta, ReadMeta(extract_dir, progress));
  const bool full = meta.extract_type == "full";

  // Every file must be there before the database is touched.
  std::vector<std::string> files = {"code.csv"};
  for (const TableSpec& spec : Tables()) {
    if (full) {
      files.push_back(absl::StrCat(spec.table, ".csv"));
    } else {
      files.push_back(absl::StrCat(spec.table, "_delete.csv"));
      files.push_back(absl::StrCat(spec.table, "_insert.csv"));
    }
  }
  std::vector<std::string> missing;
  for (const std::string& file : files) {
    if (!FileExists(absl::StrCat(extract_dir, "/", file))) missing.push_back(file);
  }
  if (!missing.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(
        extract_dir, ": ", meta.extract_type, " extract lacks ", absl::StrJoin(missing, ", ")));
  }

  std::unique_ptr<FreshBuild> fresh;
  if (full && FreshBuild::Applies(db_path)) {
    ASSIGN_OR_RETURN(fresh, FreshBuild::Start(db_path));
  }
  if (fresh == nullptr) FreshBuild::RemoveStaleBuildName(db_path);
  ASSIGN_OR_RETURN(std::unique_ptr<SqliteDb> db,
                   SqliteDb::Open(fresh != nullptr ? fresh->build_path() : db_path,
                                  SqliteDb::Mode::kReadWriteCreate));
  // A 128 MiB page cache; index sorts spill to temporary files rather than memory, so the
  // import's memory stays bounded whatever the extract's size.
  RETURN_IF_ERROR(db->Exec("PRAGMA cache_size = -131072; PRAGMA temp_store = FILE;"));
  if (fresh != nullptr) {
    // Nothing to roll back to: on error the build file is removed. Synced once, by Publish.
    RETURN_IF_ERROR(db->Exec("PRAGMA journal_mode = OFF; PRAGMA synchronous = OFF;"));
  }
  ASSIGN_OR_RETURN(std::unique_ptr<Transaction> txn, Transaction::Begin(*db));
  int64_t old_layout_activities = 0;  // rows of the old `activity` table a full import drops
  {
    // Databases imported before activity_run hold a row per activity in `activity`: a full
    // extract replaces it, an update cannot apply to it.
    ASSIGN_OR_RETURN(SqliteStatement old_layout,
                     db->Prepare("SELECT count(*) FROM sqlite_master WHERE type = 'table' AND "
                                 "name = 'activity'"));
    RETURN_IF_ERROR(old_layout.Step().status());
    const bool has_old_layout = old_layout.ColumnInt(0) > 0;
    old_layout.Reset();
    if (has_old_layout && !full) {
      return absl::FailedPreconditionError(absl::StrCat(
          db_path, " was imported by an earlier onceonly, with a row per activity; import a full "
                   "extract into it first, then ",
          extract_dir));
    }
    if (has_old_layout) {
      ASSIGN_OR_RETURN(SqliteStatement count, db->Prepare("SELECT count(*) FROM activity"));
      RETURN_IF_ERROR(count.Step().status());
      old_layout_activities = count.ColumnInt(0);
      count.Reset();
      RETURN_IF_ERROR(db->Exec("DROP TABLE activity"));
    }
  }
  RETURN_IF_ERROR(CreateKboSchema(*db));
  // Extracts go in in order, each once: an update applied twice, or an older extract after a
  // newer one, would put back what later extracts removed.
  {
    ASSIGN_OR_RETURN(SqliteStatement last,
                     db->Prepare("SELECT extract_number, extract_type, snapshot_date, "
                                 "imported_at FROM extract_history ORDER BY extract_number DESC "
                                 "LIMIT 1"));
    ASSIGN_OR_RETURN(bool imported_before, last.Step());
    if (imported_before && meta.extract_number <= last.ColumnInt(0)) {
      return absl::FailedPreconditionError(absl::StrCat(
          extract_dir, ": extract ", meta.extract_number, " (", meta.extract_type, ", snapshot ",
          meta.snapshot_date, ") is ",
          meta.extract_number == last.ColumnInt(0) ? "already imported" : "older than extract",
          meta.extract_number == last.ColumnInt(0) ? "" : absl::StrCat(" ", last.ColumnInt(0)),
          meta.extract_number == last.ColumnInt(0) ? "" : " already imported", " into ", db_path,
          " (", last.ColumnText(1), ", snapshot ", last.ColumnText(2), ", imported ",
          last.ColumnText(3), "); apply the extracts that follow it, in order, or import a "
          "newer full extract"));
    }
  }
  std::unique_ptr<RejectSink> rejects;
  if (!options.reject_file.empty()) {
    ASSIGN_OR_RETURN(rejects, RejectSink::Open(options.reject_file));
  }

  KboImportSummary summary;
  summary.extract_number = meta.extract_number;
  summary.extract_type = meta.extract_type;
  summary.snapshot_date = meta.snapshot_date;
  summary.extract_timestamp = meta.extract_timestamp;

  summary.tables["activity"].deleted = old_layout_activities;
  Importer importer(*db, extract_dir, progress, rejects.get());
  RETURN_IF_ERROR(importer.ReplaceCodes(&summary.tables["code"]));
  RETURN_IF_ERROR(importer.LoadCodes());
  if (full) {
    // Bulk-load without the secondary indexes, then build them once.
    RETURN_IF_ERROR(DropKboIndexes(*db));
    for (const TableSpec& spec : Tables()) {
      KboTableCounts* counts = &summary.tables[spec.table];
      RETURN_IF_ERROR(importer.ClearTable(spec, counts));
      RETURN_IF_ERROR(importer.InsertRows(spec, absl::StrCat(spec.table, ".csv"), counts));
    }
    absl::Time start = absl::Now();
    RETURN_IF_ERROR(CreateKboIndexes(*db));
    if (progress) {
      progress(
          absl::StrFormat("indexes built in %.2f s", absl::ToDoubleSeconds(absl::Now() - start)));
    }
    start = absl::Now();
    RETURN_IF_ERROR(RebuildKboSearchIndex(*db));
    if (progress) {
      progress(absl::StrFormat("search index built in %.2f s",
                               absl::ToDoubleSeconds(absl::Now() - start)));
    }
  } else {
    // Every enterprise whose names, addresses or units the update touches is re-indexed for
    // search, in the same transaction.
    RETURN_IF_ERROR(TrackKboSearchChanges(*db));
    for (const TableSpec& spec : Tables()) {
      RETURN_IF_ERROR(importer.ApplyDeletes(spec, &summary.tables[spec.table]));
    }
    for (const TableSpec& spec : Tables()) {
      RETURN_IF_ERROR(importer.InsertRows(spec, absl::StrCat(spec.table, "_insert.csv"),
                                          &summary.tables[spec.table]));
    }
    ASSIGN_OR_RETURN(int64_t reindexed, RefreshTrackedKboSearch(*db));
    if (progress) progress(absl::StrFormat("search index: %d enterprises re-indexed", reindexed));
  }

  {
    // Scoped: a statement alive at close would keep the connection open past Publish.
    ASSIGN_OR_RETURN(SqliteStatement history,
                     db->Prepare("INSERT INTO extract_history (extract_number, extract_type, "
                                 "snapshot_date, extract_timestamp, imported_at) "
                                 "VALUES (?1, ?2, ?3, ?4, ?5)"));
    RETURN_IF_ERROR(
        history.Bind(1, meta.extract_number)
            .Bind(2, meta.extract_type)
            .Bind(3, meta.snapshot_date)
            .Bind(4, meta.extract_timestamp)
            .Bind(5, absl::FormatTime("%Y-%m-%dT%H:%M:%SZ", absl::Now(), absl::UTCTimeZone()))
            .Run());
  }
  if (rejects != nullptr) {
    RETURN_IF_ERROR(rejects->Close());
    summary.rejected_rows = rejects->count();
  }
  absl::Time commit_start = absl::Now();
  RETURN_IF_ERROR(txn->Commit());
  if (fresh != nullptr) {
    // Readers (KboStore) expect WAL, so that later updates never block them.
    RETURN_IF_ERROR(db->Exec("PRAGMA journal_mode = WAL;"));
    txn.reset();
    db.reset();
    RETURN_IF_ERROR(fresh->Publish());
  }
  if (progress) {
    struct rusage usage {};
    getrusage(RUSAGE_SELF, &usage);  // ru_maxrss is in KiB on Linux
    progress(absl::StrFormat("extract %d (%s, snapshot %s) committed in %.2f s; peak RSS %d MiB",
                             meta.extract_number, meta.extract_type, meta.snapshot_date,
                             absl::ToDoubleSeconds(absl::Now() - commit_start),
                             usage.ru_maxrss / 1024));
  }
  return summary;
}

}  // namespace onceonly
