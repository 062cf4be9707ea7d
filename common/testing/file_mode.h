// For tests of who may read the files the binaries create: a umask for one scope, the mode
// a file got, and a fresh directory to create files in.
#ifndef ONCEONLY_COMMON_TESTING_FILE_MODE_H_
#define ONCEONLY_COMMON_TESTING_FILE_MODE_H_

#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <string>

#include "gtest/gtest.h"

namespace onceonly {

// umask is per process: gtest runs tests one at a time, ctest each in its own process.
class ScopedUmask {
 public:
  explicit ScopedUmask(mode_t mask) : previous_(::umask(mask)) {}
  ~ScopedUmask() { ::umask(previous_); }
  ScopedUmask(const ScopedUmask&) = delete;
  ScopedUmask& operator=(const ScopedUmask&) = delete;

 private:
  const mode_t previous_;
};

// The permission bits of `path` itself (a symlink is not followed); -1 if nothing is there.
inline int FileMode(const std::string& path) {
  struct stat st;
  if (::lstat(path.c_str(), &st) != 0) return -1;
  return static_cast<int>(st.st_mode & 07777);
}

// A new empty directory under the test's temporary directory.
inline std::string FreshTempDir(const std::string& name) {
  std::string pattern = ::testing::TempDir() + "/" + name + "-XXXXXX";
  if (::mkdtemp(pattern.data()) == nullptr) ADD_FAILURE() << "mkdtemp " << pattern;
  return pattern;
}

}  // namespace onceonly

#endif  // ONCEONLY_COMMON_TESTING_FILE_MODE_H_
