// Canonical encoding: the golden worked example of docs/FORMAT.md, round trips of every record,
// strict rejection of every malformed input, and a deterministic mutation fuzz loop.
#include "ledger/encoding.h"

#include <gtest/gtest.h>

#include <atomic>
#include <cstdlib>
#include <new>
#include <random>
#include <string>
#include <vector>

#include "ledger/coding.h"
#include "ledger/crypto.h"
#include "ledger/identifier.h"
#include "ledger/state.h"
#include "ledger/types.h"

// ---- allocation probe --------------------------------------------------------------------------
// The test binary replaces the global (non-aligned) operator new/delete so that a test can assert
// that decoding a forged count never makes a large allocation. Tracking is off unless a test
// turns it on; everything is forwarded to malloc/free.
namespace {
std::atomic<bool> g_track_allocations{false};
std::atomic<size_t> g_largest_allocation{0};

void* TrackedMalloc(size_t n) {
  if (g_track_allocations.load(std::memory_order_relaxed)) {
    size_t cur = g_largest_allocation.load(std::memory_order_relaxed);
    while (n > cur && !g_largest_allocation.compare_exchange_weak(cur, n)) {
    }
  }
  return std::malloc(n == 0 ? 1 : n);
}
void* TrackedNew(size_t n) {
  void* p = TrackedMalloc(n);
  if (p == nullptr) throw std::bad_alloc();
  return p;
}
}  // namespace

void* operator new(size_t n) { return TrackedNew(n); }
void* operator new[](size_t n) { return TrackedNew(n); }
void* operator new(size_t n, const std::nothrow_t&) noexcept { return TrackedMalloc(n); }
void* operator new[](size_t n, const std::nothrow_t&) noexcept { return TrackedMalloc(n); }
void operator delete(void* p) noexcept { std::free(p); }
void operator delete[](void* p) noexcept { std::free(p); }
void operator delete(void* p, size_t) noexcept { std::free(p); }
void operator delete[](void* p, size_t) noexcept { std::free(p); }
void operator delete(void* p, const std::nothrow_t&) noexcept { std::free(p); }
void operator delete[](void* p, const std::nothrow_t&) noexcept { std::free(p); }

