// Signed checkpoints: a statement "log L had N records with root R at time T", signed with the
// gateway's Ed25519 key. The signed bytes are a small text, so that anyone can rebuild and
// check them; its first line separates it from anything else the key signs (receipts are JSON).
#ifndef ONCEONLY_AUDIT_CHECKPOINT_H_
#define ONCEONLY_AUDIT_CHECKPOINT_H_

#include <string>

#include "onceonly/v1/audit.pb.h"

namespace onceonly {

// "onceonly checkpoint v1\n<log_id>\n<tree_size>\n<base64 root>\n<unix seconds>\n"
std::string CheckpointSignedText(const v1::Checkpoint& checkpoint);

}  // namespace onceonly

#endif  // ONCEONLY_AUDIT_CHECKPOINT_H_
