// RETURN_IF_ERROR / ASSIGN_OR_RETURN: this Abseil (20220623) has neither.
#ifndef ONCEONLY_COMMON_STATUS_MACROS_H_
#define ONCEONLY_COMMON_STATUS_MACROS_H_

#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

#define ONCEONLY_CONCAT_INNER_(a, b) a##b
#define ONCEONLY_CONCAT_(a, b) ONCEONLY_CONCAT_INNER_(a, b)

// Returns the status from the enclosing function if `expr` is not OK.
#define RETURN_IF_ERROR(expr)                         \
  do {                                                \
    ::absl::Status _onceonly_status = (expr);         \
    if (!_onceonly_status.ok()) return _onceonly_status; \
  } while (0)

// `ASSIGN_OR_RETURN(auto x, F());` assigns the value of a StatusOr or returns its status.
#define ASSIGN_OR_RETURN(lhs, expr) \
  ASSIGN_OR_RETURN_IMPL_(ONCEONLY_CONCAT_(_onceonly_statusor_, __LINE__), lhs, expr)

#define ASSIGN_OR_RETURN_IMPL_(tmp, lhs, expr) \
  auto tmp = (expr);                           \
  if (!tmp.ok()) return std::move(tmp).status(); \
  lhs = std::move(tmp).value()

#endif  // ONCEONLY_COMMON_STATUS_MACROS_H_
