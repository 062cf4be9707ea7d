// `onceonly audit`: read, query, export, verify and prune the access log, from its SQLite
// file (operators, auditors with a copy) or from a live gateway (auditor certificate).
// Returns the process exit code.
#ifndef ONCEONLY_TOOLS_AUDIT_COMMANDS_H_
#define ONCEONLY_TOOLS_AUDIT_COMMANDS_H_

#include <string>
#include <vector>

namespace onceonly {

int AuditCommand(const std::vector<std::string>& args);

}  // namespace onceonly

#endif  // ONCEONLY_TOOLS_AUDIT_COMMANDS_H_
