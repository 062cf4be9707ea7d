#include "common/utf8.h"

#include <string>

#include "absl/strings/escaping.h"
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

TEST(Utf8Test, BoundedUtf8KeepsGoodShortTextAsItIs) {
  EXPECT_EQ(BoundedUtf8("Cap Horizons ASBL", 64), "Cap Horizons ASBL");
  EXPECT_EQ(BoundedUtf8("\xc3\x89lectricit\xc3\xa9", 64), "\xc3\x89lectricit\xc3\xa9");
  EXPECT_EQ(BoundedUtf8("", 0), "");
}

TEST(Utf8Test, BoundedUtf8CutsOnlyBetweenCharacters) {
  // The case: 63 'A' then an e-acute, cut at 64 bytes. Cutting bytes would leave a
  // lone 0xc3, which protobuf refuses to parse; the character goes whole or not at all.
  const std::string hostile = std::string(63, 'A') + "\xc3\xa9";
  EXPECT_EQ(BoundedUtf8(hostile, 64), std::string(63, 'A'));
  EXPECT_EQ(BoundedUtf8(hostile, 65), hostile);
  EXPECT_EQ(BoundedUtf8("\xf0\x9f\x98\x80\xf0\x9f\x98\x80", 7), "\xf0\x9f\x98\x80");
  EXPECT_EQ(BoundedUtf8("\xe2\x82\xac", 2), "");
}

TEST(Utf8Test, BoundedUtf8ReplacesEveryBadByte) {
  EXPECT_EQ(BoundedUtf8("Fran\xe7ois", 64), "Fran\xef\xbf\xbdois");
  EXPECT_EQ(BoundedUtf8("\xc0\xaf", 64), "\xef\xbf\xbd\xef\xbf\xbd");
  EXPECT_EQ(BoundedUtf8("ok\xed\xa0\x80", 64), "ok\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd");
  // A replacement that does not fit whole is left out too.
  EXPECT_EQ(BoundedUtf8("ab\xff", 4), "ab");
}

TEST(Utf8Test, BoundedUtf8AlwaysGivesWellFormedTextWithinTheBound) {
  // Every byte string of up to three bytes over an alphabet of lead, continuation and ASCII
  // bytes, at every bound.
  const std::string alphabet = {'a', '\x80', '\xbf', '\xc2', '\xc3', '\xe2', '\xed',
                                '\xf0', '\xf4', '\xff', '\0'};
  for (char a : alphabet) {
    for (char b : alphabet) {
      for (char c : alphabet) {
        const std::string text = {a, b, c};
        for (size_t bound = 0; bound <= 10; ++bound) {
          const std::string out = BoundedUtf8(text, bound);
          EXPECT_LE(out.size(), bound);
          EXPECT_EQ(InvalidUtf8Offset(out), kValid) << absl::CEscape(text) << " " << bound;
        }
      }
    }
  }
}

TEST(Utf8Test, PrintableAsciiRefusesControlsAndHighBytes) {
  EXPECT_TRUE(IsPrintableAscii("case 2026/17 ~ ok"));
  EXPECT_TRUE(IsPrintableAscii(""));
  EXPECT_FALSE(IsPrintableAscii("a\r\nmember: audit-office"));
  EXPECT_FALSE(IsPrintableAscii(std::string("a\0b", 3)));
  EXPECT_FALSE(IsPrintableAscii("\x7f"));
  EXPECT_FALSE(IsPrintableAscii("caf\xc3\xa9"));
  EXPECT_FALSE(IsPrintableAscii("tab\there"));
}

TEST(Utf8Test, EscapeControlsLeavesNoLineToForge) {
  EXPECT_EQ(EscapeControls("CASE-1\r\n  member:             audit-office"),
            "CASE-1\\x0d\\x0a  member:             audit-office");
  EXPECT_EQ(EscapeControls(std::string("a\0b\x7f", 4)), "a\\x00b\\x7f");
  EXPECT_EQ(EscapeControls("Cap Horizons \xc3\xa9"), "Cap Horizons \xc3\xa9");
}

}  // namespace
}  // namespace onceonly
