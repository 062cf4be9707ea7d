// A fuzz input as a real file for code that only opens paths: a memory file (memfd), named
// by its /proc/self/fd path, so that no input touches the disk.
#ifndef ONCEONLY_FUZZ_MEMORY_FILE_H_
#define ONCEONLY_FUZZ_MEMORY_FILE_H_

#include <sys/mman.h>
#include <unistd.h>

#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "fuzz/property.h"

namespace onceonly {

class MemoryFile {
 public:
  explicit MemoryFile(absl::string_view contents) : fd_(memfd_create("onceonly_fuzz", 0)) {
    if (fd_ < 0) PropertyViolated("the fuzzer can make a memory file", "memfd_create failed");
    for (size_t done = 0; done < contents.size();) {
      const ssize_t n = write(fd_, contents.data() + done, contents.size() - done);
      if (n <= 0) PropertyViolated("the fuzzer can write its memory file", "write failed");
      done += static_cast<size_t>(n);
    }
  }
  ~MemoryFile() { close(fd_); }
  MemoryFile(const MemoryFile&) = delete;
  MemoryFile& operator=(const MemoryFile&) = delete;

  // Opening it reads from the start.
  std::string path() const { return absl::StrCat("/proc/self/fd/", fd_); }

 private:
  const int fd_;
};

}  // namespace onceonly

#endif  // ONCEONLY_FUZZ_MEMORY_FILE_H_
