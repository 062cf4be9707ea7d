#include "common/utf8.h"

#include <string>

#include "gtest/gtest.h"

namespace onceonly {
namespace {

constexpr size_t kValid = absl::string_view::npos;

TEST(Utf8Test, AcceptsWellFormedText) {
  EXPECT_EQ(InvalidUtf8Offset(""), kValid);
  EXPECT_EQ(InvalidUtf8Offset("Peinture François SRL"), kValid);
  EXPECT_EQ(InvalidUtf8Offset("\xc3\x89lectricit\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80"), kValid);
  EXPECT_EQ(InvalidUtf8Offset("\xf4\x8f\xbf\xbf"), kValid);  // U+10FFFF
  EXPECT_EQ(InvalidUtf8Offset(std::string(100, 'a') + "\xc3\xa9"), kValid);
}

TEST(Utf8Test, NamesTheFirstBadByte) {
  EXPECT_EQ(InvalidUtf8Offset("\xc3.\x89.L.E."), 0u);             // a character cut in two
  EXPECT_EQ(InvalidUtf8Offset("Fran\xe7ois"), 4u);                // Latin-1
  EXPECT_EQ(InvalidUtf8Offset("abcdefghij\xc3"), 10u);            // truncated at the end
  EXPECT_EQ(InvalidUtf8Offset("\xc0\xaf"), 0u);                   // overlong '/'
  EXPECT_EQ(InvalidUtf8Offset("\xe0\x80\xaf"), 0u);               // overlong, 3 bytes
  EXPECT_EQ(InvalidUtf8Offset("ok\xed\xa0\x80"), 2u);             // a surrogate
  EXPECT_EQ(InvalidUtf8Offset("\xf4\x90\x80\x80"), 0u);           // past U+10FFFF
  EXPECT_EQ(InvalidUtf8Offset("\x80"), 0u);                       // a lone continuation
  EXPECT_EQ(InvalidUtf8Offset("\xe2\x82x"), 0u);                  // a bad third byte
}

TEST(Utf8Test, SequenceLengthFollowsTheLeadByte) {
  EXPECT_EQ(Utf8SequenceLength('A'), 1u);
  EXPECT_EQ(Utf8SequenceLength(0xc3), 2u);
  EXPECT_EQ(Utf8SequenceLength(0xe2), 3u);
  EXPECT_EQ(Utf8SequenceLength(0xf0), 4u);
  EXPECT_EQ(Utf8SequenceLength(0x89), 1u);
}

}  // namespace
}  // namespace onceonly
