// Fuzzes the enterprise and establishment number parsers (common/enterprise_number.h) with
// the bytes of a GetDossier enterprise_number, a CSV field or a command-line argument.
// Beyond "no crash", it checks what callers rely on: an accepted number's canonical form is
// dotted, passes mod-97 and parses back to itself; a refusal is INVALID_ARGUMENT with a short,
// valid UTF-8 message (it travels in a google.rpc.BadRequest, a proto3 string).
#include <cstddef>
#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "common/enterprise_number.h"
#include "common/utf8.h"
#include "fuzz/property.h"

namespace onceonly {
namespace {

// Refusals quote the input; this much is plenty to recognise it and fits any gRPC trailer.
constexpr size_t kMaxMessageBytes = 512;

[[noreturn]] void Violated(absl::string_view input, absl::string_view property,
                           absl::string_view detail) {
  PropertyViolated(property, absl::StrCat(detail, "\n  input: \"", absl::CHexEscape(input), "\""));
}

// "dddd.ddd.ddd" (enterprise) or "d.ddd.ddd.ddd" (establishment): digits where the pattern
// has 'd', dots where it has '.'.
bool HasShape(absl::string_view number, absl::string_view pattern) {
  if (number.size() != pattern.size()) return false;
  for (size_t i = 0; i < number.size(); ++i) {
    if (pattern[i] == '.' ? number[i] != '.' : !absl::ascii_isdigit(number[i])) return false;
  }
  return true;
}

bool PassesMod97(const std::string& ten_digits) {
  long long first_eight = 0;
  for (int i = 0; i < 8; ++i) first_eight = first_eight * 10 + (ten_digits[i] - '0');
  return EnterpriseCheckDigits(first_eight) == (ten_digits[8] - '0') * 10 + (ten_digits[9] - '0');
}

// The digits the input was written with, as the canonical form must hold them.
std::string DigitsWritten(absl::string_view input, bool nine_digit_form_allowed) {
  std::string digits = DigitsOnly(input);
  if (nine_digit_form_allowed && digits.size() == 9) digits.insert(0, "0");
  return digits;
}

void CheckRefusal(absl::string_view input, const absl::Status& status) {
  if (status.code() != absl::StatusCode::kInvalidArgument) {
    Violated(input, "a refusal is INVALID_ARGUMENT", status.ToString());
  }
  const absl::string_view message = status.message();
  if (message.empty()) Violated(input, "a refusal says what is wrong", "empty message");
  if (InvalidUtf8Offset(message) != absl::string_view::npos) {
    Violated(input, "a refusal's message is valid UTF-8",
             absl::StrCat("message: \"", absl::CHexEscape(message), "\""));
  }
  if (message.size() > kMaxMessageBytes) {
    Violated(input, "a refusal's message is short",
             absl::StrCat("message of ", message.size(), " bytes"));
  }
}

void CheckEnterprise(absl::string_view input) {
  absl::StatusOr<std::string> canonical = CanonicalEnterpriseNumber(input);
  if (!canonical.ok()) return CheckRefusal(input, canonical.status());
  const std::string& n = *canonical;
  if (!HasShape(n, "dddd.ddd.ddd") || (n[0] != '0' && n[0] != '1')) {
    Violated(input, "canonical enterprise numbers are 0ddd.ddd.ddd or 1ddd.ddd.ddd", n);
  }
  const std::string digits = DigitsOnly(n);
  if (!PassesMod97(digits)) Violated(input, "an accepted number passes mod-97", n);
  if (digits != DigitsWritten(input, /*nine_digit_form_allowed=*/true)) {
    Violated(input, "the canonical form holds the digits written", n);
  }
  for (const std::string& again : {n, digits, "BE " + n}) {
    absl::StatusOr<std::string> reparsed = CanonicalEnterpriseNumber(again);
    if (!reparsed.ok() || *reparsed != n) {
      Violated(
          input, "a canonical number parses back to itself",
          absl::StrCat(again, " -> ", reparsed.ok() ? *reparsed : reparsed.status().ToString()));
    }
  }
}

void CheckEstablishment(absl::string_view input) {
  absl::StatusOr<std::string> canonical = CanonicalEstablishmentNumber(input);
  if (!canonical.ok()) return CheckRefusal(input, canonical.status());
  const std::string& n = *canonical;
  if (!HasShape(n, "d.ddd.ddd.ddd") || n[0] < '2' || n[0] > '8') {
    Violated(input, "canonical establishment numbers are [2-8].ddd.ddd.ddd", n);
  }
  const std::string digits = DigitsOnly(n);
  if (!PassesMod97(digits)) Violated(input, "an accepted number passes mod-97", n);
  if (digits != DigitsWritten(input, /*nine_digit_form_allowed=*/false)) {
    Violated(input, "the canonical form holds the digits written", n);
  }
  absl::StatusOr<std::string> reparsed = CanonicalEstablishmentNumber(n);
  if (!reparsed.ok() || *reparsed != n) {
    Violated(input, "a canonical number parses back to itself", n);
  }
  if (CanonicalEnterpriseNumber(input).ok()) {
    Violated(input, "no number is both an enterprise and an establishment", n);
  }
}

}  // namespace
}  // namespace onceonly

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const absl::string_view input(reinterpret_cast<const char*>(data), size);
  onceonly::CheckEnterprise(input);
  onceonly::CheckEstablishment(input);
  return 0;
}
