#include "tests/consensus/test_keys.h"

#include <algorithm>
#include <cstring>
#include <string>

#include "ledger/coding.h"

namespace certledger::consensus::testing {

const ledger::PrivateKey& TestKey(uint32_t i) {
  static std::vector<std::unique_ptr<ledger::PrivateKey>> cache;
  while (cache.size() <= i) {
    uint32_t k = static_cast<uint32_t>(cache.size());
    ledger::Bytes seed(ledger::AsBytes("certledger-test-key").begin(),
                       ledger::AsBytes("certledger-test-key").end());
    ledger::PutFixed32(&seed, k);
    auto key = ledger::PrivateKey::FromBytes(ledger::Sha256(seed).span());
    cache.push_back(std::make_unique<ledger::PrivateKey>(*key));
  }
  return *cache[i];
}

ledger::ValidatorSet MakeSet(uint32_t n, const std::vector<uint64_t>& powers) {
  ledger::ValidatorSet set;
  for (uint32_t i = 0; i < n; ++i) {
    set.validators.push_back(
        ledger::Validator{TestKey(i).public_key(), powers.empty() ? 1 : powers[i],
                          "agency-" + std::to_string(i), TestKey(1000 + i).public_key()});
  }
  std::sort(set.validators.begin(), set.validators.end(),
            [](const auto& a, const auto& b) { return a.key < b.key; });
  return set;
}

namespace {
Hash256 FakeSig(const PublicKey& key, const Hash256& digest) {
  ledger::Sha256Hasher h;
  h.Update(ledger::AsBytes("certledger-fake-sig")).Update(key.span()).Update(digest.span());
  return h.Finish();
}
}  // namespace

Signature FastSigner::SignDigest(const Hash256& digest) const {
  Signature s;
  Hash256 h = FakeSig(key_, digest);
  std::copy(h.bytes.begin(), h.bytes.end(), s.bytes.begin());
  return s;
}

bool FastVerifier::Verify(const PublicKey& key, const Hash256& digest, const Signature& sig) const {
  Hash256 h = FakeSig(key, digest);
  if (!std::equal(h.bytes.begin(), h.bytes.end(), sig.bytes.begin())) return false;
  return std::all_of(sig.bytes.begin() + 32, sig.bytes.end(), [](uint8_t b) { return b == 0; });
}

Signature DeterministicKeySigner::SignDigest(const Hash256& digest) const {
  static const uint8_t kZero[32] = {};
  return key_.Sign(digest.span(), ledger::ByteSpan(kZero, 32));
}

Value MakeValue(uint64_t height, const std::string& tag) {
  Value v;
  v.payload = {'b', 'l', 'k'};
  ledger::PutFixed64(&v.payload, height);
  v.payload.insert(v.payload.end(), tag.begin(), tag.end());
  v.id = ledger::Sha256(v.payload);
  return v;
}

bool TestValueValidator::IsValid(uint64_t height, const Value& value) {
  const Bytes& p = value.payload;
  if (p.size() < 11 || p[0] != 'b' || p[1] != 'l' || p[2] != 'k') return false;
  if (ledger::DecodeFixed64(p.data() + 3) != height) return false;
  if (p.size() > 11 && p[11] == 'X') return false;
  return ledger::Sha256(p) == value.id;
}

}  // namespace certledger::consensus::testing
