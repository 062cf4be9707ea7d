// Files the binaries write because a user named them (exports, receipts, checkpoints, keys,
// port files). Such a path may sit in a directory others can write to, so it is never opened
// through a symlink planted there, and never overwrites a file by accident: the content goes
// to a temporary beside it, created O_EXCL|O_NOFOLLOW with its final mode (whatever the
// umask), and is linked to its name only when complete, so a reader never sees half a file
// and a failed write leaves none.
#ifndef ONCEONLY_COMMON_OUTPUT_FILE_H_
#define ONCEONLY_COMMON_OUTPUT_FILE_H_

#include <sys/types.h>

#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace onceonly {

// What to do if something is already at the path when the file is published.
enum class IfExists {
  kRefuse,   // ALREADY_EXISTS, naming the path; the existing file is left as it was
  kReplace,  // only for files documented to be rewritten (a CRL, `pki init --force`)
};

struct OutputFileOptions {
  mode_t mode = 0600;  // exactly, whatever the umask
  IfExists if_exists = IfExists::kRefuse;
};

// OK if nothing at all (not even a dangling symlink) is at `path`; ALREADY_EXISTS naming it
// and saying what to do otherwise. Lets a command refuse before it does any work; Commit()
// checks again, atomically.
absl::Status CheckOutputPathFree(const std::string& path);

// A file written as it goes (an export page by page), that appears at its path at Commit().
// Not thread-safe.
class OutputFile {
 public:
  static absl::StatusOr<std::unique_ptr<OutputFile>> Create(const std::string& path,
                                                            OutputFileOptions options = {});
  // Removes the temporary if the file was not committed.
  ~OutputFile();
  OutputFile(const OutputFile&) = delete;
  OutputFile& operator=(const OutputFile&) = delete;

  absl::Status Write(absl::string_view bytes);
  // Syncs the content, then gives it its name (see IfExists). Once only.
  absl::Status Commit();
  const std::string& path() const { return path_; }

 private:
  OutputFile(std::string path, std::string temp_path, int fd, OutputFileOptions options)
      : path_(std::move(path)), temp_path_(std::move(temp_path)), fd_(fd), options_(options) {}
  const std::string path_;
  const std::string temp_path_;
  int fd_;
  const OutputFileOptions options_;
  bool committed_ = false;
};

// Create, Write and Commit in one.
absl::Status WriteOutputFile(const std::string& path, absl::string_view contents,
                             OutputFileOptions options = {});

// `--port-file`: "<port>\n", mode 0644 (a supervisor may read it as another user), published
// whole, so a reader polling for it never sees half a number.
absl::Status WritePortFile(const std::string& path, int port);

// For large outputs streamed straight into a directory made for them (a generated extract,
// a reject list useful even if its import fails): creates `path` in place, O_EXCL|O_NOFOLLOW,
// with `mode` whatever the umask; ALREADY_EXISTS naming it if anything is there. Returns the
// descriptor, which the caller closes.
absl::StatusOr<int> CreateNewFile(const std::string& path, mode_t mode);

// For results that accumulate across runs (`bench load --json`): appends `contents` in one
// write, creating the file with `mode` if missing; never through a symlink.
absl::Status AppendToOutputFile(const std::string& path, absl::string_view contents, mode_t mode);

}  // namespace onceonly

#endif  // ONCEONLY_COMMON_OUTPUT_FILE_H_
