// The access log as an append-only Merkle tree, hashed as in RFC 9162 §2.1: a leaf is
// SHA-256(0x00 ‖ data), a node SHA-256(0x01 ‖ left ‖ right). Appending costs O(log n) hashes
// (only complete subtrees are stored); the root, inclusion proofs and consistency proofs are
// available for every past tree size. Not thread-safe: the log's writer owns it.
//
// Memory: 32 bytes per stored hash and about 2 hashes per leaf (64 MB per million leaves),
// in fixed-size chunks: an append allocates nothing per node, and growing never copies more
// than one chunk (no stall while a large level is reallocated).
#ifndef ONCEONLY_AUDIT_MERKLE_TREE_H_
#define ONCEONLY_AUDIT_MERKLE_TREE_H_

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace onceonly {

// 32-byte SHA-256 digests, as raw bytes.
std::string MerkleLeafHash(absl::string_view leaf_data);
// The same leaf hash without a heap allocation (the access log's hot path).
using MerkleDigest = std::array<char, 32>;
MerkleDigest MerkleLeafDigest(absl::string_view leaf_data);
inline absl::string_view AsView(const MerkleDigest& digest) {
  return absl::string_view(digest.data(), digest.size());
}
std::string MerkleNodeHash(absl::string_view left, absl::string_view right);
// The hash of the empty tree: SHA-256 of nothing.
std::string MerkleEmptyRoot();

class MerkleTree {
 public:
  static constexpr size_t kHashSize = 32;

  // Appends the leaf whose hash is `leaf_hash` (see MerkleLeafHash); returns its index.
  // `leaf_hash` must be kHashSize bytes (aborts otherwise: a caller's broken invariant).
  uint64_t AppendLeafHash(absl::string_view leaf_hash);
  uint64_t size() const { return levels_.empty() ? 0 : levels_[0].size(); }

  // MTH of the first `tree_size` leaves. InvalidArgument if tree_size > size().
  absl::StatusOr<std::string> RootAt(uint64_t tree_size) const;
  // RFC 9162 §2.1.3.1 PATH(leaf_index, D[0:tree_size]), leaf to root.
  absl::StatusOr<std::vector<std::string>> InclusionProof(uint64_t leaf_index,
                                                          uint64_t tree_size) const;
  // RFC 9162 §2.1.4.1 PROOF(first_size, D[0:second_size]).
  absl::StatusOr<std::vector<std::string>> ConsistencyProof(uint64_t first_size,
                                                            uint64_t second_size) const;

 private:
  using Hash = std::array<unsigned char, kHashSize>;

  // One level of complete-subtree hashes, appended to only. Chunks of kChunkSize hashes
  // (1 MiB) are never moved once full; only the first chunk grows geometrically, so small
  // trees stay small.
  class Level {
   public:
    uint64_t size() const { return size_; }
    const Hash& operator[](uint64_t i) const { return chunks_[i >> kChunkBits][i & kChunkMask]; }
    void Append(const Hash& hash);

   private:
    static constexpr int kChunkBits = 15;
    static constexpr uint64_t kChunkSize = uint64_t{1} << kChunkBits;
    static constexpr uint64_t kChunkMask = kChunkSize - 1;
    std::vector<std::vector<Hash>> chunks_;
    uint64_t size_ = 0;
  };

  // Hash of D[begin:end], end - begin > 0.
  Hash SubtreeHash(uint64_t begin, uint64_t end) const;
  void Path(uint64_t m, uint64_t begin, uint64_t end, std::vector<std::string>* out) const;
  void SubProof(uint64_t m, uint64_t begin, uint64_t end, bool whole,
                std::vector<std::string>* out) const;

  // levels_[k][i] = hash of the complete subtree of 2^k leaves starting at leaf i * 2^k.
  std::vector<Level> levels_;
};

}  // namespace onceonly

#endif  // ONCEONLY_AUDIT_MERKLE_TREE_H_
