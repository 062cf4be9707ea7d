#include "audit/checkpoint.h"

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"

namespace onceonly {

std::string CheckpointSignedText(const v1::Checkpoint& c) {
  return absl::StrCat("onceonly checkpoint v1\n", c.log_id(), "\n", c.tree_size(), "\n",
                      absl::Base64Escape(c.root_hash()), "\n", c.time().seconds(), "\n");
}

}  // namespace onceonly
