// What a fuzzer does when a property of the code under test does not hold: say which, with
// the detail that shows it, and abort, so that libFuzzer saves the input as a crash.
#ifndef ONCEONLY_FUZZ_PROPERTY_H_
#define ONCEONLY_FUZZ_PROPERTY_H_

#include <cstdlib>
#include <iostream>

#include "absl/strings/string_view.h"

namespace onceonly {

[[noreturn]] inline void PropertyViolated(absl::string_view property, absl::string_view detail) {
  std::cerr << "\nproperty violated: " << property << "\n  " << detail << "\n";
  std::abort();
}

}  // namespace onceonly

#endif  // ONCEONLY_FUZZ_PROPERTY_H_
