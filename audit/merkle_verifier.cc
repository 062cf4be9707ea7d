#include "audit/merkle_verifier.h"

#include <openssl/evp.h>

namespace onceonly {
namespace {

// HASH(0x01 || left || right), computed here rather than borrowed from the prover.
std::string Node(const std::string& left, const std::string& right) {
  std::string input;
  input.reserve(1 + left.size() + right.size());
  input.push_back('\x01');
  input += left;
  input += right;
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  EVP_Digest(input.data(), input.size(), digest, &length, EVP_sha256(), nullptr);
  return std::string(reinterpret_cast<const char*>(digest), length);
}

absl::Status Fail(const char* what) { return absl::PermissionDeniedError(what); }

}  // namespace

absl::Status VerifyInclusion(uint64_t leaf_index, uint64_t tree_size,
                             const std::string& leaf_hash, const std::vector<std::string>& proof,
                             const std::string& root) {
  // RFC 9162 §2.1.3.2, step by step.
  if (leaf_index >= tree_size) return Fail("leaf index is not below the tree size");
  uint64_t fn = leaf_index;
  uint64_t sn = tree_size - 1;
  std::string r = leaf_hash;
  for (const std::string& p : proof) {
    if (sn == 0) return Fail("inclusion proof is longer than the tree is deep");
    if ((fn & 1) == 1 || fn == sn) {
      r = Node(p, r);
      if ((fn & 1) == 0) {
        while ((fn & 1) == 0 && fn != 0) {
          fn >>= 1;
          sn >>= 1;
        }
      }
    } else {
      r = Node(r, p);
    }
    fn >>= 1;
    sn >>= 1;
  }
  if (sn != 0) return Fail("inclusion proof is shorter than the tree is deep");
  if (r != root) return Fail("inclusion proof does not lead to the root");
  return absl::OkStatus();
}

absl::Status VerifyConsistency(uint64_t first_size, uint64_t second_size,
                               const std::string& first_root, const std::string& second_root,
                               const std::vector<std::string>& proof) {
  if (first_size > second_size) return Fail("the first tree is larger than the second");
  if (first_size == second_size) {
    if (!proof.empty()) return Fail("equal sizes need an empty proof");
    if (first_root != second_root) return Fail("equal sizes but different roots");
    return absl::OkStatus();
  }
  if (first_size == 0) {
    if (!proof.empty()) return Fail("an empty first tree needs an empty proof");
    return absl::OkStatus();  // every tree extends the empty one
  }
  // RFC 9162 §2.1.4.2, step by step.
  if (proof.empty()) return Fail("consistency proof is empty");
  std::vector<std::string> path = proof;
  if ((first_size & (first_size - 1)) == 0) path.insert(path.begin(), first_root);
  uint64_t fn = first_size - 1;
  uint64_t sn = second_size - 1;
  while ((fn & 1) == 1) {
    fn >>= 1;
    sn >>= 1;
  }
  std::string fr = path[0];
  std::string sr = path[0];
  for (size_t i = 1; i < path.size(); ++i) {
    const std::string& c = path[i];
    if (sn == 0) return Fail("consistency proof is too long");
    if ((fn & 1) == 1 || fn == sn) {
      fr = Node(c, fr);
      sr = Node(c, sr);
      if ((fn & 1) == 0) {
        while ((fn & 1) == 0 && fn != 0) {
          fn >>= 1;
          sn >>= 1;
        }
      }
    } else {
      sr = Node(sr, c);
    }
    fn >>= 1;
    sn >>= 1;
  }
  if (sn != 0) return Fail("consistency proof is too short");
  if (fr != first_root) return Fail("consistency proof does not lead to the first root");
  if (sr != second_root) return Fail("consistency proof does not lead to the second root");
  return absl::OkStatus();
}

}  // namespace onceonly
