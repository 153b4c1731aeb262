// Offline status staples (docs/FORMAT.md §16): a compact binary record that proves the current
// state of the certificate a document belongs to, against a committed header, so that a
// verifier can check a document with no network: the document hash, the certificate's state
// record (cert/<base>) with its state-tree proof, and either the header with a compact commit
// (a bitmap of signers and their signatures: small validator sets) or a reference to a
// checkpoint, a committed header the verifier already holds (large validator sets: 27
// signatures of 64 bytes do not fit in one QR code). A staple expires.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "ledger/crypto.h"
#include "ledger/state.h"
#include "ledger/status.h"
#include "ledger/types.h"

namespace certledger::api {

// Largest staple the node makes with an embedded commit; above it, it refers to a checkpoint.
inline constexpr size_t kStapleEmbeddedMaxBytes = 2100;
// How long a staple is good for after its header's time, unless the verifier asks for less
// (expires_ms is not signed: verifiers never accept a staple past header time + this).
inline constexpr int64_t kStapleValidityMs = 24LL * 3600 * 1000;
// Checkpoints are the committed headers at heights that are multiples of this.
inline constexpr uint64_t kCheckpointInterval = 600;

struct Staple {
  enum class Anchor : uint8_t { kEmbedded = 1, kCheckpoint = 2 };
  ledger::Hash256 document_hash;
  int64_t expires_ms = 0;
  ledger::Bytes cert_value;  // the stored value of cert/<base>: a CertificateState encoding
  ledger::Bytes cert_proof;  // SmtProof encoding of cert/<base> under the header's state_root
  Anchor anchor = Anchor::kEmbedded;
  // kEmbedded:
  ledger::BlockHeader header;
  uint32_t round = 0;
  std::vector<uint8_t> signers;  // bitmap over the header's validator set, in set order
  std::vector<ledger::Signature> signatures;  // one per set bit, in set order
  // kCheckpoint:
  uint64_t checkpoint_height = 0;
  ledger::Hash256 checkpoint_block_id;

  [[nodiscard]] ledger::Bytes Encode() const;
  // Canonical encodings only; InvalidArgument "decode staple: <cause>".
  static ledger::Result<Staple> Decode(ledger::ByteSpan in);
};

// The staple for a certificate state proven under `header` (committed by `commit`, of the set
// `validators`): embedded if it fits kStapleEmbeddedMaxBytes, else anchored to `checkpoint`
// (the latest checkpoint header at or below the header, whose state proof `checkpoint_proof`
// and value `checkpoint_value` the caller passes; nullopt: no checkpoint yet, embedded anyway).
Staple MakeEmbeddedStaple(const ledger::Hash256& document_hash, const ledger::Bytes& cert_value,
                          const ledger::Bytes& cert_proof, const ledger::BlockHeader& header,
                          const ledger::CommitCertificate& commit,
                          const ledger::ValidatorSet& validators);

// What a verifier learns from a staple.
struct StapleFacts {
  std::string status;  // valid | superseded | suspended | revoked | expired (at now_ms)
  ledger::CertificateState cert;
  uint32_t version = 0;  // of the scanned document
  ledger::BlockHeader header;
  int64_t expires_ms = 0;
};

// Checks a staple offline: the commit (embedded: by more than 2/3 of `validators`, which must
// be the header's set) or the checkpoint (one of `checkpoints`, headers the caller verified),
// the state proof, that the certificate lists the document, and expiry (now_ms past
// min(expires_ms, header time + max_age_ms) refuses it). InvalidArgument naming the problem.
ledger::Result<StapleFacts> VerifyStaple(const Staple& staple, const ledger::ChainDomain& domain,
                                         const ledger::ValidatorSet& validators,
                                         const std::vector<ledger::BlockHeader>& checkpoints,
                                         int64_t now_ms, int64_t max_age_ms);

// Base45 (RFC 9285), the QR alphanumeric alphabet: 2 bytes -> 3 characters.
std::string Base45Encode(ledger::ByteSpan in);
std::optional<ledger::Bytes> Base45Decode(std::string_view in);

}  // namespace certledger::api
