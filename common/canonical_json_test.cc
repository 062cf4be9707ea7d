#include "common/canonical_json.h"

#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace onceonly {
namespace {

using ::testing::HasSubstr;

std::string Canonical(absl::string_view json) {
  absl::StatusOr<JsonValue> value = ParseJson(json);
  EXPECT_TRUE(value.ok()) << value.status();
  if (!value.ok()) return "";
  absl::StatusOr<std::string> text = CanonicalJson(*value);
  EXPECT_TRUE(text.ok()) << text.status();
  return text.ok() ? *text : "";
}

// RFC 8785 section 3.2.3: names sort by UTF-16 code units, so the emoji (D83D DE00) comes
// before U+FB33 although its code point is larger.
TEST(CanonicalJsonTest, SortsNamesByUtf16CodeUnitsAsRfc8785Shows) {
  const std::string input = R"({
    "\u20ac": "Euro Sign",
    "\r": "Carriage Return",
    "\ufb33": "Hebrew Letter Dalet With Dagesh",
    "1": "One",
    "\ud83d\ude00": "Emoji: Grinning Face",
    "\u0080": "Control",
    "\u00f6": "Latin Small Letter O With Diaeresis"
  })";
  EXPECT_EQ(Canonical(input),
            "{\"\\r\":\"Carriage Return\",\"1\":\"One\",\"\xc2\x80\":\"Control\","
            "\"\xc3\xb6\":\"Latin Small Letter O With Diaeresis\",\"\xe2\x82\xac\":\"Euro Sign\","
            "\"\xf0\x9f\x98\x80\":\"Emoji: Grinning Face\","
            "\"\xef\xac\xb3\":\"Hebrew Letter Dalet With Dagesh\"}");
}

// RFC 8785 section 3.2.2.2's string, and its literals.
TEST(CanonicalJsonTest, EscapesStringsAsRfc8785Shows) {
  EXPECT_EQ(Canonical(R"({"string": "\u20ac$\u000F\u000aA'\u0042\u0022\u005c\\\"\/",)"
                      R"( "literals": [null, true, false]})"),
            "{\"literals\":[null,true,false],"
            "\"string\":\"\xe2\x82\xac$\\u000f\\nA'B\\\"\\\\\\\\\\\"/\"}");
  EXPECT_EQ(Canonical(R"(["\b\t\n\f\r", "\u0000\u001f\u007f", "\u2028"])"),
            "[\"\\b\\t\\n\\f\\r\",\"\\u0000\\u001f\x7f\",\"\xe2\x80\xa8\"]");
}

TEST(CanonicalJsonTest, BuiltValuesAreWrittenCanonically) {
  JsonValue receipt = JsonValue::Object();
  receipt.Set("state", JsonValue::String("given"))
      .Set("data_categories", JsonValue::Array()
                                  .Append(JsonValue::String("tax.good_standing"))
                                  .Append(JsonValue::String("company.identity")))
      .Set("controllers", JsonValue::Array().Append(JsonValue::Object().Set(
                              "name", JsonValue::String("Économie \"Brussels\"\n"))));
  absl::StatusOr<std::string> text = CanonicalJson(receipt);
  ASSERT_TRUE(text.ok()) << text.status();
  EXPECT_EQ(*text,
            "{\"controllers\":[{\"name\":\"\xc3\x89"
            "conomie \\\"Brussels\\\"\\n\"}],"
            "\"data_categories\":[\"tax.good_standing\",\"company.identity\"],"
            "\"state\":\"given\"}");
  EXPECT_TRUE(ParseCanonicalJson(*text).ok());
}

TEST(CanonicalJsonTest, WhatIsNotItsOwnCanonicalFormIsNamed) {
  EXPECT_TRUE(ParseCanonicalJson(R"({"a":"x","b":["y"]})").ok());
  for (const char* not_canonical : {
           R"({"b":"x","a":"y"})",  // members out of order
           R"({"a": "x"})",         // whitespace
           "{\"a\":\"x\"}\n",       // a trailing newline
           R"({"a":"\/"})",         // an escape JCS does not write
           R"({"a":"\u000F"})",     // upper-case hex
           R"({"a":"\u00e9"})",     // an escaped character JCS writes as UTF-8
           R"({"a":"\u0009"})",     // \u where JCS writes \t
       }) {
    absl::Status status = ParseCanonicalJson(not_canonical).status();
    EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << not_canonical;
    EXPECT_THAT(status.message(), HasSubstr("not RFC 8785 canonical JSON")) << not_canonical;
  }
  EXPECT_THAT(ParseCanonicalJson(R"({"b":"x","a":"y"})").status().message(), HasSubstr("byte 2 "));
}

TEST(CanonicalJsonTest, RefusesWhatIJsonForbidsAndWhatItDoesNotSupport) {
  const struct {
    std::string json;
    std::string why;
  } kRefused[] = {
      {R"({"a":"x","a":"y"})", "the member \"a\" is given twice"},
      {R"(["\ud83d"])", "a lone high surrogate"},
      {R"(["\ud83d\u0041"])", "a lone high surrogate"},
      {R"(["\ude00"])", "a lone low surrogate"},
      {"[\"\xc3\x28\"]", "not UTF-8"},
      {"[\"\xed\xa0\x80\"]", "not UTF-8"},  // a surrogate written as UTF-8
      {R"({"version":1})", "numbers are not supported"},
      {R"(["a"] ["b"])", "text after the JSON value"},
      {"[\"a\nb\"]", "a control character must be escaped"},
      {R"(["\x41"])", "an unknown escape"},
      {R"(["\u00g0"])", "four hex digits"},
      {R"({"a" "x"})", "':' expected"},
      {R"({"a":"x",})", "a member name is expected"},
      {R"(["a",])", "unexpected character"},
      {R"(["a")", "the array is not closed"},
      {R"(["a)", "the string is not closed"},
      {"", "a value is missing"},
      {"nul", "unexpected character"},
      {std::string(kMaxJsonDepth + 1, '[') + std::string(kMaxJsonDepth + 1, ']'), "too deep"},
  };
  for (const auto& refused : kRefused) {
    absl::StatusOr<JsonValue> value = ParseJson(refused.json);
    ASSERT_FALSE(value.ok()) << refused.json;
    EXPECT_EQ(value.status().code(), absl::StatusCode::kInvalidArgument) << refused.json;
    EXPECT_THAT(value.status().message(), HasSubstr(refused.why)) << refused.json;
  }
  EXPECT_TRUE(ParseJson(std::string(kMaxJsonDepth, '[') + std::string(kMaxJsonDepth, ']')).ok());
}

TEST(CanonicalJsonTest, RefusesToWriteWhatIsNotJson) {
  EXPECT_EQ(CanonicalJson(JsonValue::String("Fran\xe7ois")).status().code(),
            absl::StatusCode::kInvalidArgument);
  JsonValue twice = JsonValue::Object();
  twice.Set("a", JsonValue()).Set("a", JsonValue::Bool(true));
  EXPECT_THAT(CanonicalJson(twice).status().message(), HasSubstr("given twice"));
}

}  // namespace
}  // namespace onceonly
