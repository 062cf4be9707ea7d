// Belgian enterprise and establishment unit numbers (KBO/BCE), with the mod-97 check.
#ifndef ONCEONLY_COMMON_ENTERPRISE_NUMBER_H_
#define ONCEONLY_COMMON_ENTERPRISE_NUMBER_H_

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace onceonly {

// Parses an enterprise number written as users write it: "0403170701", "0403.170.701",
// "BE 0403.170.701", "BE0403170701" or the old 9-digit "403170701". Returns the canonical
// dotted form "0403.170.701". InvalidArgument says what is wrong: characters, length,
// first digit, or the check digits (with the ones expected).
absl::StatusOr<std::string> CanonicalEnterpriseNumber(absl::string_view input);

// Same for an establishment unit number ("2.xxx.xxx.xxx", first digit 2..8).
absl::StatusOr<std::string> CanonicalEstablishmentNumber(absl::string_view input);

// The two check digits for the first eight digits: 97 - (n mod 97).
int EnterpriseCheckDigits(long long first_eight_digits);

// "0403.170.701" -> "0403170701".
std::string DigitsOnly(absl::string_view number);

}  // namespace onceonly

#endif  // ONCEONLY_COMMON_ENTERPRISE_NUMBER_H_
