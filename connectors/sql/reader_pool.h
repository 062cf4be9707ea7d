// A fixed set of read-only SQLite connections, each with its reader (statements prepared
// once), lent to one thread at a time. SQLite connections here are opened NOMUTEX, so a
// connection must never be used by two threads at once; the pool is what guarantees it.
//
// Thread-safe.
#ifndef ONCEONLY_CONNECTORS_SQL_READER_POOL_H_
#define ONCEONLY_CONNECTORS_SQL_READER_POOL_H_

#include <filesystem>
#include <memory>
#include <string>
#include <system_error>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/sqlite.h"
#include "common/status_macros.h"

namespace onceonly {

// `Reader` has `static absl::StatusOr<std::unique_ptr<Reader>> Create(SqliteDb*)`.
template <typename Reader>
class ReaderPool {
 public:
  struct Slot {
    // Declared first so the reader's statements are finalized before the connection closes.
    std::unique_ptr<SqliteDb> db;
    std::unique_ptr<Reader> reader;
  };

  // Returns the slot to the pool when destroyed.
  class Lease {
   public:
    Lease(ReaderPool* pool, std::unique_ptr<Slot> slot) : pool_(pool), slot_(std::move(slot)) {}
    Lease(Lease&& other) noexcept : pool_(other.pool_), slot_(std::move(other.slot_)) {}
    Lease& operator=(Lease&&) = delete;
    ~Lease() {
      if (slot_ != nullptr) pool_->Return(std::move(slot_));
    }
    Reader& reader() { return *slot_->reader; }

   private:
    ReaderPool* pool_;
    std::unique_ptr<Slot> slot_;
  };

  // Opens `size` read-only connections to `path` and a reader on each. FAILED_PRECONDITION
  // if the file does not exist or lacks the schema (the reader's Create says which).
  static absl::StatusOr<std::unique_ptr<ReaderPool>> Create(const std::string& path, int size) {
    if (size < 1) {
      return absl::InvalidArgumentError(
          absl::StrCat("a reader pool needs at least one connection, got ", size));
    }
    std::error_code ec;
    if (!std::filesystem::is_regular_file(path, ec)) {
      return absl::FailedPreconditionError(absl::StrCat(
          "registry database ", path,
          " does not exist; run `onceonly registry seed` to create the sample registries"));
    }
    std::vector<std::unique_ptr<Slot>> slots;
    for (int i = 0; i < size; ++i) {
      auto slot = std::make_unique<Slot>();
      ASSIGN_OR_RETURN(slot->db, SqliteDb::Open(path, SqliteDb::Mode::kReadOnly));
      ASSIGN_OR_RETURN(slot->reader, Reader::Create(slot->db.get()));
      slots.push_back(std::move(slot));
    }
    return std::unique_ptr<ReaderPool>(new ReaderPool(std::move(slots)));
  }

  // Waits for an idle connection; DEADLINE_EXCEEDED if none frees up before `deadline`.
  absl::StatusOr<Lease> Acquire(absl::Time deadline) {
    if (!mu_.LockWhenWithDeadline(absl::Condition(this, &ReaderPool::HasIdle), deadline)) {
      mu_.Unlock();
      return absl::DeadlineExceededError("no registry database connection became free in time");
    }
    std::unique_ptr<Slot> slot = std::move(idle_.back());
    idle_.pop_back();
    mu_.Unlock();
    return Lease(this, std::move(slot));
  }

 private:
  explicit ReaderPool(std::vector<std::unique_ptr<Slot>> slots) : idle_(std::move(slots)) {}

  bool HasIdle() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return !idle_.empty(); }

  void Return(std::unique_ptr<Slot> slot) {
    absl::MutexLock lock(&mu_);
    idle_.push_back(std::move(slot));
  }

  absl::Mutex mu_;
  std::vector<std::unique_ptr<Slot>> idle_ ABSL_GUARDED_BY(mu_);
};

}  // namespace onceonly

#endif  // ONCEONLY_CONNECTORS_SQL_READER_POOL_H_
