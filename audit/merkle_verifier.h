// Checks Merkle proofs the way an auditor's or a firm's tool would: written from the
// verification algorithms of RFC 9162 §2.1.3.2 and §2.1.4.2, independently of the prover in
// merkle_tree.cc, so that a bug in one is not mirrored in the other.
#ifndef ONCEONLY_AUDIT_MERKLE_VERIFIER_H_
#define ONCEONLY_AUDIT_MERKLE_VERIFIER_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"

namespace onceonly {

// OK if `proof` shows that the leaf with hash `leaf_hash` is leaf `leaf_index` of the tree of
// `tree_size` leaves whose root is `root`; PermissionDenied saying what failed otherwise.
absl::Status VerifyInclusion(uint64_t leaf_index, uint64_t tree_size,
                             const std::string& leaf_hash, const std::vector<std::string>& proof,
                             const std::string& root);

// OK if `proof` shows that the tree of `second_size` leaves with root `second_root` extends
// the tree of `first_size` leaves with root `first_root`.
absl::Status VerifyConsistency(uint64_t first_size, uint64_t second_size,
                               const std::string& first_root, const std::string& second_root,
                               const std::vector<std::string>& proof);

}  // namespace onceonly

#endif  // ONCEONLY_AUDIT_MERKLE_VERIFIER_H_
