#include "common/enterprise_number.h"

#include <cctype>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/utf8.h"

namespace onceonly {
namespace {

// Refusals travel in google.rpc.BadRequest (a proto3 string, which must be UTF-8) and in
// gRPC trailers (a few KiB): they quote at most this much of what was sent.
constexpr size_t kQuotedBytes = 40;

// The input as a refusal quotes it: cut on a character boundary, and C-escaped if it is
// not UTF-8.
std::string Quoted(absl::string_view input) {
  if (InvalidUtf8Offset(input) != absl::string_view::npos) {
    return absl::StrCat(absl::CEscape(input.substr(0, kQuotedBytes)),
                        input.size() > kQuotedBytes ? "..." : "");
  }
  if (input.size() <= kQuotedBytes) return std::string(input);
  size_t cut = kQuotedBytes;
  while (cut > 0 && (static_cast<unsigned char>(input[cut]) & 0xc0) == 0x80) --cut;
  return absl::StrCat(input.substr(0, cut), "...");
}

// The character at the start of `s`, as a refusal names it: 'x' for printable ASCII, the whole
// character for a valid UTF-8 sequence, the byte in hex otherwise.
std::string CharacterAt(absl::string_view s) {
  const unsigned char lead = static_cast<unsigned char>(s[0]);
  if (lead >= 0x20 && lead < 0x7f) return absl::StrCat("'", s.substr(0, 1), "'");
  const absl::string_view sequence = s.substr(0, Utf8SequenceLength(lead));
  if (lead >= 0x80 && sequence.size() > 1 &&
      InvalidUtf8Offset(sequence) == absl::string_view::npos) {
    return absl::StrCat("'", sequence, "'");
  }
  return absl::StrFormat("byte 0x%02x", lead);
}

// Strips an optional "BE" prefix and the separators people type (dots, spaces, dashes);
// anything else is an error naming the offending character.
absl::StatusOr<std::string> NormaliseDigits(absl::string_view input, absl::string_view what) {
  absl::string_view s = absl::StripAsciiWhitespace(input);
  if (s.empty()) return absl::InvalidArgumentError(absl::StrCat(what, " is empty"));
  if (s.size() >= 2 && absl::ascii_toupper(s[0]) == 'B' && absl::ascii_toupper(s[1]) == 'E') {
    s.remove_prefix(2);
  }
  std::string digits;
  for (size_t i = 0; i < s.size(); ++i) {
    const char c = s[i];
    if (absl::ascii_isdigit(static_cast<unsigned char>(c))) {
      digits.push_back(c);
    } else if (c != '.' && c != ' ' && c != '-') {
      return absl::InvalidArgumentError(
          absl::StrFormat("%s \"%s\" contains %s; use digits, optionally with dots and a BE prefix",
                          what, Quoted(input), CharacterAt(s.substr(i))));
    }
  }
  return digits;
}

absl::Status CheckMod97(const std::string& digits, absl::string_view input,
                        absl::string_view what) {
  long long first_eight = 0;
  for (int i = 0; i < 8; ++i) first_eight = first_eight * 10 + (digits[i] - '0');
  int expected = EnterpriseCheckDigits(first_eight);
  int actual = (digits[8] - '0') * 10 + (digits[9] - '0');
  if (expected != actual) {
    return absl::InvalidArgumentError(
        absl::StrFormat("%s \"%s\" fails the mod-97 check: check digits are %02d, expected %02d",
                        what, Quoted(input), actual, expected));
  }
  return absl::OkStatus();
}

}  // namespace

int EnterpriseCheckDigits(long long first_eight_digits) {
  return 97 - static_cast<int>(first_eight_digits % 97);
}

std::string DigitsOnly(absl::string_view number) {
  std::string out;
  for (char c : number) {
    if (absl::ascii_isdigit(static_cast<unsigned char>(c))) out.push_back(c);
  }
  return out;
}

absl::StatusOr<std::string> CanonicalEnterpriseNumber(absl::string_view input) {
  constexpr absl::string_view kWhat = "enterprise number";
  absl::StatusOr<std::string> digits = NormaliseDigits(input, kWhat);
  if (!digits.ok()) return digits.status();
  std::string d = *std::move(digits);
  if (d.size() == 9) d = "0" + d;  // old 9-digit form, leading 0 implied
  if (d.size() != 10) {
    return absl::InvalidArgumentError(
        absl::StrFormat("%s \"%s\" has %d digits; expected 10 (or the old 9-digit form)", kWhat,
                        Quoted(input), d.size()));
  }
  if (d[0] != '0' && d[0] != '1') {
    return absl::InvalidArgumentError(
        absl::StrFormat("%s \"%s\" starts with %c; enterprise numbers start with 0 or 1", kWhat,
                        Quoted(input), d[0]));
  }
  absl::Status check = CheckMod97(d, input, kWhat);
  if (!check.ok()) return check;
  return absl::StrCat(d.substr(0, 4), ".", d.substr(4, 3), ".", d.substr(7, 3));
}

absl::StatusOr<std::string> CanonicalEstablishmentNumber(absl::string_view input) {
  constexpr absl::string_view kWhat = "establishment unit number";
  absl::StatusOr<std::string> digits = NormaliseDigits(input, kWhat);
  if (!digits.ok()) return digits.status();
  const std::string& d = *digits;
  if (d.size() != 10) {
    return absl::InvalidArgumentError(
        absl::StrFormat("%s \"%s\" has %d digits; expected 10", kWhat, Quoted(input), d.size()));
  }
  if (d[0] < '2' || d[0] > '8') {
    return absl::InvalidArgumentError(
        absl::StrFormat("%s \"%s\" starts with %c; establishment unit numbers start with 2 to 8",
                        kWhat, Quoted(input), d[0]));
  }
  absl::Status check = CheckMod97(d, input, kWhat);
  if (!check.ok()) return check;
  return absl::StrCat(d.substr(0, 1), ".", d.substr(1, 3), ".", d.substr(4, 3), ".",
                      d.substr(7, 3));
}

}  // namespace onceonly
