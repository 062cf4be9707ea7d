#include "audit/merkle_tree.h"

#include <openssl/evp.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <initializer_list>

#include "absl/strings/str_cat.h"

namespace onceonly {
namespace {

// The digest, fetched from the provider once: EVP_sha256() is re-fetched by every
// EVP_DigestInit_ex in OpenSSL 3, which costs more than hashing 65 bytes (~400 ns instead of
// ~165 ns per node hash here). Never freed: it lives as long as the process.
const EVP_MD* Sha256Md() {
  static const EVP_MD* const md = [] {
    const EVP_MD* fetched = EVP_MD_fetch(nullptr, "SHA256", nullptr);
    return fetched != nullptr ? fetched : EVP_sha256();
  }();
  return md;
}

// SHA-256 of the concatenation of `parts`, into `out` (32 bytes). A failing digest is a
// broken OpenSSL, not bad input: abort rather than write a wrong hash into the log.
void Sha256Into(std::initializer_list<absl::string_view> parts, unsigned char* out) {
  // One context per thread, reused: creating one per hash would cost more than the hash.
  struct Context {
    Context() : ctx(EVP_MD_CTX_new()) {}
    ~Context() { EVP_MD_CTX_free(ctx); }
    EVP_MD_CTX* ctx;
  };
  thread_local Context context;
  bool ok = context.ctx != nullptr && EVP_DigestInit_ex(context.ctx, Sha256Md(), nullptr) == 1;
  for (absl::string_view part : parts) {
    ok = ok && EVP_DigestUpdate(context.ctx, part.data(), part.size()) == 1;
  }
  unsigned int length = 0;
  ok = ok && EVP_DigestFinal_ex(context.ctx, out, &length) == 1 && length == MerkleTree::kHashSize;
  if (!ok) {
    std::fprintf(stderr, "merkle_tree: SHA-256 failed in OpenSSL\n");
    std::abort();
  }
}

absl::string_view AsBytes(const unsigned char* data, size_t size) {
  return absl::string_view(reinterpret_cast<const char*>(data), size);
}

std::string HashString(const unsigned char* digest) {
  return std::string(reinterpret_cast<const char*>(digest), MerkleTree::kHashSize);
}

// RFC 9162 node hash of two stored digests, without a heap allocation.
std::array<unsigned char, MerkleTree::kHashSize> NodeHash(
    const std::array<unsigned char, MerkleTree::kHashSize>& left,
    const std::array<unsigned char, MerkleTree::kHashSize>& right) {
  std::array<unsigned char, MerkleTree::kHashSize> out;
  Sha256Into({absl::string_view("\x01", 1), AsBytes(left.data(), left.size()),
              AsBytes(right.data(), right.size())},
             out.data());
  return out;
}

// The largest power of two smaller than n (n > 1), as RFC 9162 splits a tree.
uint64_t SplitPoint(uint64_t n) { return uint64_t{1} << (63 - __builtin_clzll(n - 1)); }

// ceil(log2(n)): the length of an inclusion proof in a tree of n leaves.
size_t CeilLog2(uint64_t n) { return n <= 1 ? 0 : 64 - __builtin_clzll(n - 1); }

}  // namespace

std::string MerkleLeafHash(absl::string_view leaf_data) {
  return std::string(AsView(MerkleLeafDigest(leaf_data)));
}

MerkleDigest MerkleLeafDigest(absl::string_view leaf_data) {
  MerkleDigest out;
  Sha256Into({absl::string_view("\x00", 1), leaf_data},
             reinterpret_cast<unsigned char*>(out.data()));
  return out;
}

std::string MerkleNodeHash(absl::string_view left, absl::string_view right) {
  std::string out(MerkleTree::kHashSize, '\0');
  Sha256Into({absl::string_view("\x01", 1), left, right},
             reinterpret_cast<unsigned char*>(out.data()));
  return out;
}

std::string MerkleEmptyRoot() {
  std::string out(MerkleTree::kHashSize, '\0');
  Sha256Into({}, reinterpret_cast<unsigned char*>(out.data()));
  return out;
}

void MerkleTree::Level::Append(const Hash& hash) {
  if (chunks_.empty() || chunks_.back().size() == kChunkSize) {
    chunks_.emplace_back();
    // Past its first chunk a level is large: take the whole next chunk at once.
    if (chunks_.size() > 1) chunks_.back().reserve(kChunkSize);
  }
  chunks_.back().push_back(hash);
  ++size_;
}

uint64_t MerkleTree::AppendLeafHash(absl::string_view leaf_hash) {
  if (leaf_hash.size() != kHashSize) {
    std::fprintf(stderr, "merkle_tree: a leaf hash of %zu bytes, not %zu\n", leaf_hash.size(),
                 kHashSize);
    std::abort();
  }
  Hash leaf;
  std::memcpy(leaf.data(), leaf_hash.data(), kHashSize);
  if (levels_.empty()) levels_.emplace_back();
  const uint64_t index = levels_[0].size();
  levels_[0].Append(leaf);
  // Each completed pair completes a subtree one level up: O(log n) hashes per append.
  for (size_t k = 0; levels_[k].size() % 2 == 0; ++k) {
    const uint64_t n = levels_[k].size();
    const Hash parent = NodeHash(levels_[k][n - 2], levels_[k][n - 1]);
    if (levels_.size() == k + 1) levels_.emplace_back();
    levels_[k + 1].Append(parent);
  }
  return index;
}

MerkleTree::Hash MerkleTree::SubtreeHash(uint64_t begin, uint64_t end) const {
  const uint64_t n = end - begin;
  if ((n & (n - 1)) == 0 && begin % n == 0) {
    // A power of two starting at a multiple of itself: a stored complete subtree.
    const int k = __builtin_ctzll(n);
    return levels_[k][begin >> k];
  }
  const uint64_t split = SplitPoint(n);
  return NodeHash(SubtreeHash(begin, begin + split), SubtreeHash(begin + split, end));
}

absl::StatusOr<std::string> MerkleTree::RootAt(uint64_t tree_size) const {
  if (tree_size > size()) {
    return absl::InvalidArgumentError(
        absl::StrCat("tree size ", tree_size, " is beyond the log's ", size(), " entries"));
  }
  if (tree_size == 0) return MerkleEmptyRoot();
  return HashString(SubtreeHash(0, tree_size).data());
}

void MerkleTree::Path(uint64_t m, uint64_t begin, uint64_t end,
                      std::vector<std::string>* out) const {
  const uint64_t n = end - begin;
  if (n <= 1) return;
  const uint64_t k = SplitPoint(n);
  if (m < k) {
    Path(m, begin, begin + k, out);
    out->push_back(HashString(SubtreeHash(begin + k, end).data()));
  } else {
    Path(m - k, begin + k, end, out);
    out->push_back(HashString(SubtreeHash(begin, begin + k).data()));
  }
}

absl::StatusOr<std::vector<std::string>> MerkleTree::InclusionProof(uint64_t leaf_index,
                                                                    uint64_t tree_size) const {
  if (tree_size > size() || leaf_index >= tree_size) {
    return absl::InvalidArgumentError(absl::StrCat("no leaf ", leaf_index, " in a tree of ",
                                                   tree_size, " (log has ", size(), ")"));
  }
  std::vector<std::string> proof;
  proof.reserve(CeilLog2(tree_size));
  Path(leaf_index, 0, tree_size, &proof);
  return proof;
}

void MerkleTree::SubProof(uint64_t m, uint64_t begin, uint64_t end, bool whole,
                          std::vector<std::string>* out) const {
  const uint64_t n = end - begin;
  if (m == n) {
    if (!whole) out->push_back(HashString(SubtreeHash(begin, end).data()));
    return;
  }
  const uint64_t k = SplitPoint(n);
  if (m <= k) {
    SubProof(m, begin, begin + k, whole, out);
    out->push_back(HashString(SubtreeHash(begin + k, end).data()));
  } else {
    SubProof(m - k, begin + k, end, false, out);
    out->push_back(HashString(SubtreeHash(begin, begin + k).data()));
  }
}

absl::StatusOr<std::vector<std::string>> MerkleTree::ConsistencyProof(uint64_t first_size,
                                                                      uint64_t second_size) const {
  if (second_size > size() || first_size > second_size) {
    return absl::InvalidArgumentError(absl::StrCat("no consistency proof from ", first_size, " to ",
                                                   second_size, " (log has ", size(), ")"));
  }
  std::vector<std::string> proof;
  if (first_size == 0 || first_size == second_size) return proof;
  proof.reserve(CeilLog2(second_size) + 1);
  SubProof(first_size, 0, second_size, true, &proof);
  return proof;
}

}  // namespace onceonly
