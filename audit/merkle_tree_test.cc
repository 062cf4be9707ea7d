#include "audit/merkle_tree.h"

#include <algorithm>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "audit/merkle_verifier.h"
#include "gtest/gtest.h"

namespace onceonly {
namespace {

std::string Hex(const std::string& bytes) { return absl::BytesToHexString(bytes); }

// MTH straight from the definition in RFC 9162 §2.1.1, over leaf hashes.
std::string ReferenceRoot(const std::vector<std::string>& leaves, size_t begin, size_t end) {
  const size_t n = end - begin;
  if (n == 1) return leaves[begin];
  size_t k = 1;
  while (k * 2 < n) k *= 2;
  return MerkleNodeHash(ReferenceRoot(leaves, begin, begin + k),
                        ReferenceRoot(leaves, begin + k, end));
}

struct Fixture {
  explicit Fixture(int n) {
    for (int i = 0; i < n; ++i) {
      leaves.push_back(MerkleLeafHash(absl::StrCat("access record ", i)));
      tree.AppendLeafHash(leaves.back());
    }
  }
  std::vector<std::string> leaves;
  MerkleTree tree;
};

TEST(MerkleTreeTest, KnownHashes) {
  EXPECT_EQ(Hex(MerkleEmptyRoot()),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  // RFC 6962/9162 leaf hash of the empty string.
  EXPECT_EQ(Hex(MerkleLeafHash("")),
            "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d");
  MerkleTree empty;
  EXPECT_EQ(*empty.RootAt(0), MerkleEmptyRoot());
}

TEST(MerkleTreeTest, RootsOfEveryPastSizeMatchTheDefinition) {
  Fixture f(300);
  for (size_t n = 1; n <= 300; ++n) {
    ASSERT_EQ(Hex(*f.tree.RootAt(n)), Hex(ReferenceRoot(f.leaves, 0, n))) << "size " << n;
  }
  EXPECT_FALSE(f.tree.RootAt(301).ok());
}

TEST(MerkleTreeTest, EveryInclusionProofVerifies) {
  Fixture f(1000);
  int checked = 0;
  for (uint64_t n = 1; n <= 1000; ++n) {  // every size and every index, as RFC 9162 allows
    const std::string root = *f.tree.RootAt(n);
    for (uint64_t m = 0; m < n; ++m) {
      auto proof = f.tree.InclusionProof(m, n);
      ASSERT_TRUE(proof.ok());
      ASSERT_TRUE(VerifyInclusion(m, n, f.leaves[m], *proof, root).ok())
          << "leaf " << m << " of " << n;
      ++checked;
    }
  }
  EXPECT_EQ(checked, 1000 * 1001 / 2);
}

TEST(MerkleTreeTest, TamperedInclusionProofsFail) {
  Fixture f(100);
  const std::string root = *f.tree.RootAt(100);
  auto proof = *f.tree.InclusionProof(37, 100);
  EXPECT_FALSE(VerifyInclusion(38, 100, f.leaves[37], proof, root).ok());  // wrong index
  EXPECT_FALSE(VerifyInclusion(37, 100, f.leaves[36], proof, root).ok());  // wrong leaf
  for (size_t i = 0; i < proof.size(); ++i) {
    auto bad = proof;
    bad[i][0] ^= 1;
    EXPECT_FALSE(VerifyInclusion(37, 100, f.leaves[37], bad, root).ok()) << "hash " << i;
  }
  auto shorter = proof;
  shorter.pop_back();
  EXPECT_FALSE(VerifyInclusion(37, 100, f.leaves[37], shorter, root).ok());
  auto longer = proof;
  longer.push_back(root);
  EXPECT_FALSE(VerifyInclusion(37, 100, f.leaves[37], longer, root).ok());
  EXPECT_FALSE(f.tree.InclusionProof(100, 100).ok());
}

TEST(MerkleTreeTest, EveryConsistencyProofVerifies) {
  Fixture f(1000);
  int checked = 0;
  auto check = [&](uint64_t m, uint64_t n) {
    auto proof = f.tree.ConsistencyProof(m, n);
    ASSERT_TRUE(proof.ok());
    ASSERT_TRUE(VerifyConsistency(m, n, *f.tree.RootAt(m), *f.tree.RootAt(n), *proof).ok())
        << m << " -> " << n;
    ++checked;
  };
  for (uint64_t n = 1; n <= 1000; ++n) {  // every pair of sizes up to 1,000
    for (uint64_t m = 0; m <= n; ++m) check(m, n);
  }
  EXPECT_EQ(checked, 1000 * 1003 / 2);
}

TEST(MerkleTreeTest, InconsistentHistoriesAreCaught) {
  Fixture f(50);
  MerkleTree other;  // the same history, except a different 21st record
  for (int i = 0; i < 50; ++i) {
    other.AppendLeafHash(i == 20 ? MerkleLeafHash("forged") : f.leaves[i]);
  }
  auto proof = *other.ConsistencyProof(30, 50);
  EXPECT_FALSE(VerifyConsistency(30, 50, *f.tree.RootAt(30), *other.RootAt(50), proof).ok());
  auto good = *f.tree.ConsistencyProof(30, 50);
  for (size_t i = 0; i < good.size(); ++i) {
    auto bad = good;
    bad[i][5] ^= 1;
    EXPECT_FALSE(VerifyConsistency(30, 50, *f.tree.RootAt(30), *f.tree.RootAt(50), bad).ok());
  }
  EXPECT_FALSE(VerifyConsistency(31, 50, *f.tree.RootAt(30), *f.tree.RootAt(50), good).ok());
  EXPECT_FALSE(VerifyConsistency(50, 50, *f.tree.RootAt(50), *f.tree.RootAt(49), {}).ok());
  EXPECT_FALSE(f.tree.ConsistencyProof(51, 50).ok());
}

// Levels are stored in chunks of 32,768 hashes: roots and proofs must not care where a
// chunk ends (level 0 spans four chunks here, level 1 two).
TEST(MerkleTreeTest, ProofsAcrossStorageChunksVerify) {
  constexpr uint64_t kLeaves = 4 * 32768 + 123;
  Fixture f(kLeaves);
  ASSERT_EQ(f.tree.size(), kLeaves);
  for (uint64_t n : {uint64_t{32767}, uint64_t{32768}, uint64_t{32769}, uint64_t{65536},
                     uint64_t{65537}, uint64_t{100000}, kLeaves}) {
    const std::string root = *f.tree.RootAt(n);
    ASSERT_EQ(Hex(root), Hex(ReferenceRoot(f.leaves, 0, n))) << "size " << n;
    for (uint64_t m : {uint64_t{0}, uint64_t{32767}, uint64_t{32768}, n / 2, n - 1}) {
      if (m >= n) continue;
      auto proof = f.tree.InclusionProof(m, n);
      ASSERT_TRUE(proof.ok());
      EXPECT_TRUE(VerifyInclusion(m, n, f.leaves[m], *proof, root).ok())
          << "leaf " << m << " of " << n;
    }
    const uint64_t first = std::min<uint64_t>(32769, n - 1);
    auto consistency = f.tree.ConsistencyProof(first, n);
    ASSERT_TRUE(consistency.ok());
    EXPECT_TRUE(VerifyConsistency(first, n, *f.tree.RootAt(first), root, *consistency).ok())
        << first << " -> " << n;
  }
}

TEST(MerkleTreeDeathTest, ALeafHashOfTheWrongSizeAborts) {
  MerkleTree tree;
  EXPECT_DEATH(tree.AppendLeafHash("not a digest"), "leaf hash of 12 bytes");
}

}  // namespace
}  // namespace onceonly
