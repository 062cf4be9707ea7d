#include "common/output_file.h"

#include <dirent.h>
#include <unistd.h>

#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "common/testing/file_mode.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace onceonly {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::UnorderedElementsAre;

std::string Read(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

void Write(const std::string& path, const std::string& text) {
  std::ofstream(path, std::ios::binary) << text;
}

std::vector<std::string> Names(const std::string& dir) {
  std::vector<std::string> names;
  DIR* d = ::opendir(dir.c_str());
  while (dirent* e = d != nullptr ? ::readdir(d) : nullptr) {
    const std::string name = e->d_name;
    if (name != "." && name != "..") names.push_back(name);
  }
  if (d != nullptr) ::closedir(d);
  return names;
}

OutputFileOptions WithMode(mode_t mode) {
  OutputFileOptions options;
  options.mode = mode;
  return options;
}

OutputFileOptions Replacing() {
  OutputFileOptions options;
  options.if_exists = IfExists::kReplace;
  return options;
}

TEST(OutputFileTest, GetsExactlyItsModeWhateverTheUmask) {
  const std::string dir = FreshTempDir("output-mode");
  {
    ScopedUmask open_to_all(0);
    ASSERT_TRUE(WriteOutputFile(dir + "/export.jsonl", "{}\n").ok());
    ASSERT_TRUE(WriteOutputFile(dir + "/port", "8443\n", WithMode(0644)).ok());
  }
  {
    ScopedUmask closed_to_owner(0277);  // would leave the owner unable to write
    ASSERT_TRUE(WriteOutputFile(dir + "/receipt.json", "{}").ok());
  }
  EXPECT_EQ(FileMode(dir + "/export.jsonl"), 0600);
  EXPECT_EQ(FileMode(dir + "/port"), 0644);
  EXPECT_EQ(FileMode(dir + "/receipt.json"), 0600);
  EXPECT_EQ(Read(dir + "/export.jsonl"), "{}\n");
}

TEST(OutputFileTest, AnExistingFileIsRefusedAndKept) {
  const std::string dir = FreshTempDir("output-exists");
  const std::string path = dir + "/checkpoint.json";
  Write(path, "the auditor's checkpoint");
  absl::Status status = WriteOutputFile(path, "another");
  EXPECT_EQ(status.code(), absl::StatusCode::kAlreadyExists);
  EXPECT_THAT(status.message(), HasSubstr(path));
  EXPECT_THAT(status.message(), HasSubstr("remove it, or give another name"));
  EXPECT_EQ(Read(path), "the auditor's checkpoint");
  EXPECT_THAT(Names(dir), ElementsAre("checkpoint.json"));  // no temporary left behind
}

TEST(OutputFileTest, ASymlinkAtThePathIsNotFollowed) {
  const std::string dir = FreshTempDir("output-symlink");
  const std::string victim = dir + "/victim";
  Write(victim, "keep me");
  ASSERT_EQ(::symlink(victim.c_str(), (dir + "/export.jsonl").c_str()), 0);
  ASSERT_EQ(::symlink((dir + "/created-through-link").c_str(), (dir + "/dangling").c_str()), 0);

  EXPECT_EQ(WriteOutputFile(dir + "/export.jsonl", "log").code(), absl::StatusCode::kAlreadyExists);
  EXPECT_EQ(WriteOutputFile(dir + "/dangling", "log").code(), absl::StatusCode::kAlreadyExists);
  EXPECT_EQ(Read(victim), "keep me");
  EXPECT_EQ(FileMode(dir + "/created-through-link"), -1);
  EXPECT_THAT(Names(dir), UnorderedElementsAre("victim", "export.jsonl", "dangling"));
}

TEST(OutputFileTest, AFileCreatedMeanwhileIsNotReplacedAtCommit) {
  const std::string dir = FreshTempDir("output-race");
  const std::string path = dir + "/export.jsonl";
  auto file = OutputFile::Create(path);
  ASSERT_TRUE(file.ok()) << file.status();
  ASSERT_TRUE((*file)->Write("half an export").ok());
  EXPECT_EQ(FileMode(path), -1) << "nothing at the name before Commit";
  Write(path, "someone else's");
  absl::Status committed = (*file)->Commit();
  EXPECT_EQ(committed.code(), absl::StatusCode::kAlreadyExists) << committed;
  EXPECT_EQ(Read(path), "someone else's");
  file->reset();
  EXPECT_THAT(Names(dir), ElementsAre("export.jsonl"));
}

TEST(OutputFileTest, AFileNotCommittedLeavesNothing) {
  const std::string dir = FreshTempDir("output-abandoned");
  {
    auto file = OutputFile::Create(dir + "/export.jsonl");
    ASSERT_TRUE(file.ok()) << file.status();
    ASSERT_TRUE((*file)->Write("entries until the gateway refused").ok());
  }
  EXPECT_THAT(Names(dir), ElementsAre());
}

TEST(OutputFileTest, ReplaceRewritesTheFileNotWhatALinkPointsTo) {
  const std::string dir = FreshTempDir("output-replace");
  Write(dir + "/crl.pem", "old CRL");
  ASSERT_TRUE(WriteOutputFile(dir + "/crl.pem", "new CRL", Replacing()).ok());
  EXPECT_EQ(Read(dir + "/crl.pem"), "new CRL");

  Write(dir + "/victim", "keep me");
  ASSERT_EQ(::symlink((dir + "/victim").c_str(), (dir + "/linked.pem").c_str()), 0);
  ASSERT_TRUE(WriteOutputFile(dir + "/linked.pem", "new", Replacing()).ok());
  EXPECT_EQ(Read(dir + "/victim"), "keep me");
  EXPECT_EQ(Read(dir + "/linked.pem"), "new");
  EXPECT_EQ(FileMode(dir + "/linked.pem"), 0600);  // a file now, not the link
}

TEST(OutputFileTest, CheckOutputPathFreeNamesWhatIsThere) {
  const std::string dir = FreshTempDir("output-check");
  EXPECT_TRUE(CheckOutputPathFree(dir + "/new").ok());
  ASSERT_EQ(::symlink("/nonexistent", (dir + "/dangling").c_str()), 0);
  absl::Status status = CheckOutputPathFree(dir + "/dangling");
  EXPECT_EQ(status.code(), absl::StatusCode::kAlreadyExists);
  EXPECT_THAT(status.message(), HasSubstr(dir + "/dangling"));
  EXPECT_EQ(CheckOutputPathFree(dir).code(), absl::StatusCode::kAlreadyExists);
}

TEST(OutputFileTest, CreateNewFileRefusesWhatIsThereAndKeepsItsMode) {
  const std::string dir = FreshTempDir("output-new");
  {
    ScopedUmask open_to_all(0);
    absl::StatusOr<int> fd = CreateNewFile(dir + "/enterprise.csv", 0644);
    ASSERT_TRUE(fd.ok()) << fd.status();
    ::close(*fd);
  }
  EXPECT_EQ(FileMode(dir + "/enterprise.csv"), 0644);
  EXPECT_EQ(CreateNewFile(dir + "/enterprise.csv", 0644).status().code(),
            absl::StatusCode::kAlreadyExists);
  Write(dir + "/victim", "keep me");
  ASSERT_EQ(::symlink((dir + "/victim").c_str(), (dir + "/rejects.txt").c_str()), 0);
  EXPECT_EQ(CreateNewFile(dir + "/rejects.txt", 0600).status().code(),
            absl::StatusCode::kAlreadyExists);
  EXPECT_EQ(Read(dir + "/victim"), "keep me");
}

TEST(OutputFileTest, AppendCreatesWithItsModeThenAppends) {
  const std::string dir = FreshTempDir("output-append");
  const std::string path = dir + "/results.jsonl";
  {
    ScopedUmask open_to_all(0);
    ASSERT_TRUE(AppendToOutputFile(path, "{\"run\":1}\n", 0644).ok());
  }
  ASSERT_TRUE(AppendToOutputFile(path, "{\"run\":2}\n", 0644).ok());
  EXPECT_EQ(Read(path), "{\"run\":1}\n{\"run\":2}\n");
  EXPECT_EQ(FileMode(path), 0644);
}

TEST(OutputFileTest, AppendRefusesASymlink) {
  const std::string dir = FreshTempDir("output-append-link");
  Write(dir + "/victim", "keep me");
  ASSERT_EQ(::symlink((dir + "/victim").c_str(), (dir + "/results.jsonl").c_str()), 0);
  absl::Status status = AppendToOutputFile(dir + "/results.jsonl", "{}\n", 0644);
  EXPECT_EQ(status.code(), absl::StatusCode::kFailedPrecondition) << status;
  EXPECT_THAT(status.message(), HasSubstr("symbolic link"));
  EXPECT_EQ(Read(dir + "/victim"), "keep me");
}

}  // namespace
}  // namespace onceonly
