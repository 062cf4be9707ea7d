// `onceonly consent|registration|directory`: clients of the gateway's member services, for
// operators, the demo and scripts. Each returns the process exit code.
#ifndef ONCEONLY_TOOLS_MEMBER_COMMANDS_H_
#define ONCEONLY_TOOLS_MEMBER_COMMANDS_H_

#include <string>
#include <vector>

namespace onceonly {

int ConsentCommand(const std::vector<std::string>& args);
int RegistrationCommand(const std::vector<std::string>& args);
int DirectoryCommand(const std::vector<std::string>& args);

}  // namespace onceonly

#endif  // ONCEONLY_TOOLS_MEMBER_COMMANDS_H_