namespace certledger::ledger {
namespace {

using StateChangeList = std::vector<StateChange>;

// ---- helpers -----------------------------------------------------------------------------------

PrivateKey KeyFromByte(uint8_t b) {
  std::array<uint8_t, 32> s{};
  s[31] = b;
  return *PrivateKey::FromBytes(s);
}
PublicKey Pub(uint8_t b) { return KeyFromByte(b).public_key(); }
Hash256 H(uint8_t seed) {
  Hash256 h;
  for (size_t i = 0; i < h.size(); ++i) h.bytes[i] = static_cast<uint8_t>(seed + 7 * i);
  return h;
}
Signature Sig(uint8_t seed) {
  Signature s;
  for (size_t i = 0; i < s.size(); ++i) s.bytes[i] = static_cast<uint8_t>(seed ^ (3 * i));
  return s;
}
Bytes HexBytes(std::string_view hex) {
  auto b = FromHex(hex);
  EXPECT_TRUE(b.has_value()) << hex;
  return b.value_or(Bytes{});
}
Bytes WithU32(Bytes b, size_t off, uint32_t v) {
  EncodeFixed32(b.data() + off, v);
  return b;
}
Bytes WithByte(Bytes b, size_t off, uint8_t v) {
  b[off] = v;
  return b;
}
bool Contains(std::string_view haystack, std::string_view needle) {
  return haystack.find(needle) != std::string_view::npos;
}

// ---- the worked example of docs/FORMAT.md §4.8 -------------------------------------------------

constexpr std::string_view kExampleChainId = "cn-water-example";
constexpr std::string_view kExampleAgency = "11110000000021135M";
constexpr std::string_view kExampleIdentifier =
    "1.2.156.3005.2.11100000000013338W011.11110000000021135M.20230329701.001.1";
constexpr std::string_view kExampleHolderCreditCode = "91110108MA01B2C3D0";
constexpr std::string_view kExampleHolderName = "北京示例水务有限公司";
constexpr int64_t kExampleNotBefore = 1680048000;  // 2023-03-29T00:00:00Z
constexpr int64_t kExampleNotAfter = 1837900800;   // 2028-03-29T00:00:00Z
constexpr int64_t kExampleIssuedAt = 1680076800;   // 2023-03-29T08:00:00Z

// The strings below are copied verbatim from docs/FORMAT.md; the two must agree.
constexpr std::string_view kExampleHolderHex =
    "011200000039313131303130384d4130314232433344301e000000e58c97e4baace7a4bae4be8be6b0b4e58aa1"
    "e69c89e99990e585ace58fb8000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";
constexpr std::string_view kExampleHolderCommitment =
    "ce51461b2ece84b77a4cc7820009f2af60e0bd2c540c7bde8de887cbd5467cf1";
constexpr std::string_view kExampleDocumentHex =
    "0110000000636e2d77617465722d6578616d706c6549000000312e322e3135362e333030352e322e3131313030"
    "303030303030303133333338573031312e31313131303030303030303032313133354d2e323032333033323937"
    "30312e3030312e311200000031313131303030303030303032313133354d01011200000039313131303130384d"
    "4130314232433344301e000000e58c97e4baace7a4bae4be8be6b0b4e58aa1e69c89e99990e585ace58fb80001"
    "02030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f807f23640000000000248c6d000000"
    "0000f023640000000001110000004231313030303053323032332d30303031011e000000e58c97e4baace7a4ba"
    "e4be8be6b0b4e58aa1e69c89e99990e585ace58fb81200000039313131303130384d4130314232433344300160"
    "e31600000000000c000000e5b7a5e4b89ae794a8e6b0b412000000e58c97e4baace5b882e6b5b7e6b780e58cba"
    "060000003131303130380c000000e6b3b5e7ab99e68f90e6b0b400000000010000000d00000031e58fb7e58f96"
    "e6b0b4e58fa3b29dee060000000044bd61020000000001010000000000";
constexpr std::string_view kExampleDocumentHash =
    "e7a5ecabd1c9314deeb4f6ede0c12070eb9eb679c2d59226b6d17e143395ec1c";
constexpr std::string_view kExampleTxHex =
    "0110000000636e2d77617465722d6578616d706c651200000031313131303030303030303032313133354d0100"
    "0000000000000149000000312e322e3135362e333030352e322e31313130303030303030303031333333385730"
    "31312e31313131303030303030303032313133354d2e32303233303332393730312e3030312e31e7a5ecabd1c9"
    "314deeb4f6ede0c12070eb9eb679c2d59226b6d17e143395ec1cce51461b2ece84b77a4cc7820009f2af60e0bd"
    "2c540c7bde8de887cbd5467cf1807f23640000000000248c6d0000000001110000004231313030303053323032"
    "332d30303031011e000000e58c97e4baace7a4bae4be8be6b0b4e58aa1e69c89e99990e585ace58fb812000000"
    "39313131303130384d4130314232433344300160e31600000000000c000000e5b7a5e4b89ae794a8e6b0b41200"
    "0000e58c97e4baace5b882e6b5b7e6b780e58cba060000003131303130380c000000e6b3b5e7ab99e68f90e6b0"
    "b400000000010000000d00000031e58fb7e58f96e6b0b4e58fa3b29dee060000000044bd610200000000010100"
    "000000";
constexpr std::string_view kExampleTxId =
    "8c03947864705ef79ce99b369bbb57c581499aa29a933f67fa7b4bee4438a987";
// The worked example's chain: genesis hash 01 02 03 .. 20 (FORMAT.md §4.9).
constexpr std::string_view kExampleGenesisHash =
    "0102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f20";
Hash256 ExampleGenesisHash() { return *Hash256::FromHexString(kExampleGenesisHash); }
constexpr std::string_view kExampleSigningDigest =
    "09a6034d55a8762777654550b332ae362dda8e03ba65e2d076218a30b7d1fd57";
constexpr std::string_view kExamplePublicKey =
    "79be667ef9dcbbac55a06295ce870b07029bfcdb2dce28d959f2815b16f81798";
constexpr std::string_view kExampleSignature =
    "1b1d3c59418d3e6cd624a6ad7c7aa7ab4cdd0539d4c1da0cdc340a52ffc0123ea64bee3ee2756b6242ed42eb22"
    "ce68c2dce72755f1414843cbd77825a96e3cd1";
// SignedTransaction = Transaction || u32 count (1) || signer || signature.
constexpr std::string_view kExampleSignatureListHex = "01000000";

std::string Cat(std::initializer_list<std::string_view> parts) {
  std::string out;
  for (auto p : parts) out += p;
  return out;
}

WaterPermitSummary ExampleSummary() {
  WaterPermitSummary s;
  s.permit_number = "B110000S2023-0001";
  s.holder_kind = HolderKind::kOrganisation;
  s.holder_name = std::string(kExampleHolderName);
  s.holder_credit_code = std::string(kExampleHolderCreditCode);
  s.source = WaterSource::kSurface;
  s.annual_quantity_m3 = 1500000;
  s.purpose = "工业用水";
  s.location = "北京市海淀区";
  s.division = "110108";
  s.method = "泵站提水";
  s.return_location = "";
  s.intakes.push_back(
      {"1号取水口", 116301234, 39959876, WaterSource::kSurface, IntakeState::kInUse, ""});
  return s;
}

Holder ExampleHolder() {
  Holder h;
  h.id_type = HolderIdType::kCreditCode;
  h.id_number = std::string(kExampleHolderCreditCode);
  h.name = std::string(kExampleHolderName);
  for (size_t i = 0; i < 32; ++i) h.salt.bytes[i] = static_cast<uint8_t>(i);
  return h;
}

CertificateDocument ExampleDocument() {
  CertificateDocument d;
  d.chain_id = std::string(kExampleChainId);
  d.identifier = std::string(kExampleIdentifier);
  d.issuer = std::string(kExampleAgency);
  d.type = CertType::kWaterAbstractionPermit;
  d.holder = ExampleHolder();
  d.not_before = kExampleNotBefore;
  d.not_after = kExampleNotAfter;
  d.issued_at = kExampleIssuedAt;
  d.summary = ExampleSummary();
  return d;
}

Transaction ExampleTransaction() {
  IssueEvent e;
  e.identifier = std::string(kExampleIdentifier);
  e.document_hash = DocumentHash(ExampleDocument());
  e.holder_commitment = HolderCommitment(ExampleHolder());
  e.not_before = kExampleNotBefore;
  e.not_after = kExampleNotAfter;
  e.summary = ExampleSummary();
  Transaction tx;
  tx.chain_id = std::string(kExampleChainId);
  tx.agency = std::string(kExampleAgency);
  tx.sequence = 1;
  tx.event = e;
  return tx;
}

TEST(EncodingGoldenTest, WorkedExampleMatchesFormatDocument) {
  // Identifiers used by the example are themselves valid.
  ASSERT_TRUE(ParseCertificateId(kExampleIdentifier).has_value());
  EXPECT_TRUE(CreditCodeCheckOk(kExampleAgency));
  EXPECT_TRUE(CreditCodeCheckOk(kExampleHolderCreditCode));

  EXPECT_EQ(ToHex(Encode(ExampleHolder())), kExampleHolderHex);
  EXPECT_EQ(HolderCommitment(ExampleHolder()).Hex(), kExampleHolderCommitment);
  EXPECT_EQ(ToHex(Encode(ExampleDocument())), kExampleDocumentHex);
  EXPECT_EQ(DocumentHash(ExampleDocument()).Hex(), kExampleDocumentHash);

  const Transaction tx = ExampleTransaction();
  EXPECT_EQ(ToHex(Encode(tx)), kExampleTxHex);
  EXPECT_EQ(TxHash(tx).Hex(), kExampleTxId);
  EXPECT_EQ(TxSigningDigest(tx, ExampleGenesisHash()).Hex(), kExampleSigningDigest);

  const PrivateKey key = KeyFromByte(1);
  EXPECT_EQ(key.public_key().Hex(), kExamplePublicKey);
  const std::array<uint8_t, 32> aux{};
  const Hash256 digest = TxSigningDigest(tx, ExampleGenesisHash());
  const Signature sig = key.Sign(digest.span(), aux);
  EXPECT_EQ(sig.Hex(), kExampleSignature);
  EXPECT_TRUE(Verify(key.public_key(), digest, sig));

  SignedTransaction stx{tx, {{key.public_key(), sig}}};
  const std::string stx_hex =
      Cat({kExampleTxHex, kExampleSignatureListHex, kExamplePublicKey, kExampleSignature});
  EXPECT_EQ(ToHex(Encode(stx)), stx_hex);
  EXPECT_EQ(ToHex(TxLeaf(stx)), stx_hex);
  EXPECT_EQ(Encode(stx).size(), 508u);

  // A reader of the document reproduces the hashes from the bytes alone.
  EXPECT_EQ(Sha256(HexBytes(kExampleTxHex)).Hex(), kExampleTxId);
  EXPECT_EQ(Sha256(HexBytes(kExampleDocumentHex)).Hex(), kExampleDocumentHash);
  EXPECT_EQ(TaggedHash("certledger/holder", HexBytes(kExampleHolderHex)).Hex(),
            kExampleHolderCommitment);
  Bytes msg = {static_cast<uint8_t>(kExampleChainId.size()), 0};
  msg.insert(msg.end(), kExampleChainId.begin(), kExampleChainId.end());
  Bytes genesis = HexBytes(kExampleGenesisHash);
  msg.insert(msg.end(), genesis.begin(), genesis.end());
  Bytes txb = HexBytes(kExampleTxHex);
  msg.insert(msg.end(), txb.begin(), txb.end());
  EXPECT_EQ(TaggedHash("certledger/tx", msg).Hex(), kExampleSigningDigest);

  auto decoded = Decode<SignedTransaction>(HexBytes(stx_hex));
  ASSERT_TRUE(decoded.ok()) << decoded.status().ToString();
  EXPECT_EQ(*decoded, stx);
}

TEST(EncodingGoldenTest, ErrorMessagesQuotedInFormatDocument) {
  const Bytes tx = HexBytes(kExampleTxHex);
  const Bytes stx = HexBytes(
      Cat({kExampleTxHex, kExampleSignatureListHex, kExamplePublicKey, kExampleSignature}));
  EXPECT_EQ(Decode<Transaction>(WithByte(tx, 51, 11)).status().message(),
            "decode Transaction: unknown enum value 11 at offset 51");
  EXPECT_EQ(Decode<SignedTransaction>(WithU32(stx, 408, 0xFFFFFFFF)).status().message(),
            "decode SignedTransaction: length 4294967295 at offset 408 exceeds the 96 bytes that "
            "remain");
  EXPECT_EQ(Decode<SignedTransaction>(ByteSpan(stx).first(397)).status().message(),
            "decode SignedTransaction: truncated input at offset 394: need 8 bytes, 3 left");
  Bytes longer = stx;
  longer.push_back(0);
  EXPECT_EQ(Decode<SignedTransaction>(longer).status().message(),
            "decode SignedTransaction: 1 trailing bytes");
}

TEST(EncodingGoldenTest, DerivedHashesFollowTheirDefinitions) {
  // Vote digest: SigningDigest("certledger/vote", chain, u8 type || u64 height || u32 round ||
  // optional block id).
  const Hash256 block = H(9);
  Bytes p = {2, 0x2a, 0, 0, 0, 0, 0, 0, 0, 3, 0, 0, 0, 1};
  p.insert(p.end(), block.bytes.begin(), block.bytes.end());
  const ChainDomain c{"c", H(7)};
  EXPECT_EQ(VoteSigningDigest(c, VoteType::kPrecommit, 42, 3, block),
            SigningDigest("certledger/vote", c, p));
  Bytes nil = {1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0};
  EXPECT_EQ(VoteSigningDigest(c, VoteType::kPrevote, 1, 0, std::nullopt),
            SigningDigest("certledger/vote", c, nil));
  // SigningDigest = TaggedHash(tag, u16le(len(chain)) || chain || genesis hash || payload).
  Bytes m = {1, 0, 'c'};
  m.insert(m.end(), c.genesis_hash.bytes.begin(), c.genesis_hash.bytes.end());
  m.insert(m.end(), p.begin(), p.end());
  EXPECT_EQ(SigningDigest("certledger/vote", c, p), TaggedHash("certledger/vote", m));
  // TaggedHash(tag, msg) = SHA256(SHA256(tag) || SHA256(tag) || msg).
  Hash256 t = Sha256(AsBytes("certledger/vote"));
  Bytes th(t.bytes.begin(), t.bytes.end());
  th.insert(th.end(), t.bytes.begin(), t.bytes.end());
  th.insert(th.end(), m.begin(), m.end());
  EXPECT_EQ(TaggedHash("certledger/vote", m), Sha256(th));

  // A change list: seq<StateChange> (the state root is the state tree's, smt_test.cc).
  StateChangeList changes = {{"params", Bytes{1, 2}}, {"seq/x", Bytes{}}};
  Bytes expected_changes = {2, 0, 0, 0, 6, 0, 0, 0,   'p', 'a', 'r', 'a', 'm', 's', 2, 0, 0,
                            0, 1, 2, 5, 0, 0, 0, 's', 'e', 'q', '/', 'x', 0,   0,   0, 0};
  EXPECT_EQ(Encode(changes), expected_changes);

  // Block id and validator set hash: plain SHA-256 of the encoding.
  BlockHeader h;
  h.chain_id = "c";
  EXPECT_EQ(BlockHash(h), Sha256(Encode(h)));
  ValidatorSet vs{{{Pub(1), 1, "a", Pub(2)}}};
  EXPECT_EQ(vs.Hash(), Sha256(Encode(vs)));
}

// ---- sample records with non-trivial values ----------------------------------------------------

Agency SampleAgency(AgencyKind kind = AgencyKind::kRiverBasin) {
  return {"12100000000133057R", "水利部长江水利委员会", kind, "420000", {Pub(2), Pub(3)}};
}

ValidatorSet SampleValidatorSet() {
  ValidatorSet s;
  s.validators = {{Pub(4), 10, "11110000000021135M", Pub(7)},
                  {Pub(5), 1ULL << 40, "12100000000133057R", Pub(8)},
                  {Pub(6), 1, "", Pub(9)}};
  return s;
}

WaterPermitSummary SampleSummary(HolderKind kind = HolderKind::kOrganisation) {
  WaterPermitSummary s = ExampleSummary();
  s.holder_kind = kind;
  if (kind == HolderKind::kIndividual) {
    s.holder_name.clear();
    s.holder_credit_code.clear();
  }
  s.source = WaterSource::kGroundwater;
  s.annual_quantity_m3 = UINT64_MAX;
  s.return_location = "清河";
  s.intakes.push_back({"2号井", -180000000, -90000000, WaterSource::kGroundwater,
                       IntakeState::kEmergencyBackup, "第四系孔隙水"});
  s.intakes.push_back({"3号井", INT64_MIN, INT64_MAX, WaterSource::kGroundwater,
                       IntakeState::kSealed, "奥陶系灰岩"});
  return s;
}

Holder SampleHolder(HolderIdType t = HolderIdType::kCitizenId) {
  return {t, "110101199003078515", "张三", H(40)};
}

CertificateDocument SampleDocument(bool with_previous) {
  CertificateDocument d = ExampleDocument();
  d.holder = SampleHolder();
  d.summary = SampleSummary(HolderKind::kIndividual);
  d.not_before = -1;
  if (with_previous) d.previous_document = H(50);
  return d;
}

std::vector<Event> AllEvents() {
  std::vector<Event> events;
  events.push_back(
      IssueEvent{std::string(kExampleIdentifier), H(1), H(2), 100, 200, SampleSummary()});
  events.push_back(ChangeEvent{"1.2.156.3005.2.x.002.Z",
                               H(3),
                               H(4),
                               SampleSummary(),
                               {"purpose", "intakes", "annual_quantity_m3"}});
  events.push_back(
      ChangeEvent{"id", H(5), std::nullopt, SampleSummary(HolderKind::kIndividual), {}});
  events.push_back(RenewEvent{"1.2.156.3005.2.x.003.Q", H(6), INT64_MAX});
  events.push_back(SuspendEvent{"1.2.156.3005.2.base", "超许可水量取水"});
  events.push_back(ResumeEvent{"1.2.156.3005.2.base", ""});
  for (RevocationKind k :
       {RevocationKind::kWithdrawn, RevocationKind::kCancelled, RevocationKind::kRevoked}) {
    events.push_back(RevokeEvent{"1.2.156.3005.2.base", k, "连续两年未取水"});
  }
  events.push_back(TransferEvent{"1.2.156.3005.2.base", "12100000000133057R"});
  for (AgencyKind k : {AgencyKind::kProvince, AgencyKind::kRiverBasin, AgencyKind::kMinistry}) {
    events.push_back(RegisterAgencyEvent{SampleAgency(k)});
  }
  events.push_back(UpdateValidatorsEvent{SampleValidatorSet()});
  events.push_back(UpdateValidatorsEvent{ValidatorSet{}});
  return events;
}

Transaction SampleTransaction(const Event& e, uint64_t seq) {
  return {"chain-Ω", "11110000000021135M", seq, e};
}

SignedTransaction SampleSignedTransaction(size_t signatures = 3) {
  SignedTransaction s{ExampleTransaction(), {}};
  for (size_t i = 0; i < signatures; ++i) {
    s.signatures.push_back({Pub(static_cast<uint8_t>(10 + i)), Sig(static_cast<uint8_t>(i))});
  }
  return s;
}

BlockHeader SampleHeader() {
  return {"cn-water", 7, -5, H(10), H(11), 12345, H(12), H(13), H(14), Pub(7)};
}

Block SampleBlock() {
  Block b{SampleHeader(), {}};
  auto events = AllEvents();
  for (size_t i = 0; i < events.size(); ++i) {
    SignedTransaction s{SampleTransaction(events[i], i + 1), {}};
    for (size_t k = 0; k < i % 3; ++k)
      s.signatures.push_back({Pub(static_cast<uint8_t>(20 + k)), Sig(static_cast<uint8_t>(k))});
    b.txs.push_back(s);
  }
  return b;
}

CommitCertificate SampleCommit() {
  return {UINT64_MAX, 4, H(20), {{Pub(4), Sig(1)}, {Pub(5), Sig(2)}, {Pub(6), Sig(3)}}};
}

CertificateState SampleCertificateState(CertStatus status = CertStatus::kSuspended) {
  CertificateState c;
  c.base_id = "1.2.156.3005.2.11100000000013338W011.11110000000021135M.20230329701";
  c.type = CertType::kWaterAbstractionPermit;
  c.issuer = "11110000000021135M";
  c.controller = "12100000000133057R";
  c.holder_commitment = H(30);
  c.summary = SampleSummary();
  c.not_before = 1;
  c.not_after = 2;
  c.version = 3;
  c.status = status;
  c.status_reason = "暂扣";
  c.versions = {{1, H(31)}, {2, H(32)}, {3, H(33)}};
  uint64_t i = 0;
  for (EventType t : {EventType::kIssue, EventType::kChange, EventType::kRenew, EventType::kSuspend,
                      EventType::kResume, EventType::kRevoke, EventType::kTransfer,
                      EventType::kRegisterAgency, EventType::kUpdateValidators}) {
    c.history.push_back({t, 10 + i, 100 + i, H(static_cast<uint8_t>(60 + i))});
    ++i;
  }
  return c;
}

PendingValidators SamplePending() { return {9, SampleValidatorSet()}; }

StateChangeList SampleChanges() {
  return {{AgencyKey("12100000000133057R"), Encode(SampleAgency())},
          {std::string(kPendingValidatorsKey), Bytes{}},
          {SequenceKey("12100000000133057R"), Bytes{5, 0, 0, 0, 0, 0, 0, 0}}};
}

ChainParams SampleParams() {
  return {"cn-water", 315360000, 5000, 65536, 8u << 20, "11100000000013338W011"};
}

// ---- generic checks ----------------------------------------------------------------------------

template <class T>
void ExpectRoundTrip(const T& value) {
  const Bytes enc = Encode(value);
  auto dec = Decode<T>(enc);
  ASSERT_TRUE(dec.ok()) << dec.status().ToString();
  EXPECT_TRUE(*dec == value);
  EXPECT_EQ(Encode(*dec), enc);
}

template <class T>
Status DecodeStatus(ByteSpan in) {
  return Decode<T>(in).status();
}

// Decoding `in` fails with InvalidArgument whose message starts "decode <name>: " and contains
// `cause`.
template <class T>
void ExpectDecodeError(ByteSpan in, std::string_view name, std::string_view cause) {
  Status st = DecodeStatus<T>(in);
  ASSERT_FALSE(st.ok()) << "decoded although it should fail: " << cause;
  EXPECT_TRUE(st.IsInvalidArgument()) << st.ToString();
  EXPECT_EQ(st.message().rfind("decode " + std::string(name) + ": ", 0), 0u) << st.message();
  EXPECT_TRUE(Contains(st.message(), cause)) << st.message() << " does not name " << cause;
}

// Every strict prefix fails as truncated (or as a count beyond the end), one appended byte fails
// as trailing.
template <class T>
void ExpectStrict(const T& value, std::string_view name) {
  const Bytes enc = Encode(value);
  for (size_t n = 0; n < enc.size(); ++n) {
    Status st = DecodeStatus<T>(ByteSpan(enc.data(), n));
    ASSERT_FALSE(st.ok()) << name << ": prefix of " << n << " of " << enc.size() << " decoded";
    ASSERT_TRUE(Contains(st.message(), "truncated input at offset") ||
                Contains(st.message(), "bytes that remain"))
        << st.message();
  }
  Bytes longer = enc;
  longer.push_back(0);
  ExpectDecodeError<T>(longer, name, "1 trailing bytes");
}

uint32_t GetU32(const Bytes& b, size_t off) { return DecodeFixed32(b.data() + off); }

// A count field at `off` set to 0xFFFFFFFF, or to one more than the bytes after it, fails with
// "exceeds" and without any allocation larger than the input.
template <class T>
void ExpectForgedCountRejected(const T& value, size_t off, std::string_view name) {
  const Bytes enc = Encode(value);
  ASSERT_LE(off + 4, enc.size());
  const uint32_t remaining = static_cast<uint32_t>(enc.size() - off - 4);
  ASSERT_LE(GetU32(enc, off), remaining) << name << ": no count at offset " << off;
  for (uint32_t forged : {0xFFFFFFFFu, 0x7FFFFFFFu, remaining + 1}) {
    SCOPED_TRACE(std::string(name) + " count at " + std::to_string(off) + " = " +
                 std::to_string(forged));
    const Bytes bad = WithU32(enc, off, forged);
    g_largest_allocation = 0;
    g_track_allocations = true;
    Status st = DecodeStatus<T>(bad);
    g_track_allocations = false;
    ASSERT_FALSE(st.ok());
    EXPECT_TRUE(Contains(st.message(), "length " + std::to_string(forged) + " at offset " +
                                           std::to_string(off) + " exceeds the"))
        << st.message();
    EXPECT_LE(g_largest_allocation.load(), 64 * enc.size() + 4096);
  }
}

void ExpectVersionChecked(const Bytes& enc, size_t off, auto decode_status, uint8_t version = 1) {
  ASSERT_EQ(enc[off], version);
  for (uint8_t v : {uint8_t{0}, static_cast<uint8_t>(version == 1 ? 2 : 1), uint8_t{255}}) {
    Status st = decode_status(WithByte(enc, off, v));
    ASSERT_FALSE(st.ok());
    EXPECT_TRUE(Contains(st.message(), "unsupported format version " + std::to_string(v) +
                                           " at offset " + std::to_string(off)))
        << st.message();
  }
}

// The offset of the one byte in which two equally long encodings differ.
size_t OnlyDifference(const Bytes& a, const Bytes& b) {
  EXPECT_EQ(a.size(), b.size());
  size_t found = SIZE_MAX;
  for (size_t i = 0; i < std::min(a.size(), b.size()); ++i) {
    if (a[i] != b[i]) {
      EXPECT_EQ(found, SIZE_MAX) << "more than one byte differs";
      found = i;
    }
  }
  EXPECT_NE(found, SIZE_MAX);
  return found;
}

// At `off` of `enc` is an enum byte: every value in `known` decodes and re-encodes identically,
// every value in `unknown` fails naming the value and the offset.
template <class T>
void ExpectEnumChecked(const Bytes& enc, size_t off, std::initializer_list<uint8_t> known,
                       std::initializer_list<uint8_t> unknown) {
  for (uint8_t v : known) {
    Bytes b = WithByte(enc, off, v);
    auto r = Decode<T>(b);
    ASSERT_TRUE(r.ok()) << "value " << int{v} << ": " << r.status().ToString();
    EXPECT_EQ(Encode(*r), b);
  }
  for (uint8_t v : unknown) {
    Status st = DecodeStatus<T>(WithByte(enc, off, v));
    ASSERT_FALSE(st.ok()) << "value " << int{v} << " decoded";
    EXPECT_TRUE(Contains(st.message(), "unknown enum value " + std::to_string(v) + " at offset " +
                                           std::to_string(off)))
        << st.message();
  }
}

// ---- round trips -------------------------------------------------------------------------------

TEST(EncodingRoundTripTest, EveryRecordType) {
  for (AgencyKind k : {AgencyKind::kProvince, AgencyKind::kRiverBasin, AgencyKind::kMinistry})
    ExpectRoundTrip(SampleAgency(k));
  ExpectRoundTrip(Agency{});
  ExpectRoundTrip(SampleValidatorSet().validators[1]);
  ExpectRoundTrip(SampleValidatorSet());
  ExpectRoundTrip(ValidatorSet{});
  ExpectRoundTrip(SampleSummary(HolderKind::kOrganisation));
  ExpectRoundTrip(SampleSummary(HolderKind::kIndividual));
  ExpectRoundTrip(WaterPermitSummary{});
  ExpectRoundTrip(CertSummary{SampleSummary()});
  ExpectRoundTrip(SampleHolder(HolderIdType::kCreditCode));
  ExpectRoundTrip(SampleHolder(HolderIdType::kCitizenId));
  ExpectRoundTrip(SampleDocument(true));
  ExpectRoundTrip(SampleDocument(false));
  for (const Event& e : AllEvents()) {
    SCOPED_TRACE(EventTypeName(TypeOf(e)));
    ExpectRoundTrip(e);
    ExpectRoundTrip(SampleTransaction(e, 1));
    ExpectRoundTrip(SignedTransaction{SampleTransaction(e, 2), {{Pub(1), Sig(1)}}});
  }
  ExpectRoundTrip(SampleSignedTransaction(0));
  ExpectRoundTrip(SampleSignedTransaction(3));
  ExpectRoundTrip(SampleHeader());
  ExpectRoundTrip(SampleBlock());
  ExpectRoundTrip(Block{SampleHeader(), {}});
  ExpectRoundTrip(SampleCommit());
  ExpectRoundTrip(CommitCertificate{});
  for (CertStatus s : {CertStatus::kValid, CertStatus::kSuspended, CertStatus::kWithdrawn,
                       CertStatus::kCancelled, CertStatus::kRevoked}) {
    ExpectRoundTrip(SampleCertificateState(s));
  }
  ExpectRoundTrip(DocumentRef{"1.2.156.3005.2.a.b.c", 999});
  ExpectRoundTrip(SamplePending());
  ExpectRoundTrip(SampleChanges()[0]);
  ExpectRoundTrip(SampleChanges()[1]);
  ExpectRoundTrip(SampleChanges());
  ExpectRoundTrip(StateChangeList{});
  ExpectRoundTrip(SampleParams());
}

TEST(EncodingRoundTripTest, PrimitiveLayout) {
  // Integers are little-endian two's complement; strings are u32 length + bytes.
  DocumentRef d{"ab", 0x01020304};
  EXPECT_EQ(ToHex(Encode(d)),
            "020000006162"
            "04030201");
  Validator v{Pub(1), 0x0102030405060708ULL, "", Pub(1)};
  EXPECT_EQ(ToHex(Encode(v)), std::string(kExamplePublicKey) +
                                  "0807060504030201"
                                  "00000000" +
                                  std::string(kExamplePublicKey));
  BlockHeader h;
  h.time_ms = -2;
  Bytes enc = Encode(h);
  EXPECT_EQ(enc.size(), 1u + 4 + 8 + 8 + 32 + 32 + 8 + 32 + 32 + 32 + 32);
  EXPECT_EQ(ToHex(ByteSpan(enc).subspan(13, 8)), "feffffffffffffff");
  // Optional: 0 absent, 1 then the value.
  Bytes absent = Encode(SampleDocument(false));
  Bytes present = Encode(SampleDocument(true));
  ASSERT_EQ(present.size(), absent.size() + 32);
  EXPECT_EQ(absent.back(), 0);
  EXPECT_EQ(present[absent.size() - 1], 1);
}

// ---- rejections --------------------------------------------------------------------------------

TEST(EncodingRejectTest, TruncatedAndTrailing) {
  ExpectStrict(SampleAgency(), "Agency");
  ExpectStrict(SampleValidatorSet().validators[0], "Validator");
  ExpectStrict(SampleValidatorSet(), "ValidatorSet");
  ExpectStrict(SampleSummary(), "WaterPermitSummary");
  ExpectStrict(CertSummary{SampleSummary()}, "CertSummary");
  ExpectStrict(SampleHolder(), "Holder");
  ExpectStrict(SampleDocument(true), "CertificateDocument");
  ExpectStrict(SampleDocument(false), "CertificateDocument");
  for (const Event& e : AllEvents()) {
    SCOPED_TRACE(EventTypeName(TypeOf(e)));
    ExpectStrict(e, "Event");
    ExpectStrict(SampleTransaction(e, 1), "Transaction");
  }
  ExpectStrict(SampleSignedTransaction(), "SignedTransaction");
  ExpectStrict(SampleHeader(), "BlockHeader");
  ExpectStrict(SampleBlock(), "Block");
  ExpectStrict(SampleCommit(), "CommitCertificate");
  ExpectStrict(SampleCertificateState(), "CertificateState");
  ExpectStrict(DocumentRef{"x", 1}, "DocumentRef");
  ExpectStrict(SamplePending(), "PendingValidators");
  ExpectStrict(SampleChanges()[0], "StateChange");
  ExpectStrict(SampleChanges(), "StateChangeList");
  ExpectStrict(SampleParams(), "ChainParams");
}

TEST(EncodingRejectTest, UnknownVersionByte) {
  // Validator sets are at version 2 (validators name their node identity).
  ExpectVersionChecked(Encode(SampleValidatorSet()), 0, DecodeStatus<ValidatorSet>, 2);
  ExpectVersionChecked(Encode(SampleDocument(true)), 0, DecodeStatus<CertificateDocument>);
  ExpectVersionChecked(Encode(ExampleTransaction()), 0, DecodeStatus<Transaction>);
  ExpectVersionChecked(Encode(SampleSignedTransaction()), 0, DecodeStatus<SignedTransaction>);
  ExpectVersionChecked(Encode(SampleHeader()), 0, DecodeStatus<BlockHeader>);
  ExpectVersionChecked(Encode(SampleBlock()), 0, DecodeStatus<Block>);
  ExpectVersionChecked(Encode(SampleCommit()), 0, DecodeStatus<CommitCertificate>);
  ExpectVersionChecked(Encode(SampleCertificateState()), 0, DecodeStatus<CertificateState>);
  ExpectVersionChecked(Encode(SampleParams()), 0, DecodeStatus<ChainParams>);
  // Nested: the validator set inside PendingValidators and inside an UpdateValidatorsEvent.
  ExpectVersionChecked(Encode(SamplePending()), 8, DecodeStatus<PendingValidators>, 2);
  ExpectVersionChecked(Encode(Event{UpdateValidatorsEvent{SampleValidatorSet()}}), 1,
                       DecodeStatus<Event>, 2);
  // The transaction inside the second transaction of a block.
  Block b = SampleBlock();
  const size_t second_tx = Encode(b.header).size() + 4 + Encode(b.txs[0]).size();
  ExpectVersionChecked(Encode(b), second_tx, DecodeStatus<Block>);
}

TEST(EncodingRejectTest, NonCanonicalBool) {
  // Optional presence flags are the bools of the format: only 0 and 1 are accepted.
  const Bytes absent = Encode(SampleDocument(false));
  const Bytes present = Encode(SampleDocument(true));
  for (uint8_t v : {uint8_t{2}, uint8_t{0x80}, uint8_t{0xFF}}) {
    ExpectDecodeError<CertificateDocument>(WithByte(absent, absent.size() - 1, v),
                                           "CertificateDocument",
                                           "non-canonical bool " + std::to_string(v) +
                                               " at offset " + std::to_string(absent.size() - 1));
    ExpectDecodeError<CertificateDocument>(WithByte(present, absent.size() - 1, v),
                                           "CertificateDocument", "non-canonical bool");
  }
  // Presence 1 without the value is truncated; presence 0 with the value leaves trailing bytes.
  ExpectDecodeError<CertificateDocument>(WithByte(absent, absent.size() - 1, 1),
                                         "CertificateDocument", "truncated");
  ExpectDecodeError<CertificateDocument>(WithByte(present, absent.size() - 1, 0),
                                         "CertificateDocument", "32 trailing bytes");

  // ChangeEvent.holder_commitment: u8 tag, identifier, document hash, then the flag.
  const Event change = AllEvents()[1];
  const size_t flag = 1 + 4 + std::get<ChangeEvent>(change).identifier.size() + 32;
  const Bytes enc = Encode(change);
  ASSERT_EQ(enc[flag], 1);
  ExpectDecodeError<Event>(WithByte(enc, flag, 2), "Event",
                           "non-canonical bool 2 at offset " + std::to_string(flag));
}

TEST(EncodingRejectTest, UnknownEnumValues) {
  {  // AgencyKind
    Bytes a = Encode(SampleAgency(AgencyKind::kProvince));
    size_t off = OnlyDifference(a, Encode(SampleAgency(AgencyKind::kMinistry)));
    ExpectEnumChecked<Agency>(a, off, {1, 2, 3}, {0, 4, 255});
  }
  {  // EventType: the event tag.
    Bytes e = Encode(Event{SuspendEvent{"x", "y"}});
    ExpectEnumChecked<Event>(e, 0, {4, 5}, {0, 11, 12, 255});
    // A known tag with the wrong body fails too (here: an issue event body is much longer).
    ExpectDecodeError<Event>(WithByte(e, 0, 1), "Event", "truncated");
  }
  {  // CertType: the summary tag, the document type and the certificate state type.
    ExpectEnumChecked<CertSummary>(Encode(CertSummary{SampleSummary()}), 0, {1}, {0, 2, 255});
    CertificateDocument d = SampleDocument(false);
    const size_t type_off =
        1 + 4 + d.chain_id.size() + 4 + d.identifier.size() + 4 + d.issuer.size();
    ExpectEnumChecked<CertificateDocument>(Encode(d), type_off, {1}, {0, 2});
    CertificateState c = SampleCertificateState();
    ExpectEnumChecked<CertificateState>(Encode(c), 1 + 4 + c.base_id.size(), {1}, {0, 2});
  }
  {  // HolderKind
    Bytes org = Encode(SampleSummary(HolderKind::kOrganisation));
    WaterPermitSummary s = SampleSummary(HolderKind::kOrganisation);
    s.holder_kind = HolderKind::kIndividual;
    size_t off = OnlyDifference(org, Encode(s));
    ExpectEnumChecked<WaterPermitSummary>(org, off, {1, 2}, {0, 3, 255});
  }
  {  // WaterSource (summary and intake) and IntakeState
    WaterPermitSummary s = SampleSummary();
    const Bytes base = Encode(s);
    WaterPermitSummary t = s;
    t.source = WaterSource::kSurface;
    ExpectEnumChecked<WaterPermitSummary>(base, OnlyDifference(base, Encode(t)), {1, 2}, {0, 3});
    t = s;
    t.intakes[1].source = WaterSource::kSurface;
    ExpectEnumChecked<WaterPermitSummary>(base, OnlyDifference(base, Encode(t)), {1, 2}, {0, 3});
    t = s;
    t.intakes[2].state = IntakeState::kInUse;
    ExpectEnumChecked<WaterPermitSummary>(base, OnlyDifference(base, Encode(t)), {1, 2, 3},
                                          {0, 4, 255});
  }
  {  // HolderIdType
    ExpectEnumChecked<Holder>(Encode(SampleHolder()), 0, {1, 2}, {0, 3, 111});
  }
  {  // RevocationKind
    Bytes r = Encode(Event{RevokeEvent{"x", RevocationKind::kWithdrawn, "y"}});
    size_t off = OnlyDifference(r, Encode(Event{RevokeEvent{"x", RevocationKind::kRevoked, "y"}}));
    ExpectEnumChecked<Event>(r, off, {3, 4, 7}, {0, 1, 2, 5, 6, 8, 255});
  }
  {  // CertStatus and the HistoryEntry's EventType
    CertificateState c = SampleCertificateState(CertStatus::kValid);
    const Bytes base = Encode(c);
    CertificateState d = c;
    d.status = CertStatus::kRevoked;
    ExpectEnumChecked<CertificateState>(base, OnlyDifference(base, Encode(d)), {1, 2, 3, 4, 7},
                                        {0, 5, 6, 8, 99, 255});
    d = c;
    d.history[4].type = EventType::kIssue;
    ExpectEnumChecked<CertificateState>(base, OnlyDifference(base, Encode(d)),
                                        {1, 2, 3, 4, 5, 6, 7, 8, 9, 10}, {0, 11, 255});
  }
}

TEST(EncodingRejectTest, ForgedCounts) {
  {
    Agency a = SampleAgency();
    ExpectForgedCountRejected(a, 0, "Agency");
    ExpectForgedCountRejected(a, 4 + a.id.size() + 4 + a.name.size() + 1 + 4 + a.division.size(),
                              "Agency");
  }
  ExpectForgedCountRejected(SampleValidatorSet().validators[0], 40, "Validator");
  ExpectForgedCountRejected(SampleValidatorSet(), 1, "ValidatorSet");
  {
    WaterPermitSummary s = SampleSummary();
    WaterPermitSummary no_intakes = s;
    no_intakes.intakes.clear();
    ExpectForgedCountRejected(s, 0, "WaterPermitSummary");
    ExpectForgedCountRejected(s, Encode(no_intakes).size() - 4, "WaterPermitSummary");
    ExpectForgedCountRejected(CertSummary{s}, 1, "CertSummary");
  }
  ExpectForgedCountRejected(SampleHolder(), 1, "Holder");
  ExpectForgedCountRejected(SampleDocument(true), 1, "CertificateDocument");
  ExpectForgedCountRejected(AllEvents()[0], 1, "Event");
  ExpectForgedCountRejected(Event{UpdateValidatorsEvent{SampleValidatorSet()}}, 2, "Event");
  {
    const Event change = AllEvents()[1];
    const auto& c = std::get<ChangeEvent>(change);
    WaterPermitSummary s = std::get<WaterPermitSummary>(c.summary);
    const size_t fields = 1 + 4 + c.identifier.size() + 32 + 1 + 32 + 1 + Encode(s).size();
    ExpectForgedCountRejected(change, fields, "Event");
  }
  ExpectForgedCountRejected(ExampleTransaction(), 1, "Transaction");
  {
    SignedTransaction s = SampleSignedTransaction();
    ExpectForgedCountRejected(s, Encode(s.tx).size(), "SignedTransaction");
  }
  ExpectForgedCountRejected(SampleHeader(), 1, "BlockHeader");
  {
    Block b = SampleBlock();
    ExpectForgedCountRejected(b, Encode(b.header).size(), "Block");
  }
  ExpectForgedCountRejected(SampleCommit(), 1 + 8 + 4 + 32, "CommitCertificate");
  {
    CertificateState c = SampleCertificateState();
    ExpectForgedCountRejected(c, 1, "CertificateState");
    CertificateState no_history = c;
    no_history.history.clear();
    ExpectForgedCountRejected(c, Encode(no_history).size() - 4, "CertificateState");
  }
  ExpectForgedCountRejected(DocumentRef{"abc", 1}, 0, "DocumentRef");
  ExpectForgedCountRejected(SamplePending(), 9, "PendingValidators");
  {
    StateChange c = SampleChanges()[0];
    ExpectForgedCountRejected(c, 0, "StateChange");
    ExpectForgedCountRejected(c, 4 + c.key.size(), "StateChange");
  }
  ExpectForgedCountRejected(SampleChanges(), 0, "StateChangeList");
  {
    ChainParams p = SampleParams();
    ExpectForgedCountRejected(p, 1, "ChainParams");
    ExpectForgedCountRejected(p, 1 + 4 + p.chain_id.size() + 8 + 4 + 4 + 4, "ChainParams");
  }
}

TEST(EncodingRejectTest, CountEqualToRemainingBytesStaysBounded) {
  // A count that passes the "at most the remaining bytes" check but whose items do not fit: the
  // decoder grows the vector only as items decode, so memory stays proportional to the input.
  StateChangeList list = SampleChanges();
  Bytes enc = Encode(list);
  const uint32_t remaining = static_cast<uint32_t>(enc.size() - 4);
  g_largest_allocation = 0;
  g_track_allocations = true;
  Status st = DecodeStatus<StateChangeList>(WithU32(enc, 0, remaining));
  g_track_allocations = false;
  EXPECT_FALSE(st.ok());
  EXPECT_LE(g_largest_allocation.load(), 64 * enc.size() + 4096);
}

// ---- deterministic mutation fuzzing ------------------------------------------------------------

template <class T>
void FuzzOne(const Bytes& input, int* decoded_ok) {
  auto r = Decode<T>(input);
  if (!r.ok()) {
    ASSERT_EQ(r.status().message().rfind("decode ", 0), 0u) << r.status().message();
    return;
  }
  ++*decoded_ok;
  // Canonical: whatever decodes re-encodes to exactly the input.
  ASSERT_EQ(ToHex(Encode(*r)), ToHex(input));
}

TEST(EncodingFuzzTest, MutationsNeverCrashAndAcceptedInputIsCanonical) {
  const std::vector<Bytes> blocks = {Encode(SampleBlock()), Encode(Block{SampleHeader(), {}})};
  const std::vector<Bytes> stxs = {
      Encode(SampleSignedTransaction(1)), Encode(SampleSignedTransaction(3)),
      Encode(SignedTransaction{SampleTransaction(AllEvents()[1], 5), {}})};
  std::mt19937_64 rng(0x5EED'CE27'1ED9'E700ULL);
  auto pick = [&](size_t n) { return n == 0 ? 0 : static_cast<size_t>(rng() % n); };
  int decoded_ok = 0;
  constexpr int kIterations = 20000;
  for (int iter = 0; iter < kIterations; ++iter) {
    const bool block = iter % 2 == 0;
    const auto& pool = block ? blocks : stxs;
    Bytes b = pool[pick(pool.size())];
    const size_t mutations = 1 + pick(3);
    for (size_t m = 0; m < mutations && !b.empty(); ++m) {
      switch (pick(7)) {
        case 0:  // flip one bit
          b[pick(b.size())] ^= static_cast<uint8_t>(1u << pick(8));
          break;
        case 1:  // random byte
          b[pick(b.size())] = static_cast<uint8_t>(rng());
          break;
        case 2:  // small value (enum, bool, version, count low byte)
          b[pick(b.size())] = static_cast<uint8_t>(pick(12));
          break;
        case 3:  // insert a byte
          b.insert(b.begin() + static_cast<ptrdiff_t>(pick(b.size() + 1)),
                   static_cast<uint8_t>(rng()));
          break;
        case 4:  // erase a byte
          b.erase(b.begin() + static_cast<ptrdiff_t>(pick(b.size())));
          break;
        case 5:  // truncate
          b.resize(pick(b.size()));
          break;
        default: {  // overwrite 4 bytes with a count-like value
          if (b.size() < 4) break;
          const size_t off = pick(b.size() - 3);
          const uint32_t v = pick(2) == 0 ? static_cast<uint32_t>(rng())
                                          : static_cast<uint32_t>(pick(b.size() + 2));
          b = WithU32(b, off, v);
          break;
        }
      }
    }
    SCOPED_TRACE("iteration " + std::to_string(iter));
    if (block) {
      FuzzOne<Block>(b, &decoded_ok);
    } else {
      FuzzOne<SignedTransaction>(b, &decoded_ok);
    }
    if (HasFatalFailure()) return;
  }
  // Both outcomes must occur, or the loop tests nothing.
  EXPECT_GT(decoded_ok, kIterations / 50);
  EXPECT_LT(decoded_ok, kIterations);
}

}  // namespace
}  // namespace certledger::ledger
