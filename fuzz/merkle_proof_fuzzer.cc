// Fuzzes the Merkle proof verifier (audit/merkle_verifier.h), which checks proofs anyone can
// send, against the prover (audit/merkle_tree.h). Properties:
// - arbitrary proofs, sizes, indexes and hashes are refused with PERMISSION_DENIED, never a
//   crash; the prover refuses impossible sizes and indexes with INVALID_ARGUMENT;
// - for a tree made of the input's leaves, the prover's root is the RFC 9162 root computed
//   here from its definition, every inclusion and consistency proof the prover makes
//   verifies, and the same proof with one bit flipped, one hash more or one hash fewer does not.
#include <fuzzer/FuzzedDataProvider.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "audit/merkle_tree.h"
#include "audit/merkle_verifier.h"
#include "fuzz/property.h"

namespace onceonly {
namespace {

constexpr size_t kMaxLeaves = 300;

void CheckVerdict(absl::string_view what, const absl::Status& status) {
  if (!status.ok() && status.code() != absl::StatusCode::kPermissionDenied) {
    PropertyViolated(absl::StrCat(what, " is OK or PERMISSION_DENIED"), status.ToString());
  }
}

void CheckProverRefusal(absl::string_view what, const absl::Status& status) {
  if (!status.ok() && status.code() != absl::StatusCode::kInvalidArgument) {
    PropertyViolated(absl::StrCat(what, " refuses with INVALID_ARGUMENT"), status.ToString());
  }
}

// A proof as anyone could send it, laid out so that seeds can hold real ones: two numbers (8
// bytes each, big-endian), two 32-byte hashes, then the proof's hashes, 32 bytes each (a short
// last one as it is).
struct ProofClaim {
  uint64_t first = 0;       // inclusion: the leaf index; consistency: the first size
  uint64_t second = 0;      // the tree size
  std::string first_hash;   // inclusion: the leaf hash; consistency: the first root
  std::string second_hash;  // the tree's root
  std::vector<std::string> hashes;
};

uint64_t TakeUint64(absl::string_view& bytes) {
  uint64_t value = 0;
  for (int i = 0; i < 8 && !bytes.empty(); ++i) {
    value = value << 8 | static_cast<unsigned char>(bytes.front());
    bytes.remove_prefix(1);
  }
  return value;
}

std::string TakeHash(absl::string_view& bytes) {
  const absl::string_view hash = bytes.substr(0, MerkleTree::kHashSize);
  bytes.remove_prefix(hash.size());
  return std::string(hash);
}

ProofClaim ReadClaim(absl::string_view bytes) {
  ProofClaim claim;
  claim.first = TakeUint64(bytes);
  claim.second = TakeUint64(bytes);
  claim.first_hash = TakeHash(bytes);
  claim.second_hash = TakeHash(bytes);
  while (!bytes.empty()) claim.hashes.push_back(TakeHash(bytes));
  return claim;
}

// MTH(D[begin:end]) straight from RFC 9162 §2.1.1, for leaf hashes.
std::string RootByDefinition(const std::vector<std::string>& leaves, size_t begin, size_t end) {
  if (end == begin) return MerkleEmptyRoot();
  if (end - begin == 1) return leaves[begin];
  size_t k = 1;
  while (k * 2 < end - begin) k *= 2;  // the largest power of two below n
  return MerkleNodeHash(RootByDefinition(leaves, begin, begin + k),
                        RootByDefinition(leaves, begin + k, end));
}

// The proof altered the ways a forger or a bug would: each must fail.
std::vector<std::vector<std::string>> Altered(const std::vector<std::string>& proof,
                                              FuzzedDataProvider& input) {
  std::vector<std::vector<std::string>> altered;
  altered.push_back(proof);
  altered.back().push_back(std::string(MerkleTree::kHashSize, '\0'));
  if (!proof.empty()) {
    altered.push_back(proof);
    altered.back().pop_back();
    altered.push_back(proof);
    std::string& hash = altered.back()[input.ConsumeIntegralInRange<size_t>(0, proof.size() - 1)];
    hash[input.ConsumeIntegralInRange<size_t>(0, hash.size() - 1)] ^=
        static_cast<char>(1 << input.ConsumeIntegralInRange(0, 7));
  }
  return altered;
}

void ProveAndVerify(FuzzedDataProvider& input) {
  const size_t n = input.ConsumeIntegralInRange<size_t>(1, kMaxLeaves);
  MerkleTree tree;
  std::vector<std::string> leaves;
  for (size_t i = 0; i < n; ++i) {
    // Distinct leaves, partly chosen by the input.
    leaves.push_back(MerkleLeafHash(absl::StrCat(i, ":", input.ConsumeRandomLengthString(16))));
    tree.AppendLeafHash(leaves.back());
  }
  const size_t second = input.ConsumeIntegralInRange<size_t>(1, n);
  const size_t first = input.ConsumeIntegralInRange<size_t>(0, second);
  const size_t index = input.ConsumeIntegralInRange<size_t>(0, second - 1);
  const std::string second_root = *tree.RootAt(second);
  const std::string first_root = *tree.RootAt(first);
  for (size_t size : {first, second}) {
    if (*tree.RootAt(size) != RootByDefinition(leaves, 0, size)) {
      PropertyViolated(
          "the prover's root is RFC 9162's",
          absl::StrCat("tree of ", size, " leaves: ", absl::BytesToHexString(*tree.RootAt(size))));
    }
  }

  absl::StatusOr<std::vector<std::string>> path = tree.InclusionProof(index, second);
  if (!path.ok()) PropertyViolated("the prover proves every leaf", path.status().ToString());
  const std::string where = absl::StrCat("leaf ", index, " of ", second);
  absl::Status verdict = VerifyInclusion(index, second, leaves[index], *path, second_root);
  if (!verdict.ok()) PropertyViolated("a true inclusion proof verifies", where);
  for (const std::vector<std::string>& forged : Altered(*path, input)) {
    if (VerifyInclusion(index, second, leaves[index], forged, second_root).ok()) {
      PropertyViolated("an altered inclusion proof fails", where);
    }
  }
  const size_t other = (index + 1) % second;
  if (other != index && VerifyInclusion(index, second, leaves[other], *path, second_root).ok()) {
    PropertyViolated("an inclusion proof fails for another leaf", where);
  }

  absl::StatusOr<std::vector<std::string>> proof = tree.ConsistencyProof(first, second);
  if (!proof.ok()) PropertyViolated("the prover proves consistency", proof.status().ToString());
  const std::string sizes = absl::StrCat(first, " -> ", second);
  verdict = VerifyConsistency(first, second, first_root, second_root, *proof);
  if (!verdict.ok()) PropertyViolated("a true consistency proof verifies", sizes);
  for (const std::vector<std::string>& forged : Altered(*proof, input)) {
    if (VerifyConsistency(first, second, first_root, second_root, forged).ok()) {
      PropertyViolated("an altered consistency proof fails", sizes);
    }
  }

  // The prover asked for what does not exist.
  const uint64_t any_index = input.ConsumeIntegral<uint64_t>();
  const uint64_t any_size = input.ConsumeIntegral<uint64_t>();
  CheckProverRefusal("RootAt", tree.RootAt(any_size).status());
  CheckProverRefusal("InclusionProof", tree.InclusionProof(any_index, any_size).status());
  CheckProverRefusal("ConsistencyProof", tree.ConsistencyProof(any_index, any_size).status());
}

}  // namespace
}  // namespace onceonly

// The first byte chooses: an inclusion proof claim, a consistency proof claim, or a tree
// built from the rest of the input.
extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace onceonly;
  if (size == 0) return 0;
  const absl::string_view rest(reinterpret_cast<const char*>(data) + 1, size - 1);
  switch (data[0] % 3) {
    case 0: {
      const ProofClaim claim = ReadClaim(rest);
      CheckVerdict("VerifyInclusion", VerifyInclusion(claim.first, claim.second, claim.first_hash,
                                                      claim.hashes, claim.second_hash));
      break;
    }
    case 1: {
      const ProofClaim claim = ReadClaim(rest);
      CheckVerdict("VerifyConsistency",
                   VerifyConsistency(claim.first, claim.second, claim.first_hash, claim.second_hash,
                                     claim.hashes));
      break;
    }
    default: {
      FuzzedDataProvider input(data + 1, size - 1);
      ProveAndVerify(input);
    }
  }
  return 0;
}
