#include "common/output_file.h"

#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>

#include "absl/strings/str_cat.h"

namespace onceonly {
namespace {

// Temporaries beside the file, told apart by process and by a counter within it.
constexpr int kTemporaryNameAttempts = 100;
std::atomic<uint64_t> next_temporary{0};

absl::Status OsError(absl::string_view what, const std::string& path, int error) {
  std::string message = absl::StrCat("cannot ", what, " ", path, ": ", std::strerror(error));
  switch (error) {
    case ENOENT:
      return absl::NotFoundError(message);
    case EACCES:
    case EPERM:
      return absl::PermissionDeniedError(message);
    default:
      return absl::UnavailableError(message);
  }
}

absl::Status AlreadyThere(const std::string& path) {
  return absl::AlreadyExistsError(
      absl::StrCat(path,
                   " already exists; onceonly does not overwrite files: remove it, or give another "
                   "name"));
}

absl::Status WriteAll(int fd, absl::string_view bytes, const std::string& path) {
  while (!bytes.empty()) {
    const ssize_t n = ::write(fd, bytes.data(), bytes.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return OsError("write", path, errno);
    bytes.remove_prefix(static_cast<size_t>(n));
  }
  return absl::OkStatus();
}

// Gives `temp` the name `path` unless something is there: link() never replaces and never
// follows a symlink at its target; renameat2(RENAME_NOREPLACE) is for file systems without
// hard links.
absl::Status PublishWithoutReplacing(const std::string& temp, const std::string& path) {
  if (::link(temp.c_str(), path.c_str()) == 0) {
    ::unlink(temp.c_str());
    return absl::OkStatus();
  }
  if (errno == EEXIST) return AlreadyThere(path);
  if (::renameat2(AT_FDCWD, temp.c_str(), AT_FDCWD, path.c_str(), RENAME_NOREPLACE) == 0) {
    return absl::OkStatus();
  }
  if (errno == EEXIST) return AlreadyThere(path);
  return OsError("create", path, errno);
}

}  // namespace

absl::Status CheckOutputPathFree(const std::string& path) {
  struct stat st;
  if (::lstat(path.c_str(), &st) == 0) return AlreadyThere(path);
  if (errno != ENOENT) return OsError("check", path, errno);
  return absl::OkStatus();
}

absl::StatusOr<int> CreateNewFile(const std::string& path, mode_t mode) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode);
  if (fd < 0 && errno == EEXIST) return AlreadyThere(path);
  if (fd < 0) return OsError("create", path, errno);
  // open() applied the umask; the mode asked for is the mode given.
  if (::fchmod(fd, mode) != 0) {
    const int error = errno;
    ::close(fd);
    ::unlink(path.c_str());
    return OsError("set the mode of", path, error);
  }
  return fd;
}

absl::StatusOr<std::unique_ptr<OutputFile>> OutputFile::Create(const std::string& path,
                                                               OutputFileOptions options) {
  if (path.empty()) return absl::InvalidArgumentError("an output file needs a name");
  if (options.if_exists == IfExists::kRefuse) {
    if (absl::Status free = CheckOutputPathFree(path); !free.ok()) return free;
  }
  for (int attempt = 0; attempt < kTemporaryNameAttempts; ++attempt) {
    std::string temp = absl::StrCat(path, ".partial-", ::getpid(), "-", next_temporary++);
    absl::StatusOr<int> fd = CreateNewFile(temp, options.mode);
    // Taken: left by a process that had our pid, or planted.
    if (fd.status().code() == absl::StatusCode::kAlreadyExists) continue;
    if (!fd.ok()) return fd.status();
    return std::unique_ptr<OutputFile>(new OutputFile(path, std::move(temp), *fd, options));
  }
  return absl::UnavailableError(absl::StrCat("cannot create a temporary file beside ", path,
                                             ": too many leftover ", path, ".partial-* files"));
}

OutputFile::~OutputFile() {
  if (fd_ >= 0) ::close(fd_);
  if (!committed_) ::unlink(temp_path_.c_str());
}

absl::Status OutputFile::Write(absl::string_view bytes) {
  if (fd_ < 0) return absl::FailedPreconditionError(absl::StrCat(path_, " is already closed"));
  return WriteAll(fd_, bytes, temp_path_);
}

absl::Status OutputFile::Commit() {
  if (fd_ < 0) return absl::FailedPreconditionError(absl::StrCat(path_, " is already closed"));
  absl::Status status;
  if (::fsync(fd_) != 0) status = OsError("sync", temp_path_, errno);
  if (::close(fd_) != 0 && status.ok()) status = OsError("close", temp_path_, errno);
  fd_ = -1;
  if (!status.ok()) return status;
  if (options_.if_exists == IfExists::kReplace) {
    // rename() replaces a symlink at `path_` itself, never what it points to.
    if (::rename(temp_path_.c_str(), path_.c_str()) != 0) {
      return OsError("rename to", path_, errno);
    }
  } else if (absl::Status published = PublishWithoutReplacing(temp_path_, path_); !published.ok()) {
    return published;
  }
  committed_ = true;
  return absl::OkStatus();
}

absl::Status WriteOutputFile(const std::string& path, absl::string_view contents,
                             OutputFileOptions options) {
  absl::StatusOr<std::unique_ptr<OutputFile>> file = OutputFile::Create(path, options);
  if (!file.ok()) return file.status();
  if (absl::Status written = (*file)->Write(contents); !written.ok()) return written;
  return (*file)->Commit();
}

absl::Status WritePortFile(const std::string& path, int port) {
  OutputFileOptions options;
  options.mode = 0644;
  return WriteOutputFile(path, absl::StrCat(port, "\n"), options);
}

absl::Status AppendToOutputFile(const std::string& path, absl::string_view contents, mode_t mode) {
  int fd =
      ::open(path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode);
  if (fd >= 0 && ::fchmod(fd, mode) != 0) {
    const int error = errno;
    ::close(fd);
    return OsError("set the mode of", path, error);
  }
  if (fd < 0 && errno == EEXIST) {
    // O_NONBLOCK: a FIFO planted at the path fails here instead of blocking the writer.
    fd = ::open(path.c_str(), O_WRONLY | O_APPEND | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
    struct stat st;
    if (fd >= 0 && (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode))) {
      ::close(fd);
      return absl::FailedPreconditionError(
          absl::StrCat(path, " is not a regular file; give the path of a file to append to"));
    }
  }
  if (fd < 0) {
    if (errno == ELOOP) {
      return absl::FailedPreconditionError(
          absl::StrCat(path, " is a symbolic link; give the path of the file itself"));
    }
    return OsError("open", path, errno);
  }
  absl::Status status = WriteAll(fd, contents, path);
  if (::close(fd) != 0 && status.ok()) status = OsError("close", path, errno);
  return status;
}

}  // namespace onceonly
