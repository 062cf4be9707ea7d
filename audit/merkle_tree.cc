#include "audit/merkle_tree.h"

#include <openssl/evp.h>

#include "absl/strings/str_cat.h"

namespace onceonly {
namespace {

std::string Sha256(absl::string_view a, absl::string_view b = "", absl::string_view c = "") {
  // One context per thread, reused: creating one per hash would cost more than the hash.
  struct Context {
    Context() : ctx(EVP_MD_CTX_new()) {}
    ~Context() { EVP_MD_CTX_free(ctx); }
    EVP_MD_CTX* ctx;
  };
  thread_local Context context;
  EVP_DigestInit_ex(context.ctx, EVP_sha256(), nullptr);
  EVP_DigestUpdate(context.ctx, a.data(), a.size());
  EVP_DigestUpdate(context.ctx, b.data(), b.size());
  EVP_DigestUpdate(context.ctx, c.data(), c.size());
  std::string out(32, '\0');
  unsigned int length = 0;
  EVP_DigestFinal_ex(context.ctx, reinterpret_cast<unsigned char*>(out.data()), &length);
  return out;
}

// The largest power of two smaller than n (n > 1), as RFC 9162 splits a tree.
uint64_t SplitPoint(uint64_t n) {
  uint64_t k = 1;
  while (k * 2 < n) k *= 2;
  return k;
}

}  // namespace

std::string MerkleLeafHash(absl::string_view leaf_data) {
  return Sha256(absl::string_view("\x00", 1), leaf_data);
}

std::string MerkleNodeHash(absl::string_view left, absl::string_view right) {
  return Sha256(absl::string_view("\x01", 1), left, right);
}

std::string MerkleEmptyRoot() { return Sha256(""); }

uint64_t MerkleTree::AppendLeafHash(std::string leaf_hash) {
  if (levels_.empty()) levels_.emplace_back();
  const uint64_t index = levels_[0].size();
  levels_[0].push_back(std::move(leaf_hash));
  // Each completed pair completes a subtree one level up: O(log n) hashes per append.
  for (size_t k = 0; levels_[k].size() % 2 == 0; ++k) {
    const std::vector<std::string>& level = levels_[k];
    std::string parent = MerkleNodeHash(level[level.size() - 2], level[level.size() - 1]);
    if (levels_.size() == k + 1) levels_.emplace_back();
    levels_[k + 1].push_back(std::move(parent));
  }
  return index;
}

std::string MerkleTree::SubtreeHash(uint64_t begin, uint64_t end) const {
  const uint64_t n = end - begin;
  if ((n & (n - 1)) == 0) {
    // A power of two starting at a multiple of itself: a stored complete subtree.
    size_t k = 0;
    while ((uint64_t{1} << k) < n) ++k;
    if (begin % n == 0) return levels_[k][begin >> k];
  }
  const uint64_t split = SplitPoint(n);
  return MerkleNodeHash(SubtreeHash(begin, begin + split), SubtreeHash(begin + split, end));
}

absl::StatusOr<std::string> MerkleTree::RootAt(uint64_t tree_size) const {
  if (tree_size > size()) {
    return absl::InvalidArgumentError(
        absl::StrCat("tree size ", tree_size, " is beyond the log's ", size(), " entries"));
  }
  if (tree_size == 0) return MerkleEmptyRoot();
  return SubtreeHash(0, tree_size);
}

void MerkleTree::Path(uint64_t m, uint64_t begin, uint64_t end,
                      std::vector<std::string>* out) const {
  const uint64_t n = end - begin;
  if (n <= 1) return;
  const uint64_t k = SplitPoint(n);
  if (m < k) {
    Path(m, begin, begin + k, out);
    out->push_back(SubtreeHash(begin + k, end));
  } else {
    Path(m - k, begin + k, end, out);
    out->push_back(SubtreeHash(begin, begin + k));
  }
}

absl::StatusOr<std::vector<std::string>> MerkleTree::InclusionProof(uint64_t leaf_index,
                                                                    uint64_t tree_size) const {
  if (tree_size > size() || leaf_index >= tree_size) {
    return absl::InvalidArgumentError(absl::StrCat("no leaf ", leaf_index, " in a tree of ",
                                                   tree_size, " (log has ", size(), ")"));
  }
  std::vector<std::string> proof;
  Path(leaf_index, 0, tree_size, &proof);
  return proof;
}

void MerkleTree::SubProof(uint64_t m, uint64_t begin, uint64_t end, bool whole,
                          std::vector<std::string>* out) const {
  const uint64_t n = end - begin;
  if (m == n) {
    if (!whole) out->push_back(SubtreeHash(begin, end));
    return;
  }
  const uint64_t k = SplitPoint(n);
  if (m <= k) {
    SubProof(m, begin, begin + k, whole, out);
    out->push_back(SubtreeHash(begin + k, end));
  } else {
    SubProof(m - k, begin + k, end, false, out);
    out->push_back(SubtreeHash(begin, begin + k));
  }
}

absl::StatusOr<std::vector<std::string>> MerkleTree::ConsistencyProof(
    uint64_t first_size, uint64_t second_size) const {
  if (second_size > size() || first_size > second_size) {
    return absl::InvalidArgumentError(absl::StrCat("no consistency proof from ", first_size,
                                                   " to ", second_size, " (log has ", size(),
                                                   ")"));
  }
  std::vector<std::string> proof;
  if (first_size == 0 || first_size == second_size) return proof;
  SubProof(first_size, 0, second_size, true, &proof);
  return proof;
}

}  // namespace onceonly
